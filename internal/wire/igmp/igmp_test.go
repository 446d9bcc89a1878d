package igmp_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/packet"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// summary renders a packet compactly for comparison.
func summary(p igmp.Packet) string {
	switch {
	case p.Msg != nil:
		m := p.Msg
		s := fmt.Sprintf("%s %s v%d %s", p.Src, m.Proto, m.Version, m.Kind)
		if m.Kind == igmp.Query {
			s += fmt.Sprintf(" group=%s maxresp=%s", m.Group, m.MaxResp)
			if m.Version == 3 || (m.Proto == igmp.MLD && m.Version == 2) {
				s += fmt.Sprintf(" qrv=%d qqi=%s", m.QRV, m.QQI)
			}
		} else if len(m.Records) == 0 {
			s += " " + m.Group.String()
		}
		for _, r := range m.Records {
			s += fmt.Sprintf(" [%s %s %v]", r.Type, r.Group, r.Sources)
		}
		if !p.RouterAlert {
			s += " no-RA"
		}
		return s
	case p.UDP != nil:
		return fmt.Sprintf("%s:%d > %s:%d udp %d", p.Src, p.UDP.SrcPort, p.Dst, p.UDP.DstPort, p.UDP.Len)
	}
	return fmt.Sprintf("%s > %s proto %d", p.Src, p.Dst, p.Proto)
}

// decodeEthernet decodes an Ethernet frame and the IGMP or MLD message it
// carries.
func decodeEthernet(b []byte) (igmp.Packet, error) {
	return igmp.DecodeFrame(packet.Frame{LinkType: pcap.LinkEthernet, Data: b})
}

func decodeFile(t *testing.T, name string) []string {
	t.Helper()
	_, recs, err := pcap.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rec := range recs {
		p, err := decodeEthernet(rec.Data)
		if err != nil {
			t.Fatalf("record %d: %v", len(out)+1, err)
		}
		out = append(out, summary(p))
	}
	return out
}

