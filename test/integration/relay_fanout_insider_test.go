package integration_test

import (
	"crypto/rand"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay"
	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// insiderSession runs a Noise handshake as vm5 with the relay of node
// over conn and returns the session.
func insiderSession(t *testing.T, conn *net.UDPConn, st *crypto.Static, node string) *crypto.Session {
	t.Helper()
	i, _ := strconv.Atoi(strings.TrimPrefix(node, "vm"))
	addr := &net.UDPAddr{IP: net.IPv4(10, 0, byte(i), 10), Port: 7474}
	var b [4]byte
	rand.Read(b[:])
	idx := binary.BigEndian.Uint32(b[:]) | 1
	in, msg, err := st.Initiate(nodeKey(node).Public(), idx)
	if err != nil {
		t.Fatal(err)
	}
	f := crypto.AppendMACs(relayframe.AppendInit(nil, msg), relayframe.HeaderLen, nodeKey(node).Public(), nil)
	conn.WriteTo(f, addr)
	buf := make([]byte, 2048)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		conn.SetReadDeadline(time.Now().Add(time.Second))
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			conn.WriteTo(f, addr) // lost: again
			continue
		}
		h, body, err := relayframe.ParseHeader(buf[:n])
		if err != nil || h.Type != relayframe.TypeResponse || h.Index != idx || !from.IP.Equal(addr.IP) {
			continue // the relay's own initiations to vm5, its hellos
		}
		m, err := relayframe.ParseHandshake(h, body)
		if err != nil {
			t.Fatal(err)
		}
		s, err := in.Finish(m.Msg, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Fatalf("no handshake response from %s", node)
	return nil
}

// handList encodes a Reflect header by hand, as the encoder refuses
// hostile lists.
func handList(origin uint32, targets ...uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, origin)
	b = binary.BigEndian.AppendUint16(b, uint16(len(targets)))
	for _, x := range targets {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return b
}

// TestRelayFanoutInsiderHelper is TestRelayFanoutInsider's insider, run
// by it in vm5's namespace (skipped otherwise). With vm5's own identity
// and sessions it sends: to C a record claiming D as its origin; to A
// fan-out frames with a list over the bound, a list naming vm5 (the
// origin), a list naming A itself, and a reflected frame asking for a
// second hop; and to both A and B one datagram of its own LAN with the
// same ID, each listing C, so that C gets it through two reflectors.
func TestRelayFanoutInsiderHelper(t *testing.T) {
	roles := strings.Split(os.Getenv("MCAST_FANOUT_ROLES"), ",")
	if len(roles) != 4 {
		t.Skip("run by TestRelayFanoutInsider")
	}
	a, b, c, d := roles[0], roles[1], roles[2], roles[3]
	dLAN := "10.0." + strings.TrimPrefix(d, "vm") + ".99:4000"
	mesh, err := os.ReadFile(os.Getenv("MCAST_FANOUT_MESH"))
	if err != nil {
		t.Fatal(err)
	}
	psk, err := crypto.DerivePSK(mesh, crypto.AES256GCM)
	if err != nil {
		t.Fatal(err)
	}
	st := &crypto.Static{Key: nodeKey("vm5"), Cipher: crypto.AES256GCM, PSK: psk}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 0, 5, 10), Port: 7474}) // where the relays answer vm5
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sessions := map[string]*crypto.Session{}
	for _, n := range roles[:3] {
		sessions[n] = insiderSession(t, conn, st, n)
	}
	id := func(n string) uint32 { return config.NodeID(n) }
	record := func(src string, dgram uint64, payload string) []byte {
		r := relayframe.Record{Kind: relayframe.KindDatagram, TTL: 8, ID: dgram, Src: netip.MustParseAddrPort(src),
			Dst: netip.MustParseAddrPort("239.1.1.1:5001"), Payload: []byte(payload)}
		out, _ := relayframe.AppendRecord(nil, &r)
		return out
	}
	send := func(to string, body []byte) {
		f, _ := sessions[to].Seal(nil, relayframe.TypeReflect, body)
		i, _ := strconv.Atoi(strings.TrimPrefix(to, "vm"))
		if _, err := conn.WriteTo(f, &net.UDPAddr{IP: net.IPv4(10, 0, byte(i), 10), Port: 7474}); err != nil {
			t.Fatal(err)
		}
	}
	now := uint64(time.Now().UnixNano())
	// A forged origin: D's LAN's address, D named as origin.
	send(c, append(handList(id(d)), record(dLAN, now, "forged origin")...))
	long := make([]uint32, relayframe.MaxTargets+1)
	for i := range long {
		long[i] = uint32(i + 1)
	}
	send(a, append(handList(id("vm5"), long...), record("10.0.5.20:4000", now+1, "long list")...))
	send(a, append(handList(id("vm5"), id(c), id("vm5")), record("10.0.5.20:4000", now+2, "list naming the origin")...))
	send(a, append(handList(id("vm5"), id(a)), record("10.0.5.20:4000", now+3, "list naming the reflector")...))
	send(a, append(handList(id(d), id(c)), record(dLAN, now+4, "second hop")...))
	// One datagram through two reflectors.
	both := append(handList(id("vm5"), id(c)), record("10.0.5.20:4000", now+5, "through two reflectors")...)
	send(a, both)
	send(b, both)
	t.Logf("sent the hostile frames to %s and %s, and one datagram through %s and %s to %s", c, a, a, b, c)
}

