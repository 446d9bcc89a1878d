package relayframe_test

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

func TestHeaderRoundTrip(t *testing.T) {
	h := relayframe.Header{Type: relayframe.TypeData, Index: 0xdeadbeef, Seq: 1<<63 + 5}
	b := relayframe.AppendHeader(nil, h)
	b = append(b, "body"...)
	got, body, err := relayframe.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != h || string(body) != "body" {
		t.Fatalf("got %+v %q, want %+v body", got, body, h)
	}
}

func TestParseHeaderErrors(t *testing.T) {
	good := relayframe.AppendHeader(nil, relayframe.Header{Type: relayframe.TypeHello, Index: 1, Seq: 2})
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, relayframe.ErrShort},
		{"short", good[:15], relayframe.ErrShort},
		{"magic", append([]byte("XR"), good[2:]...), relayframe.ErrMagic},
		{"version", append([]byte{'M', 'R', 9}, good[3:]...), relayframe.ErrVersion},
		{"type", append([]byte{'M', 'R', relayframe.Version, 7}, good[4:]...), relayframe.ErrType},
		{"version 1 (the mesh-wide key's frames)", append([]byte{'M', 'R', 1}, good[3:]...), relayframe.ErrVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := relayframe.ParseHeader(tt.b); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRecordRoundTrip(t *testing.T) {
	tests := []relayframe.Record{
		{Kind: relayframe.KindDatagram, TTL: 1, IPID: 0xbeef, ID: 7, Src: netip.MustParseAddrPort("10.0.1.10:40000"), Dst: netip.MustParseAddrPort("239.1.1.1:28000"), Payload: []byte("message 0")},
		{Kind: relayframe.KindDatagram, TTL: 64, ID: 8, Broadcast: true, Src: netip.MustParseAddrPort("10.0.1.10:5000"), Dst: netip.MustParseAddrPort("255.255.255.255:5000"), Payload: []byte{}},
		{Kind: relayframe.KindDatagram, TTL: 5, ID: 9, Src: netip.MustParseAddrPort("[fd00:1::10]:1"), Dst: netip.MustParseAddrPort("[ff15::1]:2"), Payload: bytes.Repeat([]byte{0xab}, 1400)},
		{Kind: relayframe.KindFragment, TTL: 1, ID: 10, Src: netip.MustParseAddrPort("10.0.1.10:1"), Dst: netip.MustParseAddrPort("239.1.1.1:2"), FragIndex: 2, FragCount: 3, Payload: []byte("piece")},
	}
	var frame []byte
	for i := range tests {
		var err error
		frame, err = relayframe.AppendRecord(frame, &tests[i])
		if err != nil {
			t.Fatal(err)
		}
	}
	if want := tests[0].Len() + tests[1].Len() + tests[2].Len() + tests[3].Len(); len(frame) != want {
		t.Fatalf("encoded %d bytes, Len says %d", len(frame), want)
	}
	rest := frame
	for i, want := range tests {
		var got relayframe.Record
		var err error
		got, rest, err = relayframe.ParseRecord(rest)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left", len(rest))
	}
}

func TestAppendRecordRejects(t *testing.T) {
	tests := []struct {
		name string
		r    relayframe.Record
	}{
		{"mixed families", relayframe.Record{Kind: 1, Src: netip.MustParseAddrPort("10.0.0.1:1"), Dst: netip.MustParseAddrPort("[ff15::1]:1")}},
		{"no source", relayframe.Record{Kind: 1, Dst: netip.MustParseAddrPort("239.0.0.1:1")}},
		{"bad kind", relayframe.Record{Kind: 9, Src: netip.MustParseAddrPort("10.0.0.1:1"), Dst: netip.MustParseAddrPort("239.0.0.1:1")}},
		{"too big", relayframe.Record{Kind: 1, Src: netip.MustParseAddrPort("10.0.0.1:1"), Dst: netip.MustParseAddrPort("239.0.0.1:1"), Payload: make([]byte, 70000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := relayframe.AppendRecord(nil, &tt.r); !errors.Is(err, relayframe.ErrRecord) {
				t.Fatalf("err = %v, want ErrRecord", err)
			}
		})
	}
}

func TestParseRecordRejects(t *testing.T) {
	r := relayframe.Record{Kind: relayframe.KindFragment, Src: netip.MustParseAddrPort("10.0.0.1:1"), Dst: netip.MustParseAddrPort("239.0.0.1:1"), FragIndex: 0, FragCount: 2, Payload: []byte("abc")}
	good, _ := relayframe.AppendRecord(nil, &r)
	mod := func(i int, v byte) []byte { b := bytes.Clone(good); b[i] = v; return b }
	tests := []struct {
		name string
		b    []byte
	}{
		{"truncated payload", good[:len(good)-1]},
		{"truncated header", good[:5]},
		{"kind", mod(0, 3)},
		{"flags", mod(1, 0x80)},
		{"reserved", mod(3, 1)},
		{"fragment index past count", mod(26, 2)},
		{"fragment count 1", mod(27, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := relayframe.ParseRecord(tt.b); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestHelloRoundTrip(t *testing.T) {
	h := relayframe.Hello{Interests: []relayframe.Interest{
		{Group: netip.MustParseAddr("239.1.1.1")},
		{Group: netip.MustParseAddr("255.255.255.255"), Port: 5000},
		{Group: netip.MustParseAddr("ff15::1")},
	}, Sources: []netip.AddrPort{netip.MustParseAddrPort("10.0.2.10:40000"), netip.MustParseAddrPort("[fd00::2]:40000")}}
	b, err := relayframe.AppendHello(nil, &h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := relayframe.ParseHello(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Fatalf("got %+v want %+v", got, h)
	}
	empty, _ := relayframe.AppendHello(nil, &relayframe.Hello{})
	if g, err := relayframe.ParseHello(empty, nil); err != nil || len(g.Interests) != 0 {
		t.Fatalf("empty hello: %+v %v", g, err)
	}
	noSources, _ := relayframe.AppendHello(nil, &relayframe.Hello{Interests: h.Interests})
	if g, err := relayframe.ParseHello(noSources, nil); err != nil || g.Sources != nil || len(g.Interests) != 3 {
		t.Fatalf("hello without sources: %+v %v", g, err)
	}
	for _, bad := range [][]byte{
		b[:len(b)-1], append(bytes.Clone(b), 0), {1, 0, 0, 0}, {0, 2, 0, 0}, {0, 0, 0, 1, 5, 0, 0},
		{0, 1, 0, 0},                          // sources flagged, none there
		{0, 1, 0, 0, 0},                       // sources flagged, a count of 0
		{0, 1, 0, 0, 9, 4, 0, 1, 10, 0, 0, 1}, // more than MaxSources
	} {
		if _, err := relayframe.ParseHello(bad, nil); err == nil {
			t.Fatalf("accepted %x", bad)
		}
	}
}

func TestHandshakeFrames(t *testing.T) {
	msg := bytes.Repeat([]byte{5}, relayframe.InitLen)
	mac1, mac2 := bytes.Repeat([]byte{1}, relayframe.MACLen), bytes.Repeat([]byte{2}, relayframe.MACLen)
	f := append(append(relayframe.AppendInit(nil, msg), mac1...), mac2...)
	h, body, err := relayframe.ParseHeader(f)
	if err != nil || h.Type != relayframe.TypeInit {
		t.Fatalf("init header %+v %v", h, err)
	}
	if got, err := relayframe.ParseHandshake(h, body); err != nil || !bytes.Equal(got.Msg, msg) || !bytes.Equal(got.MAC1, mac1) || !bytes.Equal(got.MAC2, mac2) {
		t.Fatalf("init: %+v %v", got, err)
	}
	for _, cut := range [][]byte{body[1:], body[:len(body)-1], body[:relayframe.InitLen], append(bytes.Clone(body), 0)} {
		if _, err := relayframe.ParseHandshake(h, cut); err == nil {
			t.Fatalf("accepted an initiation of %d bytes", len(cut))
		}
	}
	r := append(append(relayframe.AppendResponse(nil, 77, msg[:relayframe.ResponseLen]), mac1...), mac2...)
	h, body, _ = relayframe.ParseHeader(r)
	if got, err := relayframe.ParseHandshake(h, body); err != nil || h.Index != 77 || len(got.Msg) != relayframe.ResponseLen {
		t.Fatalf("response %+v: %v", h, err)
	}
	if _, err := relayframe.ParseHandshake(relayframe.Header{Type: relayframe.TypeResponse}, body); err == nil {
		t.Fatal("accepted a response to session 0")
	}
	if _, err := relayframe.ParseHandshake(relayframe.Header{Type: relayframe.TypeData, Index: 1}, body); err == nil {
		t.Fatal("accepted a data frame as a handshake")
	}
	nonce, sealed := bytes.Repeat([]byte{3}, relayframe.CookieNonceLen), bytes.Repeat([]byte{4}, relayframe.CookieLen+16)
	c := relayframe.AppendCookieReply(nil, nonce, sealed)
	h, body, err = relayframe.ParseHeader(c)
	if err != nil || h.Type != relayframe.TypeCookie {
		t.Fatalf("cookie reply header %+v %v", h, err)
	}
	if n, s, err := relayframe.ParseCookieReply(h, body); err != nil || !bytes.Equal(n, nonce) || !bytes.Equal(s, sealed) {
		t.Fatalf("cookie reply: %v", err)
	}
	if _, _, err := relayframe.ParseCookieReply(h, body[1:]); err == nil {
		t.Fatal("accepted a truncated cookie reply")
	}
	if _, _, err := relayframe.ParseCookieReply(relayframe.Header{Type: relayframe.TypeCookie, Index: 3}, body); err == nil {
		t.Fatal("accepted a cookie reply naming a session")
	}
	if i, err := relayframe.ParsePayload(relayframe.AppendPayload(nil, 9)); err != nil || i != 9 {
		t.Fatalf("payload %d %v", i, err)
	}
	if _, err := relayframe.ParsePayload([]byte{0, 0, 0, 0}); err == nil {
		t.Fatal("accepted index 0")
	}
}
