package integration_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// Flood parameters: initiations a second (half of them garbage without
// mac1, half with the mac1 of the target's public key) and for how long.
const (
	floodRate    = 10000
	floodSeconds = 10
)

// TestRelayHandshakeFloodHelper is TestRelayHandshakeFlood's flooder, run
// by it in vm3's namespace (skipped otherwise): it sends initiations to
// MCAST_FLOOD_TARGET at floodRate for floodSeconds, half of them garbage
// and half made with a key of its own and the target's public key (so
// they pass mac1), counts the cookie replies it gets and prints the
// counts.
func TestRelayHandshakeFloodHelper(t *testing.T) {
	target := os.Getenv("MCAST_FLOOD_TARGET")
	if target == "" {
		t.Skip("run by TestRelayHandshakeFlood")
	}
	pub, err := crypto.ParsePublicKey(os.Getenv("MCAST_FLOOD_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	own, err := crypto.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	st := &crypto.Static{Key: own, Cipher: crypto.AES256GCM}
	var frames [][]byte
	for i := range 64 {
		_, msg, err := st.Initiate(pub, uint32(i+1))
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, crypto.AppendMACs(relayframe.AppendInit(nil, msg), relayframe.HeaderLen, pub, nil))
		garbage := make([]byte, relayframe.InitLen+2*relayframe.MACLen)
		rand.Read(garbage)
		frames = append(frames, append(relayframe.AppendInit(nil, nil), garbage...))
	}
	conn, err := net.Dial("udp", target)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var cookies atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, err := conn.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue // ICMP errors
			}
			if h, body, err := relayframe.ParseHeader(buf[:n]); err == nil && h.Type == relayframe.TypeCookie && len(body) == relayframe.CookieReplyLen {
				cookies.Add(1)
			}
		}
	}()
	fmt.Println("flooding")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for end := time.Now().Add(floodSeconds * time.Second); time.Now().Before(end); {
		<-tick.C
		for range floodRate / 100 {
			conn.Write(frames[sent%len(frames)])
			sent++
		}
	}
	conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond)) // the last replies in flight
	<-done
	fmt.Printf("flood sent %d cookies %d\n", sent, cookies.Load())
}

var floodDone = regexp.MustCompile(`flood sent (\d+) cookies (\d+)`)

// cpuSeconds is the CPU time (user and system) process pid has used.
func cpuSeconds(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100 // USER_HZ
}

// TestRelayHandshakeFlood: a host outside the mesh (vm3) floods vm2's
// relay with initiations, garbage and ones with a good mac1 (it knows
// vm2's public key). Garbage is dropped as handshake-mac; vm2 goes under
// load and answers the rest with cookie replies, which the flooder gets,
// instead of X25519. vm1's relay, started during the flood, gets a cookie
// reply, retries with mac2 and establishes its session, and a stream from
// vm1's LAN reaches vm2's. vm2's relay uses a bounded share of a CPU.
func TestRelayHandshakeFlood(t *testing.T) {
	rl := upRelayLab(t, 3)
	rl.nodes = []string{"vm1", "vm2"} // vm3 is only the flooder's host
	rl.startSecure("vm2", "group 239.1.1.1")
	r2 := rl.StartMcast("vm2", "recv", "--iface", "eth0", "--timeout", "60s", "239.1.1.1")
	rl.waitStatus("vm2", "its status", func(relay.Status) bool { return true })
	pid := relayPID(t, filepath.Join(rl.dir, "vm2.conf"))

	cpu0, t0 := cpuSeconds(t, pid), time.Now()
	flood := rl.Start("vm3", "env", "MCAST_FLOOD_TARGET=10.0.2.10:7474", "MCAST_FLOOD_KEY="+nodeKey("vm2").Public().String(),
		os.Args[0], "-test.run=^TestRelayHandshakeFloodHelper$", "-test.count=1", "-test.v")
	flood.WaitFor("flooding", 10*time.Second)
	rl.waitStatus("vm2", "under load", func(st relay.Status) bool { return st.Handshakes.UnderLoad })

	rl.startSecure("vm1", "group 239.1.1.1")
	rl.waitStatus("vm2", "vm1 up", func(st relay.Status) bool { return peerByName(st, "vm1").Up })
	st1 := rl.waitStatus("vm1", "vm2 up and wanting 239.1.1.1 after a cookie", func(st relay.Status) bool {
		return peerByName(st, "vm2").Up && peerWants(st, "vm2", "239.1.1.1") && st.Handshakes.CookieRepliesReceived > 0
	})
	if r := rl.Mcast("vm1", "send", "--iface", "eth0", "--count", "20", "--interval", "5ms", "239.1.1.1"); r.Code != 0 {
		t.Fatalf("sender on vm1: %s", r)
	}
	st2 := rl.waitStatus("vm2", "the stream emitted under load", func(st relay.Status) bool {
		return st.Emitted["239.1.1.1"] >= 20 && st.Handshakes.UnderLoad
	})

	res := flood.Wait()
	m := floodDone.FindStringSubmatch(res.Stdout)
	if res.Code != 0 || m == nil {
		t.Fatalf("flooder: %s", res)
	}
	cpu, wall := cpuSeconds(t, pid)-cpu0, time.Since(t0).Seconds()
	sent, _ := strconv.Atoi(m[1])
	cookies, _ := strconv.Atoi(m[2])
	st2, err := rl.status("vm2")
	if err != nil {
		t.Fatal(err)
	}
	h := st2.Handshakes
	t.Logf("flood: %d initiations in %ds, %d cookie replies received; vm2: %d read, %d cookie replies sent, drops handshake-mac %d handshake-load %d; CPU %.2fs in %.1fs (%.0f%%); vm1 received %d cookies",
		sent, floodSeconds, cookies, h.InitiationsRead, h.CookieRepliesSent, st2.Drops[relay.DropHandshakeMAC], st2.Drops[relay.DropHandshakeLoad], cpu, wall, 100*cpu/wall, st1.Handshakes.CookieRepliesReceived)
	if st2.Drops[relay.DropHandshakeMAC] < uint64(sent)/4 {
		t.Errorf("%d handshake-mac drops for %d garbage initiations", st2.Drops[relay.DropHandshakeMAC], sent/2)
	}
	if cookies < sent/8 || h.CookieRepliesSent < uint64(cookies) {
		t.Errorf("the flooder got %d cookie replies (vm2 sent %d) for %d initiations with mac1", cookies, h.CookieRepliesSent, sent/2)
	}
	// Without cookies every initiation with mac1 would cost X25519; under
	// load only those with mac2 do (the first handshakeLoad, vm1's).
	if h.InitiationsRead > 400 {
		t.Errorf("vm2 did public-key work for %d initiations", h.InitiationsRead)
	}
	if cpu > 0.5*wall {
		t.Errorf("vm2's relay used %.2f CPU seconds in %.1f s of flood", cpu, wall)
	}
	out := r2.Stop().Stdout
	if got := len(receivedLine.FindAllString(out, -1)); got < 20 {
		t.Errorf("vm2's LAN received %d datagrams of the stream, want 20:\n%s", got, out)
	}
}