// TestRelayFanoutInsider: vm5 is an insider with its own identity, its
// relay not running, the relays vm1..vm4 with `fanout 1` all wanting
// 239.1.1.1. A and B are the relays ranked first for vm5's datagrams of
// the group, C the next. What the insider sends through the fan-out (see
// TestRelayFanoutInsiderHelper) is refused and counted, and the one
// datagram it sends through two reflectors reaches C's LAN once.
func TestRelayFanoutInsider(t *testing.T) {
	rl := upRelayLab(t, 5)
	const group = "239.1.1.1"
	relays := rl.nodes[:4]
	for _, n := range relays {
		rl.startSecure(n, "group "+group, "fanout 1")
		rl.StartMcast(n, "recv", "--iface", "eth0", "--timeout", "60s", group)
	}
	rl.allUpWanting(relays, relays, group)
	ranked := rankedNodes("vm5", relays, group)
	a, b, c, d := ranked[0], ranked[1], ranked[2], ranked[3]
	helper := exec.Command("ip", "netns", "exec", rl.Name+"-vm5", os.Args[0], "-test.run=^TestRelayFanoutInsiderHelper$", "-test.count=1", "-test.v")
	helper.Env = append(os.Environ(), "MCAST_FANOUT_ROLES="+strings.Join(ranked, ","), "MCAST_FANOUT_MESH="+filepath.Join(rl.dir, "key"))
	if out, err := helper.CombinedOutput(); err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("insider helper: %v\n%s", err, out)
	}
	stA := rl.waitStatus(a, "the bad lists and the second hop refused, the datagram passed on", func(st relay.Status) bool {
		return st.Drops[relay.DropReflectList] >= 3 && st.Drops[relay.DropReflectHop] >= 1 && st.ReflectorFrames >= 1
	})
	stC := rl.waitStatus(c, "the forged origin refused, the second copy a duplicate", func(st relay.Status) bool {
		return st.Drops[relay.DropReflectNotChosen] >= 1 && st.Drops[relay.DropDuplicate] >= 1
	})
	stB, _ := rl.status(b)
	stD, _ := rl.status(d)
	for _, x := range []struct {
		name string
		st   relay.Status
		want uint64
	}{{a, stA, 1}, {b, stB, 1}, {c, stC, 1}, {d, stD, 0}} {
		if got := x.st.Emitted[group]; got != x.want {
			t.Errorf("%s re-emitted %d datagrams, want %d", x.name, got, x.want)
		}
	}
	if v := peerByName(stC, "vm5").ReflectedVia; v != 2 {
		t.Errorf("%s got %d of vm5's records through reflectors, want 2 (one a duplicate)", c, v)
	}
	t.Logf("reflector %s drops %v; target %s drops %v", a, nonZero(stA.Drops), c, nonZero(stC.Drops))
}
