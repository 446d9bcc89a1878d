package pingmsg_test

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/wire/pingmsg"
)

// Datagrams captured (tcpdump on n1's eth0) in a lab where the real omping
// 0.0.5 ran on n1 and mcast ping on n2 and n3, IPv4 (10.0.0.1-3) and IPv6
// (fd00::1-3), see "Checked against the real omping" in docs/ping.md.
// The omping* vectors were sent by omping; mcast* ones by mcast ping.
const (
	// omping n1 -> n2: Init, Client ID (pid, 10.0.0.1, random), Multicast Prefix 232.43.211.234/32
	ompingInit4 = "49 0000 0001 02 0001 0018 35610000 0a000001 e966114fc93219cbdf4e752c42891001 000a 0007 0001 20 e82bd3ea"
	// omping n1 -> n2: Response to mcast's Init: n2's Client ID, Multicast Group, Session ID
	ompingResponse4 = "53 0000 0001 02 0001 0018 5e0f3a4e 00000000000000000000ffff0a000002 4559aeb4" +
		"0004 0006 0001 e82bd3ea 000b 0010 35610000d0bcb086ffa70675b850c917"
	// omping n1 -> n2: Query seq 1
	ompingQuery4 = "51 0000 0001 02 0001 0018 35610000 0a000001 e966114fc93219cbdf4e752c42891001" +
		"0002 0004 00000001 0003 0008 6b023885 000c602b 0004 0006 0001 e82bd3ea 000b 0010 588f995a800cd4bea27f7721cbd513f8"
	// mcast n2 -> n1: the Answer to ompingQuery4, which omping counted (10/10/0%)
	mcastAnswer4 = "41 0000 0001 02 0001 0018 35610000 0a000001 e966114fc93219cbdf4e752c42891001" +
		"0002 0004 00000001 0003 0008 6b023885 000c602b 0004 0006 0001 e82bd3ea 0009 0001 40"

	// omping n1 -> n2: Init with Multicast Prefix ff3e::4321:1234/128
	ompingInit6 = "49 0000 0001 02 0001 0018 9d610000 fd000000000000000000000000000001 c88b2ccb" +
		"000a 0013 0002 80 ff3e0000000000000000000043211234"
	// omping n1 -> n2: Response to mcast's Init
	ompingResponse6 = "53 0000 0001 02 0001 0018 082fa239 fd000000000000000000000000000002 6163e722" +
		"0004 0012 0002 ff3e0000000000000000000043211234 000b 0010 9d61000045f1597c0b1e03492f4ba410"
	// mcast n2 -> n1: Query seq 1
	mcastQuery6 = "51 0000 0001 02 0001 0018 082fa239 fd000000000000000000000000000002 6163e722" +
		"0002 0004 00000001 0003 0008 6b023895 00050b00 0004 0012 0002 ff3e0000000000000000000043211234" +
		"000b 0010 9d61000045f1597c0b1e03492f4ba410"
	// omping n1 -> n2: its Answer to mcastQuery6
	ompingAnswer6 = "41 0000 0001 02 0001 0018 082fa239 fd000000000000000000000000000002 6163e722" +
		"0002 0004 00000001 0003 0008 6b023895 00050b00 0004 0012 0002 ff3e0000000000000000000043211234" +
		"0009 0001 40"
)

// TestCapturedAnswers builds answers from captured queries with AppendAnswer
// and compares them byte by byte with what went on the wire: mcast's answer
// to a real omping query, and real omping's answer to an mcast query.
func TestCapturedAnswers(t *testing.T) {
	tests := []struct {
		name, query, answer string
	}{
		{"mcast answers omping, IPv4", ompingQuery4, mcastAnswer4},
		{"omping answers mcast, IPv6", mcastQuery6, ompingAnswer6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pingmsg.AppendAnswer(nil, unhex(t, tt.query), 64, time.Time{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.answer); !bytes.Equal(got, want) {
				t.Fatalf("answer\n got %x\nwant %x", got, want)
			}
		})
	}
}

// TestCapturedDecode decodes every captured omping datagram: all TLVs known,
// the fields as omping meant them.
func TestCapturedDecode(t *testing.T) {
	g4, g6 := netip.MustParseAddr("232.43.211.234"), netip.MustParseAddr("ff3e::4321:1234")
	tests := []struct {
		name, hex  string
		typ        byte
		seq        uint32
		group      netip.Addr
		prefix     netip.Prefix
		session    bool
		ttl        bool
		clientTime bool
	}{
		{"init4", ompingInit4, pingmsg.TypeInit, 0, netip.Addr{}, netip.PrefixFrom(g4, 32), false, false, false},
		{"response4", ompingResponse4, pingmsg.TypeResponse, 0, g4, netip.Prefix{}, true, false, false},
		{"query4", ompingQuery4, pingmsg.TypeQuery, 1, g4, netip.Prefix{}, true, false, true},
		{"answer4", mcastAnswer4, pingmsg.TypeAnswer, 1, g4, netip.Prefix{}, false, true, true},
		{"init6", ompingInit6, pingmsg.TypeInit, 0, netip.Addr{}, netip.PrefixFrom(g6, 128), false, false, false},
		{"response6", ompingResponse6, pingmsg.TypeResponse, 0, g6, netip.Prefix{}, true, false, false},
		{"query6", mcastQuery6, pingmsg.TypeQuery, 1, g6, netip.Prefix{}, true, false, true},
		{"answer6", ompingAnswer6, pingmsg.TypeAnswer, 1, g6, netip.Prefix{}, false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := pingmsg.Decode(unhex(t, tt.hex))
			if err != nil {
				t.Fatal(err)
			}
			if m.Type != tt.typ || m.Version != 2 || m.Skipped != 0 || len(m.ClientID) != 24 {
				t.Fatalf("type %c version %d skipped %d client ID %d bytes", m.Type, m.Version, m.Skipped, len(m.ClientID))
			}
			if m.HasSeq != (tt.seq != 0) || m.Seq != tt.seq {
				t.Errorf("seq %d (set %v), want %d", m.Seq, m.HasSeq, tt.seq)
			}
			if m.Group != tt.group {
				t.Errorf("group %v, want %v", m.Group, tt.group)
			}
			if m.HasPrefix != tt.prefix.IsValid() || (tt.prefix.IsValid() && m.Prefix != tt.prefix) {
				t.Errorf("prefix %v (set %v), want %v", m.Prefix, m.HasPrefix, tt.prefix)
			}
			if (len(m.SessionID) == 16) != tt.session {
				t.Errorf("session ID %x", m.SessionID)
			}
			if m.HasTTL != tt.ttl || (tt.ttl && m.TTL != 64) {
				t.Errorf("TTL %d (set %v)", m.TTL, m.HasTTL)
			}
			if m.ClientTime.IsZero() == tt.clientTime {
				t.Errorf("client time %v", m.ClientTime)
			}
		})
	}
}
