package mdns_test

import (
	"errors"
	"testing"

	"github.com/mcasttools/mcast/internal/wire/mdns"
	"golang.org/x/net/dns/dnsmessage"
)

func msg(t testing.TB, questions []string, ptrs map[string]string, a ...string) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{Response: len(questions) == 0, Authoritative: true})
	b.EnableCompression()
	b.StartQuestions()
	for _, q := range questions {
		if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(q), Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET}); err != nil {
			t.Fatal(err)
		}
	}
	b.StartAnswers()
	for owner, target := range ptrs {
		h := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(owner), Class: dnsmessage.ClassINET, TTL: 120}
		if err := b.PTRResource(h, dnsmessage.PTRResource{PTR: dnsmessage.MustNewName(target)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, host := range a {
		h := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(host), Class: dnsmessage.ClassINET, TTL: 120}
		if err := b.AResource(h, dnsmessage.AResource{A: [4]byte{10, 0, 0, 1}}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var onlyCast = []string{"_googlecast._tcp", "_ipp._tcp"}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  []byte
		want bool
	}{
		{"query for an allowed type", msg(t, []string{"_googlecast._tcp.local."}, nil), true},
		{"query for another type", msg(t, []string{"_spotify-connect._tcp.local."}, nil), false},
		{"query for both", msg(t, []string{"_ipp._tcp.local.", "_airplay._tcp.local."}, nil), false},
		{"answer, upper case", msg(t, nil, map[string]string{"_IPP._TCP.local.": "Office._IPP._TCP.local."}), true},
		{"answer pointing at another type", msg(t, nil, map[string]string{"_ipp._tcp.local.": "x._airplay._tcp.local."}), false},
		{"subtype", msg(t, []string{"_printer._sub._ipp._tcp.local."}, nil), true},
		{"host address", msg(t, []string{}, nil, "printer.local."), true},
		{"enumeration", msg(t, []string{"_services._dns-sd._udp.local."}, nil), true},
	} {
		var c mdns.Checker
		got, err := c.Allowed(tc.msg, onlyCast)
		if err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestMalformed(t *testing.T) {
	good := msg(t, []string{"_ipp._tcp.local."}, map[string]string{"_ipp._tcp.local.": "a._ipp._tcp.local."})
	var c mdns.Checker
	for n := 0; n < len(good); n++ {
		if _, err := c.Allowed(good[:n], onlyCast); err == nil {
			t.Errorf("cut to %d bytes: no error", n)
		} else if !errors.Is(err, mdns.ErrMalformed) {
			t.Errorf("cut to %d bytes: %v", n, err)
		}
	}
	loop := []byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12}
	if _, err := c.Allowed(loop, onlyCast); !errors.Is(err, mdns.ErrMalformed) {
		t.Errorf("compression loop: %v", err)
	}
}

func TestAllowedAllocs(t *testing.T) {
	m := msg(t, []string{"_googlecast._tcp.local."}, map[string]string{"_googlecast._tcp.local.": "tv._googlecast._tcp.local."}, "tv.local.")
	var c mdns.Checker
	if n := testing.AllocsPerRun(1000, func() { c.Allowed(m, onlyCast) }); n != 0 {
		t.Errorf("%.1f allocations per message", n)
	}
}

func FuzzAllowed(f *testing.F) {
	f.Add(msg(f, []string{"_ipp._tcp.local."}, map[string]string{"_ipp._tcp.local.": "a._ipp._tcp.local."}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c mdns.Checker
		c.Allowed(b, onlyCast)
	})
}
