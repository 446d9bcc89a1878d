package igmp_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/packet"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// Decode adds a message only to a whole IGMP or MLD packet of the right
// family, and verifies the MLD checksum over the pseudo-header.
func TestDecodeMessageOrNot(t *testing.T) {
	_, recs, err := pcap.ReadFile("testdata/lab-v3.pcap")
	if err != nil {
		t.Fatal(err)
	}
	igmpFrame, mldFrame := recs[1].Data, recs[6].Data // a v3 report, an MLDv2 report
	edit := func(b []byte, f func([]byte)) []byte {
		b = bytes.Clone(b)
		f(b)
		return b
	}
	tests := []struct {
		name    string
		frame   []byte
		msg     bool
		wantErr error
	}{
		{"IGMP", igmpFrame, true, nil},
		{"MLD", mldFrame, true, nil},
		{"IGMP, a later fragment", edit(igmpFrame, func(b []byte) { b[14+7] = 1 }), false, nil},
		{"MLD with a bad checksum", edit(mldFrame, func(b []byte) { b[len(b)-1] ^= 0xff }), false, igmp.ErrChecksum},
		{"IGMP with a bad checksum", edit(igmpFrame, func(b []byte) { b[len(b)-1] ^= 0xff }), false, igmp.ErrChecksum},
		{"UDP", edit(igmpFrame, func(b []byte) { b[14+9] = packet.ProtoUDP }), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := packet.DecodeEthernet(tt.frame)
			if err != nil {
				t.Fatal(err)
			}
			got, err := igmp.Decode(p)
			if (got.Msg != nil) != tt.msg || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("message %v, error %v; want message %v, error %v", got.Msg, err, tt.msg, tt.wantErr)
			}
			if got.Src != p.Src || got.Proto != p.Proto {
				t.Errorf("the packet changed: %+v", got.Packet)
			}
		})
	}
}
