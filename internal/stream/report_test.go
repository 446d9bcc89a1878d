package stream_test

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stream"
	"github.com/mcasttools/mcast/internal/wire/streamhdr"
)

// A stream whose tail was lost with its end markers: the sender's total is
// unknown, and the report says so instead of "0 lost".
func TestReportLossUnknownWithoutEndMarker(t *testing.T) {
	r := stream.NewReceiver(time.Unix(1700000000, 0), func(int) string { return "eth0" })
	for _, d := range batch(1, 0, 40) {
		r.Add(d)
	}
	rep := r.Snapshot("summary", time.Unix(1700000003, 0))
	if rep.Totals.LossUnknown != 1 || rep.Flows[0].LossKnown || rep.Flows[0].HighestSeq != 0 {
		t.Fatalf("loss taken as known: %+v %+v", rep.Totals, rep.Flows[0])
	}
	var b bytes.Buffer
	rep.WriteText(&b)
	for _, want := range []string{
		"1 received, loss unknown: no end marker arrived; at least 0 lost up to sequence 0,",
		"total: 1 received, loss unknown (no end marker arrived from 1 of 1 flows; at least 0 lost),",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "0 lost (0.00%)") {
		t.Errorf("report claims no loss:\n%s", b.String())
	}

	// Once the end marker arrives, the loss is known.
	end := streamhdr.Append(nil, streamhdr.Header{Flags: streamhdr.FlagEnd, TTL: 1, SenderID: 7, Seq: 5})
	r.Add(sock.Datagram{Payload: end, Src: netip.MustParseAddrPort("10.0.0.1:4000"), Dst: netip.MustParseAddr("239.1.1.1"), IfIndex: 2, At: time.Unix(1700000001, 0)})
	rep = r.Snapshot("summary", time.Unix(1700000003, 0))
	b.Reset()
	rep.WriteText(&b)
	if rep.Totals.LossUnknown != 0 || !rep.Flows[0].LossKnown || !strings.Contains(b.String(), "1 received, 4 lost (80.00%), sender sent 5,") {
		t.Errorf("with the end marker: %+v\n%s", rep.Totals, b.String())
	}
}
