package igmp_test

import (
	"testing"

	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/packet"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// FuzzDecodeFrame: any bytes, as a frame of every link type the decoder
// reads and as a bare IGMP or MLD message, decode to a message of the right
// family or to an error, never a panic.
func FuzzDecodeFrame(f *testing.F) {
	for _, name := range []string{"testdata/lab-v3.pcap", "testdata/lab-v2-fallback-querier.pcap", "testdata/hostile.pcap"} {
		_, recs, err := pcap.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, r := range recs {
			f.Add(r.Data, uint8(0))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, link uint8) {
		lt := []uint32{pcap.LinkEthernet, pcap.LinkRaw, pcap.LinkLinuxSLL}[int(link)%3]
		p, err := igmp.DecodeFrame(packet.Frame{LinkType: lt, Data: b})
		if err == nil && p.Msg != nil {
			if want := map[bool]igmp.Proto{true: igmp.IGMP, false: igmp.MLD}[p.Src.Is4()]; p.Msg.Proto != want || p.Fragment {
				t.Fatalf("%s message from %s (fragment %v)", p.Msg.Proto, p.Src, p.Fragment)
			}
		}
		_, _ = igmp.DecodeIP(b)
		_, _ = igmp.ParseIGMP(b)
		_, _ = igmp.ParseMLD(b)
	})
}
