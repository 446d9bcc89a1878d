package watch_test

import (
	"context"
	"os"
	"testing"

	"github.com/mcasttools/mcast/internal/watch"
)

// Files written by the tools people capture with (see
// ../wire/pcapng/testdata/README.md) read the same: the pcapng files tshark
// and dumpcap write by default, with their interface name, and a tcpdump
// -s 60 capture whose datagrams keep their headers and wire lengths. Each
// counts the 23 datagrams of the stream and their 4,096 payload bytes.
func TestRunReadsToolFiles(t *testing.T) {
	for _, tt := range []struct{ file, iface string }{
		{"../wire/pcapng/testdata/tshark.pcapng", "eth0"},
		{"../wire/pcapng/testdata/dumpcap.pcapng", "eth0"},
		{"testdata/tcpdump-s60.pcap", ""},
	} {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			src, err := watch.NewFileSource(f, "")
			if err != nil {
				t.Fatal(err)
			}
			st := watch.NewState(watch.Config{})
			var joins []watch.Event
			err = watch.Run(context.Background(), src, st, watch.Options{Emit: func(e watch.Event) {
				if e.Group.String() == "239.1.2.3" && e.Kind != watch.KindRate {
					joins = append(joins, e)
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			gs := st.Groups()
			if len(gs) != 1 || gs[0].Group.String() != "239.1.2.3" || gs[0].Packets != 23 || gs[0].Bytes != 4096 || gs[0].Iface != tt.iface {
				t.Errorf("groups %+v, drops %v", gs, st.Drops())
			}
			if len(joins) == 0 || joins[0].Iface != tt.iface {
				t.Errorf("events for 239.1.2.3: %+v", joins)
			}
		})
	}
}
