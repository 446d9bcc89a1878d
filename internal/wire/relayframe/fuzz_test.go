package relayframe_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// FuzzParse feeds arbitrary bytes to every decoder: none may panic, and
// whatever decodes must encode back to the same bytes.
func FuzzParse(f *testing.F) {
	h := relayframe.AppendHeader(nil, relayframe.Header{Type: relayframe.TypeData, Index: 1, Seq: 2})
	r := relayframe.Record{Kind: relayframe.KindDatagram, TTL: 1, ID: 3, Src: netip.MustParseAddrPort("10.0.1.10:1000"), Dst: netip.MustParseAddrPort("239.1.1.1:28000"), Payload: []byte("message 0")}
	rec, _ := relayframe.AppendRecord(nil, &r)
	f.Add(append(h, rec...))
	f.Add(rec)
	hello, _ := relayframe.AppendHello(nil, &relayframe.Hello{Interests: []relayframe.Interest{{Group: netip.MustParseAddr("ff15::1")}}})
	f.Add(hello)
	hello2, _ := relayframe.AppendHello(nil, &relayframe.Hello{Sources: []netip.AddrPort{netip.MustParseAddrPort("10.0.2.10:40000")}})
	f.Add(hello2)
	f.Add([]byte{})
	macs := bytes.Repeat([]byte{8}, 2*relayframe.MACLen)
	f.Add(append(relayframe.AppendInit(nil, bytes.Repeat([]byte{7}, relayframe.InitLen)), macs...))
	f.Add(append(relayframe.AppendResponse(nil, 9, bytes.Repeat([]byte{7}, relayframe.ResponseLen)), macs...))
	f.Add(relayframe.AppendCookieReply(nil, bytes.Repeat([]byte{1}, relayframe.CookieNonceLen), bytes.Repeat([]byte{2}, relayframe.CookieLen+16)))
	f.Fuzz(func(t *testing.T, b []byte) {
		if hd, body, err := relayframe.ParseHeader(b); err == nil {
			if out := append(relayframe.AppendHeader(nil, hd), body...); !bytes.Equal(out, b) {
				t.Fatalf("header round trip: %x != %x", out, b)
			}
			if hs, err := relayframe.ParseHandshake(hd, body); err == nil {
				var out []byte
				if hd.Type == relayframe.TypeInit {
					out = relayframe.AppendInit(nil, hs.Msg)
				} else {
					out = relayframe.AppendResponse(nil, hd.Index, hs.Msg)
				}
				if len(hs.MAC1) != relayframe.MACLen || len(hs.MAC2) != relayframe.MACLen || !bytes.Equal(hs.Signed, append(bytes.Clone(hs.Msg), hs.MAC1...)) {
					t.Fatalf("handshake MACs %x %x of %x", hs.MAC1, hs.MAC2, body)
				}
				if out = append(append(out, hs.MAC1...), hs.MAC2...); !bytes.Equal(out, b) {
					t.Fatalf("handshake round trip: %x != %x", out, b)
				}
			}
			if nonce, sealed, err := relayframe.ParseCookieReply(hd, body); err == nil {
				if out := relayframe.AppendCookieReply(nil, nonce, sealed); !bytes.Equal(out, b) {
					t.Fatalf("cookie reply round trip: %x != %x", out, b)
				}
			}
		}
		if i, err := relayframe.ParsePayload(b); err == nil {
			if out := relayframe.AppendPayload(nil, i); !bytes.Equal(out, b) {
				t.Fatalf("payload round trip: %x != %x", out, b)
			}
		}
		rest := b
		for len(rest) > 0 {
			rec, next, err := relayframe.ParseRecord(rest)
			if err != nil {
				break
			}
			out, err := relayframe.AppendRecord(nil, &rec)
			if err != nil {
				t.Fatalf("re-encoding a decoded record: %v", err)
			}
			if used := rest[:len(rest)-len(next)]; !bytes.Equal(out, used) {
				t.Fatalf("record round trip: %x != %x", out, used)
			}
			rest = next
		}
		if hl, err := relayframe.ParseHello(b, nil); err == nil {
			out, err := relayframe.AppendHello(nil, &hl)
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("hello round trip: %x != %x (%v)", out, b, err)
			}
		}
	})
}

// FuzzReflect: the fan-out header decoder never panics, refuses what its
// encoder refuses, and what decodes encodes back to the same bytes.
func FuzzReflect(f *testing.F) {
	b, _ := relayframe.AppendReflect(nil, &relayframe.Reflect{Origin: 7, Targets: []uint32{1, 2, 3}})
	f.Add(b)
	b, _ = relayframe.AppendReflect(nil, &relayframe.Reflect{Origin: 7})
	f.Add(append(b, 1, 0, 0))
	f.Add([]byte{0, 0, 0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, rest, err := relayframe.ParseReflect(b, nil)
		if err != nil {
			return
		}
		if len(h.Targets) > relayframe.MaxTargets {
			t.Fatalf("%d targets decoded", len(h.Targets))
		}
		out, err := relayframe.AppendReflect(nil, &h)
		if err != nil {
			t.Fatalf("re-encoding a decoded header: %v", err)
		}
		if !bytes.Equal(append(out, rest...), b) {
			t.Fatalf("round trip: %x != %x", out, b)
		}
	})
}
