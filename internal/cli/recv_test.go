package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/origin"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stream"
	"github.com/mcasttools/mcast/internal/wire/streamhdr"
)

// received is one datagram with the mcast header and the text "message 3",
// as a receive on eth0 classified it.
func received(t *testing.T) *stream.Event {
	p := streamhdr.Append(nil, streamhdr.Header{TTL: 1, SenderID: 9, Seq: 3, SentNs: time.Unix(1700000000, 0).UnixNano()})
	p = append(p, "message 3"...)
	r := stream.NewReceiver(time.Unix(1700000000, 0), func(int) string { return "eth0" })
	ev := r.Add(sock.Datagram{Payload: p, Src: netip.MustParseAddrPort("10.0.0.1:4000"), Dst: netip.MustParseAddr("239.1.1.1"),
		IfIndex: 2, TTL: 1, At: time.Unix(1700000000, 2e6)})
	if ev.Kind != stream.KindInOrder {
		t.Fatalf("kind %s", ev.Kind)
	}
	return &ev
}

// A shown datagram is one line; it first clears the terminal's status line.
func TestRecvViewLine(t *testing.T) {
	var b bytes.Buffer
	out := bufio.NewWriter(&b)
	v := &recvView{out: out, enc: json.NewEncoder(out), statusShown: true}
	v.Datagram(received(t), &stream.NIC{Name: "eth0"}, origin.WireSelf)
	out.Flush()
	want := "\r\x1b[Kreceived: message 3 from 10.0.0.1:4000 on eth0 [wire, from this host]\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// With --json-events a datagram is an object with its path; an end marker
// (no NIC) has none.
func TestRecvViewJSONEvents(t *testing.T) {
	var b bytes.Buffer
	out := bufio.NewWriter(&b)
	v := &recvView{out: out, enc: json.NewEncoder(out), jsonEvents: true}
	ev := received(t)
	v.Datagram(ev, &stream.NIC{Name: "eth0"}, origin.Loopback)
	ev.Kind = stream.KindEnd
	v.Datagram(ev, nil, origin.Wire)
	out.Flush()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %q", len(lines), b.String())
	}
	var first, end map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &end); err != nil {
		t.Fatal(err)
	}
	if first["path"] != "loopback copy" || first["text"] != "message 3" || first["seq"] != 3.0 || first["iface"] != "eth0" {
		t.Errorf("datagram event %v", first)
	}
	if _, ok := end["path"]; ok || end["class"] != "end" {
		t.Errorf("end marker event %v", end)
	}
}

// --max-loss does not pass when the loss is unknown: no end marker arrived,
// or nothing with the mcast header arrived at all; --expect's failure says
// the loss is unknown rather than "lost 0".
func TestVerdictLossUnknown(t *testing.T) {
	unknown := stream.Totals{Received: 1, Expected: 1, Flows: 1, LossUnknown: 1}
	err := verdict(unknown, 0, 1, true)
	if err == nil || !strings.Contains(err.Error(), "loss unknown: no end marker arrived from 1 of 1 flows") {
		t.Errorf("--max-loss on an unknown loss: %v", err)
	}
	if err := verdict(stream.Totals{}, 0, 1, true); err == nil || !strings.Contains(err.Error(), "loss unknown") {
		t.Errorf("--max-loss with nothing received: %v", err)
	}
	err = verdict(unknown, 5, 0, false)
	if err == nil || !strings.Contains(err.Error(), "expected 5 datagrams, received 1 (loss unknown") {
		t.Errorf("--expect on an unknown loss: %v", err)
	}
	if err := verdict(stream.Totals{Received: 5, Expected: 5, Flows: 1}, 5, 1, true); err != nil {
		t.Errorf("known, complete stream: %v", err)
	}
}
