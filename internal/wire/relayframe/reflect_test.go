package relayframe_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

func TestReflectRoundTrip(t *testing.T) {
	h := relayframe.Reflect{Origin: 7, Targets: []uint32{1, 2, 3}}
	b, err := relayframe.AppendReflect(nil, &h)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != h.Len() {
		t.Errorf("encoded %d bytes, Len says %d", len(b), h.Len())
	}
	b = append(b, "records"...)
	got, rest, err := relayframe.ParseReflect(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Origin != 7 || !slices.Equal(got.Targets, h.Targets) || string(rest) != "records" {
		t.Errorf("decoded %+v rest %q", got, rest)
	}
	// A reflected frame: no targets.
	b, _ = relayframe.AppendReflect(nil, &relayframe.Reflect{Origin: 9})
	if got, rest, err := relayframe.ParseReflect(b, nil); err != nil || got.Origin != 9 || len(got.Targets) != 0 || len(rest) != 0 {
		t.Errorf("empty list: %+v %q %v", got, rest, err)
	}
}

// TestReflectRefusals: a list over the bound, naming a target twice or
// naming the origin, and a list cut short, are refused both ways.
func TestReflectRefusals(t *testing.T) {
	long := make([]uint32, relayframe.MaxTargets+1)
	for i := range long {
		long[i] = uint32(i + 100)
	}
	for _, tt := range []struct {
		name string
		h    relayframe.Reflect
	}{
		{"too long", relayframe.Reflect{Origin: 1, Targets: long}},
		{"twice", relayframe.Reflect{Origin: 1, Targets: []uint32{5, 6, 5}}},
		{"origin", relayframe.Reflect{Origin: 1, Targets: []uint32{5, 1}}},
	} {
		if _, err := relayframe.AppendReflect(nil, &tt.h); !errors.Is(err, relayframe.ErrRecord) {
			t.Errorf("%s: encoding gave %v, want ErrRecord", tt.name, err)
		}
		// Hand-encoded, as a hostile sender would.
		b := binary.BigEndian.AppendUint32(nil, tt.h.Origin)
		b = binary.BigEndian.AppendUint16(b, uint16(len(tt.h.Targets)))
		for _, x := range tt.h.Targets {
			b = binary.BigEndian.AppendUint32(b, x)
		}
		if _, _, err := relayframe.ParseReflect(b, nil); !errors.Is(err, relayframe.ErrRecord) {
			t.Errorf("%s: decoding gave %v, want ErrRecord", tt.name, err)
		}
	}
	b, _ := relayframe.AppendReflect(nil, &relayframe.Reflect{Origin: 1, Targets: []uint32{2, 3}})
	for n := 0; n < len(b); n++ {
		if _, _, err := relayframe.ParseReflect(b[:n], nil); !errors.Is(err, relayframe.ErrShort) {
			t.Errorf("cut to %d bytes: %v, want ErrShort", n, err)
		}
	}
	// A count that claims more than the bound is refused before reading.
	huge := append(binary.BigEndian.AppendUint32(nil, 1), 0xff, 0xff)
	if _, _, err := relayframe.ParseReflect(append(huge, bytes.Repeat([]byte{1}, 64)...), nil); !errors.Is(err, relayframe.ErrRecord) {
		t.Errorf("count 65535: %v", err)
	}
}

func TestReflectFrameType(t *testing.T) {
	f := relayframe.AppendHeader(nil, relayframe.Header{Type: relayframe.TypeReflect, Index: 1, Seq: 2})
	if h, _, err := relayframe.ParseHeader(f); err != nil || h.Type != relayframe.TypeReflect {
		t.Errorf("reflect header: %+v %v", h, err)
	}
	f[3] = relayframe.TypeCookie + 1
	if _, _, err := relayframe.ParseHeader(f); !errors.Is(err, relayframe.ErrType) {
		t.Errorf("type %d: %v, want ErrType", f[3], err)
	}
}
