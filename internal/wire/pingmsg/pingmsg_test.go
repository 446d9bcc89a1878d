package pingmsg_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/wire/pingmsg"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	cid   = []byte("0123456789abcdefghijklmn") // 24 bytes, as omping's CLIENTID_LEN
	sid   = []byte("SESSION-ID-16byt")         // 16 bytes, as omping's SESSIONID_LEN
	grp4  = netip.MustParseAddr("232.43.211.234")
	grp6  = netip.MustParseAddr("ff3e::4321:1234")
	stamp = time.Unix(0x5f5e1000, 123456000)
)

// The vectors below are written byte by byte from omping 0.0.5's msg.c and
// tlv.c (msg_init_create, msg_query_create, msg_answer_create): a type
// letter, then TLVs of 16-bit type, 16-bit length, value.
const (
	cidHex = "30313233343536373839616263646566 6768696a6b6c6d6e"
	sidHex = "53455353494f4e2d49442d3136627974"
	// 'I', Version 2, Client ID, Multicast Prefix (AF 1, /32, 232.43.211.234)
	initHex = "49 0000 0001 02 0001 0018" + cidHex + "000a 0007 0001 20 e82bd3ea"
	// 'Q', Version, Client ID, Seq 7, Client Timestamp, Multicast Group, Session ID
	queryHex = "51 0000 0001 02 0001 0018" + cidHex + "0002 0004 00000007 0003 0008 5f5e1000 0001e240" +
		"0004 0006 0001 e82bd3ea 000b 0010" + sidHex
	// 'A', the query's TLVs but the Session ID, then TTL 64: 69 bytes, as omping prints
	answerHex = "41 0000 0001 02 0001 0018" + cidHex + "0002 0004 00000007 0003 0008 5f5e1000 0001e240" +
		"0004 0006 0001 e82bd3ea 0009 0001 40"
	// 'S', Version, Client ID, Multicast Group, Session ID
	responseHex = "53 0000 0001 02 0001 0018" + cidHex + "0004 0006 0001 e82bd3ea 000b 0010" + sidHex
	// ssmping 0.9.1 initsendbuf: 'Q', PID, Seq, Timestamp, Group (family byte 1)
	ssmQueryHex = "51 0001 0004 00003039 0002 0004 00000003 0003 0008 5f5e1000 0001e240 0004 0005 01 e82bd3ea"
)

func TestOmpingVectors(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"init", pingmsg.AppendInit(nil, cid, grp4, false, false), initHex},
		{"query", pingmsg.AppendQuery(nil, pingmsg.Query{ClientID: cid, Seq: 7, Time: stamp, Group: grp4, SessionID: sid}), queryHex},
		{"response", pingmsg.AppendResponse(nil, pingmsg.Response{ClientID: cid, Group: grp4, SessionID: sid}), responseHex},
		{"ssmping query", pingmsg.AppendSSMQuery(nil, pingmsg.SSMQuery{PID: 12345, Seq: 3, Time: stamp, Group: grp4}), ssmQueryHex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if want := unhex(t, tt.want); !bytes.Equal(tt.got, want) {
				t.Errorf("got  %x\nwant %x", tt.got, want)
			}
		})
	}
	ans, err := pingmsg.AppendAnswer(nil, unhex(t, queryHex), 64, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, answerHex); !bytes.Equal(ans, want) {
		t.Errorf("answer got  %x\nwant %x", ans, want)
	}
	if len(ans) != 69 {
		t.Errorf("answer is %d bytes, omping's is 69", len(ans))
	}
}

func TestDecodeOmping(t *testing.T) {
	m, err := pingmsg.Decode(unhex(t, answerHex))
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != 'A' || m.Version != 2 || !bytes.Equal(m.ClientID, cid) || !m.HasSeq || m.Seq != 7 ||
		!m.ClientTime.Equal(stamp) || m.Group != grp4 || !m.HasTTL || m.TTL != 64 || m.Skipped != 0 {
		t.Errorf("decoded %+v", m)
	}
	in, err := pingmsg.Decode(pingmsg.AppendInit(nil, cid, grp6, true, true))
	if err != nil {
		t.Fatal(err)
	}
	if !in.HasPrefix || in.Prefix != netip.PrefixFrom(grp6, 128) || !in.ReqServerInfo || !in.Caps {
		t.Errorf("init decoded %+v", in)
	}
	if pingmsg.Classify(unhex(t, queryHex)) != pingmsg.KindOmping || pingmsg.Classify(unhex(t, ssmQueryHex)) != pingmsg.KindSSMPing {
		t.Error("classify mixes up omping and ssmping queries")
	}
}

func TestView(t *testing.T) {
	view := []pingmsg.ViewEntry{
		{Peer: netip.MustParseAddr("10.0.0.2"), Sent: 10, UniRecv: 10, MultiRecv: 9, MultiFirst: 2},
		{Peer: netip.MustParseAddr("fd00::3"), Sent: 5, UniRecv: 5},
	}
	q := pingmsg.AppendQuery(nil, pingmsg.Query{ClientID: cid, Seq: 1, Time: stamp, Group: grp4, SessionID: sid, View: view, HasView: true})
	m, err := pingmsg.Decode(q)
	if err != nil || !m.HasView || len(m.View) != 2 || m.View[0] != view[0] || m.View[1] != view[1] {
		t.Fatalf("view round trip: %v %+v", err, m.View)
	}
	// The answer carries the answering host's view, not the querier's.
	mine := []pingmsg.ViewEntry{{Peer: netip.MustParseAddr("10.0.0.1"), Sent: 1, UniRecv: 1}}
	a, _ := pingmsg.AppendAnswer(nil, q, 64, stamp, mine)
	am, err := pingmsg.Decode(a)
	if err != nil || len(am.View) != 1 || am.View[0] != mine[0] {
		t.Fatalf("answer view: %v %+v", err, am.View)
	}
}

