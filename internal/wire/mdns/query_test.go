package mdns_test

import (
	"errors"
	"testing"

	"github.com/mcasttools/mcast/internal/wire/mdns"
	"golang.org/x/net/dns/dnsmessage"
)

// query builds a query for names, the unicast-response bit set in the
// classes of those qu says.
func query(t testing.TB, id uint16, names []string, qu []bool) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id})
	b.EnableCompression()
	b.StartQuestions()
	for i, n := range names {
		class := dnsmessage.ClassINET
		if qu[i] {
			class |= 0x8000
		}
		if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(n), Type: dnsmessage.TypeA, Class: class}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAsksUnicast(t *testing.T) {
	for _, tc := range []struct {
		name        string
		msg         []byte
		qu, q, resp bool
	}{
		{"QM question", query(t, 0, []string{"printer.local."}, []bool{false}), false, true, false},
		{"QU question", query(t, 0, []string{"printer.local."}, []bool{true}), true, true, false},
		{"QU second of two", query(t, 0, []string{"a.local.", "b.local."}, []bool{false, true}), true, true, false},
		{"legacy query, an ID", query(t, 4711, []string{"printer.local."}, []bool{false}), false, true, false},
		{"response", msg(t, nil, map[string]string{"_ipp._tcp.local.": "a._ipp._tcp.local."}), false, false, true},
		{"response with the top class bit (cache flush)", response(t), false, false, true},
		{"no question", query(t, 0, nil, nil), false, false, false},
	} {
		qu, err := mdns.AsksUnicast(tc.msg)
		if err != nil || qu != tc.qu {
			t.Errorf("%s: AsksUnicast %v, %v; want %v", tc.name, qu, err, tc.qu)
		}
		if q := mdns.IsQuery(tc.msg); q != tc.q {
			t.Errorf("%s: IsQuery %v, want %v", tc.name, q, tc.q)
		}
		if r := mdns.IsResponse(tc.msg); r != tc.resp {
			t.Errorf("%s: IsResponse %v, want %v", tc.name, r, tc.resp)
		}
	}
}

// response is an answer whose record's class has the cache-flush bit, the
// same bit as a question's unicast-response bit: not a QU question.
func response(t testing.TB) []byte {
	b := msg(t, nil, nil, "printer.local.")
	b[12+len("\x07printer\x05local\x00")+2] |= 0x80 // the top bit of the record's class
	return b
}

func TestAsksUnicastMalformed(t *testing.T) {
	good := query(t, 0, []string{"a.local.", "b.local."}, []bool{false, true})
	for n := 0; n < len(good); n++ {
		if _, err := mdns.AsksUnicast(good[:n]); !errors.Is(err, mdns.ErrMalformed) {
			t.Errorf("cut to %d bytes: %v, want ErrMalformed", n, err)
		}
	}
	for name, b := range map[string][]byte{
		"label type 0x40":     {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 1, 0, 1},
		"pointer cut short":   {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0},
		"name over 255 bytes": append(append([]byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, longName()...), 0, 0, 1, 0, 1),
		"65535 questions":     append([]byte{0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0}, query(t, 0, []string{"a."}, []bool{true})[12:]...),
	} {
		if _, err := mdns.AsksUnicast(b); !errors.Is(err, mdns.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	// A pointer is not followed: a loop costs nothing.
	loop := []byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0x80, 1}
	if qu, err := mdns.AsksUnicast(loop); err != nil || !qu {
		t.Errorf("a question named by a pointer to itself: %v %v", qu, err)
	}
}

// longName is five labels of 63 bytes: 320 bytes, past the 255 allowed.
func longName() []byte {
	var b []byte
	for range 5 {
		b = append(b, 63)
		for range 63 {
			b = append(b, 'a')
		}
	}
	return append(b, 0)
}

func TestAsksUnicastAllocs(t *testing.T) {
	m := query(t, 0, []string{"a.local.", "b.local.", "c.local."}, []bool{false, false, true})
	if n := testing.AllocsPerRun(1000, func() { mdns.AsksUnicast(m) }); n != 0 {
		t.Errorf("%.1f allocations per message", n)
	}
}

func FuzzAsksUnicast(f *testing.F) {
	f.Add(query(f, 0, []string{"printer.local."}, []bool{true}))
	f.Add(query(f, 7, []string{"a.local.", "b.local."}, []bool{false, false}))
	f.Add(response(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		qu, err := mdns.AsksUnicast(b)
		if qu && (err != nil || !mdns.IsQuery(b) || mdns.IsResponse(b)) {
			t.Fatalf("asks unicast, yet %v, query %v, response %v", err, mdns.IsQuery(b), mdns.IsResponse(b))
		}
	})
}
