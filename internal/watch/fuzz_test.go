package watch_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/watch"
	"github.com/mcasttools/mcast/internal/wire/packet"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// FuzzState feeds arbitrary frames, of every link type watch reads, through
// decoding and the segment state: hostile packets are dropped, never a panic.
func FuzzState(f *testing.F) {
	_, recs, err := pcap.ReadFile("testdata/lab-v3.pcap")
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range recs {
		f.Add(r.Data, uint8(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, link uint8) {
		lt := []uint32{pcap.LinkEthernet, pcap.LinkRaw, pcap.LinkLinuxSLL}[int(link)%3]
		src := &sliceSource{frames: []packet.Frame{{Time: t0, LinkType: lt, Data: b}, {Time: t0.Add(1e9), LinkType: lt, Data: b}}}
		st := watch.NewState(watch.Config{ReportInterval: 500 * time.Millisecond})
		st.SetJoined(nil)
		if err := watch.Run(context.Background(), src, st, watch.Options{}); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		st.Tick(t0.Add(1e12))
		st.ReportsUntil(t0.Add(1e12))
		st.Report(t0.Add(2e12))
		st.Groups()
	})
}