func TestHostile(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
		skipped int
	}{
		{"empty", "", true, 0},
		{"type only, no version", "41", true, 0},
		{"truncated TLV header", "41 0000 0001 02 00", true, 0},
		{"length past the end", "41 0000 0001 02 0001 ffff 00", true, 0},
		{"unknown TLV is skipped", "41 0000 0001 02 7777 0002 abcd", false, 1},
		{"bad seq length is skipped", "41 0000 0001 02 0002 0002 abcd", false, 1},
		{"bad group family", "41 0000 0001 02 0004 0006 0009 e82bd3ea", false, 1},
		{"prefix longer than address", "49 0000 0001 02 000a 0007 0001 40 e82bd3ea", false, 1},
		{"view with impossible counts", "41 0000 0001 02 4d44 0015 01 0a000002 00000001 00000009 00000000 00000000", false, 1},
		{"view cut short", "41 0000 0001 02 4d44 0005 01 0a000002", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := pingmsg.Decode(unhex(t, tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, pingmsg.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if err == nil && m.Skipped != tt.skipped {
				t.Errorf("skipped %d TLVs, want %d", m.Skipped, tt.skipped)
			}
		})
	}
	// Thousands of zero-length TLVs: more than MaxTLVs is refused.
	many := append([]byte{'A'}, bytes.Repeat([]byte{0x77, 0x77, 0, 0}, pingmsg.MaxTLVs+1)...)
	if _, err := pingmsg.Decode(many); err == nil {
		t.Error("a message of more than MaxTLVs TLVs was accepted")
	}
}

func TestSSMReply(t *testing.T) {
	q := pingmsg.AppendSSMQuery(nil, pingmsg.SSMQuery{PID: 1, Seq: 2, Time: stamp, ReqVersion: true, ReplySize: 200, Group: grp4})
	m, err := pingmsg.DecodeSSM(q)
	if err != nil {
		t.Fatal(err)
	}
	r := pingmsg.AppendSSMReply(nil, q, m, "mcast")
	if len(r) != 200 || r[0] != 'A' || !bytes.Equal(r[1:len(q)], q[1:]) {
		t.Fatalf("reply %d bytes: %x", len(r), r)
	}
	rm, err := pingmsg.DecodeSSM(r)
	if err != nil || string(rm.Version) != "mcast" || rm.PID != 1 || rm.Seq != 2 {
		t.Fatalf("reply decoded %v %+v", err, rm)
	}
	// A reply size past MaxReplySize is not honoured: no amplification.
	big := pingmsg.AppendSSMQuery(nil, pingmsg.SSMQuery{PID: 1, Seq: 2, Time: stamp, ReplySize: 65000})
	bm, _ := pingmsg.DecodeSSM(big)
	if r := pingmsg.AppendSSMReply(nil, big, bm, ""); len(r) != len(big) {
		t.Errorf("reply to a 65000-byte request is %d bytes, want %d", len(r), len(big))
	}
	for _, bad := range []string{"51 0001 0002 0000", "51 0004 0005 09 e82bd3ea", "51 0007 0001 00", "58"} {
		if _, err := pingmsg.DecodeSSM(unhex(t, bad)); err == nil {
			t.Errorf("DecodeSSM(%s) accepted", bad)
		}
	}
	if !pingmsg.SSMGroupOK(grp4) || !pingmsg.SSMGroupOK(grp6) || pingmsg.SSMGroupOK(netip.MustParseAddr("239.1.1.1")) {
		t.Error("SSMGroupOK")
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{initHex, queryHex, answerHex, responseHex, ssmQueryHex} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := pingmsg.Decode(b)
		if err == nil && m.Type == pingmsg.TypeQuery {
			a, err := pingmsg.AppendAnswer(nil, b, 64, time.Now(), m.View)
			if err != nil {
				t.Fatalf("answer to a decoded query: %v", err)
			}
			if _, err := pingmsg.Decode(a); err != nil {
				t.Fatalf("our answer does not decode: %v", err)
			}
		}
		_ = pingmsg.Classify(b)
	})
}

func FuzzDecodeSSM(f *testing.F) {
	f.Add(unhex(f, ssmQueryHex))
	f.Add(unhex(f, "51 0005 0000 0007 0002 0400"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := pingmsg.DecodeSSM(b)
		if err != nil {
			return
		}
		r := pingmsg.AppendSSMReply(nil, b, m, "v")
		if len(r) > len(b)+8+pingmsg.MaxReplySize {
			t.Fatalf("reply of %d bytes to %d", len(r), len(b))
		}
		if _, err := pingmsg.DecodeSSM(r); err != nil {
			t.Fatalf("our reply does not decode: %v", err)
		}
	})
}