// The captures were made with tcpdump -w on lab node n1 (see testdata/README).
func TestDecodeLabCaptures(t *testing.T) {
	tests := []struct {
		file string
		want []string // by index; "" skips
	}{
		{"testdata/lab-v3.pcap", []string{
			1:  "10.0.0.2 igmp v3 report [TO_EX 239.1.1.1 []]",
			3:  "10.0.0.2 igmp v3 report [TO_IN 239.1.1.1 []]",
			5:  "10.0.0.2 igmp v3 report [TO_EX 239.5.5.5 [10.0.0.9]] [TO_EX 239.0.0.100 []] [ALLOW 232.1.1.1 [10.0.0.1 10.0.0.3]]",
			6:  "fe80::d8ad:f5ff:fece:963d mld v2 report [ALLOW ff3e::8000:1 [fd00::1]] [TO_EX ff0e::1:2 []]",
			9:  "10.0.0.2 igmp v3 report [TO_IN 239.5.5.5 []] [TO_IN 239.0.0.100 []] [BLOCK 232.1.1.1 [10.0.0.3 10.0.0.1]]",
			10: "fe80::d8ad:f5ff:fece:963d mld v2 report [BLOCK ff3e::8000:1 [fd00::1]] [TO_IN ff0e::1:2 []]",
			12: "fe80::d884:72ff:fe72:5132 mld v2 query group=:: maxresp=10s qrv=2 qqi=4s",
			13: "0.0.0.0 igmp v3 query group=0.0.0.0 maxresp=10s qrv=2 qqi=4s",
			17: "0.0.0.0 igmp v3 report [IS_EX 224.0.0.106 []]",
		}},
		{"testdata/lab-v2-fallback-querier.pcap", []string{
			1:  "10.0.0.2 igmp v2 report 239.1.1.1",
			2:  "10.0.0.2 igmp v2 leave 239.1.1.1",
			5:  "fe80::7437:37ff:feff:260d mld v1 report ff0e::1:2",
			15: "fe80::7437:37ff:feff:260d mld v1 leave ff3e::8000:1",
			16: "10.0.0.2:45170 > 239.9.9.9:5000 udp 9",
			19: "fe80::bc3c:21ff:fece:4f8e mld v2 query group=:: maxresp=10s qrv=2 qqi=4s",
			20: "0.0.0.0 igmp v3 query group=0.0.0.0 maxresp=10s qrv=2 qqi=4s",
			25: "10.0.0.254 igmp v2 report 224.0.0.106",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := decodeFile(t, tt.file)
			for i, w := range tt.want {
				if w == "" {
					continue
				}
				if i >= len(got) {
					t.Fatalf("only %d packets", len(got))
				}
				if got[i] != w {
					t.Errorf("packet %d:\n got %s\nwant %s", i, got[i], w)
				}
			}
		})
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// fix sets a correct IGMP checksum in b.
// ipHeaderChecksum sets the checksum of the IPv4 header h.
func ipHeaderChecksum(h []byte) []byte {
	h[10], h[11] = 0, 0
	c := packet.Checksum(h, 0)
	h[10], h[11] = byte(c>>8), byte(c)
	return h
}

func fix(b []byte) []byte {
	b[2], b[3] = 0, 0
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	c := ^uint16(sum)
	b[2], b[3] = byte(c>>8), byte(c)
	return b
}

func TestParseIGMP(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string // fmt of selected fields, or error substring with "ERR "
	}{
		{"v1 query", fix(mustHex("11 00 0000 00000000")), "v1 query 0.0.0.0 0s"},
		{"v2 query 10s", fix(mustHex("11 64 0000 00000000")), "v2 query 0.0.0.0 10s"},
		{"v2 group query", fix(mustHex("11 0a 0000 ef010101")), "v2 query 239.1.1.1 1s"},
		{"v3 query exp code", fix(mustHex("11 8f 0000 00000000 02 7d 0000")), "v3 query 0.0.0.0 24.8s qrv=2 qqi=2m5s"},
		{"v3 group-source query", fix(mustHex("11 64 0000 e8010101 0a 7d 0001 0a000001")), "v3 query 232.1.1.1 10s qrv=2 qqi=2m5s src=[10.0.0.1] S"},
		{"v1 report", fix(mustHex("12 00 0000 ef000064")), "v1 report 239.0.0.100 0s"},
		{"v2 leave", fix(mustHex("17 00 0000 ef000064")), "v2 leave 239.0.0.100 0s"},
		{"v3 report aux", fix(mustHex("22 00 0000 0000 0001 05 01 0001 e8010101 0a000001 deadbeef")), "v3 report invalid IP 0s recs=[{ALLOW 232.1.1.1 [10.0.0.1]}]"},
		{"short", mustHex("11 00 00"), "ERR truncated"},
		{"bad checksum", mustHex("11 00 1234 00000000"), "ERR bad checksum"},
		{"unknown type", fix(mustHex("99 00 0000 00000000")), "ERR unknown message type"},
		{"v3 query lying source count", fix(mustHex("11 64 0000 00000000 02 7d 00ff")), "ERR truncated"},
		{"v3 report lying record count", fix(mustHex("22 00 0000 0000 ffff")), "ERR truncated"},
		{"v3 report lying source count", fix(mustHex("22 00 0000 0000 0001 01 00 0009 e8010101")), "ERR truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := igmp.ParseIGMP(tt.in)
			if got := describe(m, err); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func describe(m igmp.Message, err error) string {
	if err != nil {
		for _, e := range []error{igmp.ErrTruncated, igmp.ErrChecksum, igmp.ErrType} {
			if errors.Is(err, e) {
				return "ERR " + e.Error()
			}
		}
		return "ERR " + err.Error()
	}
	s := fmt.Sprintf("v%d %s %s %s", m.Version, m.Kind, m.Group, m.MaxResp)
	if m.QQI != 0 {
		s += fmt.Sprintf(" qrv=%d qqi=%s", m.QRV, m.QQI)
	}
	if len(m.Sources) > 0 {
		s += fmt.Sprintf(" src=%v", m.Sources)
	}
	if m.SFlag {
		s += " S"
	}
	if len(m.Records) > 0 {
		s += fmt.Sprintf(" recs=%v", m.Records)
	}
	return s
}

func TestParseMLD(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"v1 query", mustHex("82 00 0000 2710 0000 00000000000000000000000000000000"), "v1 query :: 10s"},
		{"v1 report", mustHex("83 00 0000 0000 0000 ff0e0000000000000000000000010002"), "v1 report ff0e::1:2 0s"},
		{"v1 done", mustHex("84 00 0000 0000 0000 ff0e0000000000000000000000010002"), "v1 leave ff0e::1:2 0s"},
		{"v2 query exp", mustHex("82 00 0000 8000 0000 00000000000000000000000000000000 02 7d 0000"), "v2 query :: 32.768s qrv=2 qqi=2m5s"},
		{"v2 report", mustHex("8f 00 0000 0000 0001 03 00 0000 ff0e0000000000000000000000010002"), "v2 report invalid IP 0s recs=[{TO_IN ff0e::1:2 []}]"},
		{"short v1", mustHex("83 00 0000 0000 0000 ff0e"), "ERR truncated"},
		{"v2 query lying", mustHex("82 00 0000 8000 0000 00000000000000000000000000000000 02 7d 0005"), "ERR truncated"},
		{"not MLD", mustHex("80 00 0000 0000 0000"), "ERR unknown message type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := igmp.ParseMLD(tt.in)
			if got := describe(m, err); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestDecodeBad(t *testing.T) {
	good := mustHex("01005e000016 aabbccddeeff 0800 46c00028000040000102 0000 0a000002 e0000016 94040000" +
		"2200 0000 0000 0001 04000000 ef010101")
	fix(good[38:])
	ipHeaderChecksum(good[14:38])
	if _, err := decodeEthernet(good); err != nil {
		t.Fatalf("good frame: %v", err)
	}
	for n := 0; n < len(good); n++ {
		if _, err := decodeEthernet(good[:n]); err == nil {
			t.Errorf("frame cut to %d bytes: no error", n)
		}
	}
	if _, err := decodeEthernet(mustHex("ffffffffffff aabbccddeeff 0806 0001")); !errors.Is(err, packet.ErrNotIP) {
		t.Errorf("ARP: %v, want ErrNotIP", err)
	}
	if _, err := igmp.DecodeIP(nil); err == nil {
		t.Error("empty IP: no error")
	}
}

func TestMessageGeneral(t *testing.T) {
	m, err := igmp.ParseIGMP(fix(mustHex("11 64 0000 00000000")))
	if err != nil || !m.General() {
		t.Errorf("general query: General()=%v err=%v", m.General(), err)
	}
	if d := cmp.Diff("TO_EX", igmp.ChangeToExclude.String()); d != "" {
		t.Error(d)
	}
	if igmp.RecordType(9).String() != "TYPE_9" {
		t.Error(igmp.RecordType(9).String())
	}
	_ = time.Second
}
