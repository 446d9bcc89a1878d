package doctor_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/doctor"
)

// querierAttrs builds IFLA_BR_MCAST_QUERIER_STATE's payload.
func querierAttrs(addr [4]byte, port uint32, timer uint64) []byte {
	var b []byte
	add := func(typ uint16, v []byte) {
		h := make([]byte, 4)
		binary.NativeEndian.PutUint16(h, uint16(4+len(v)))
		binary.NativeEndian.PutUint16(h[2:], typ)
		b = append(b, h...)
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	add(1, addr[:])
	p := make([]byte, 4)
	binary.NativeEndian.PutUint32(p, port)
	add(2, p)
	tm := make([]byte, 8)
	binary.NativeEndian.PutUint64(tm, timer)
	add(3, tm)
	add(5, make([]byte, 16)) // IPv6 address: skipped
	return b
}

func TestParseQuerierState(t *testing.T) {
	q, err := doctor.ParseQuerierState(querierAttrs([4]byte{192, 168, 77, 2}, 6, 25000))
	if err != nil {
		t.Fatal(err)
	}
	want := doctor.Querier{Addr: netip.MustParseAddr("192.168.77.2"), PortIndex: 6, OtherTimer: 250 * time.Second}
	if q != want || !q.Present() {
		t.Errorf("ParseQuerierState = %+v, want %+v", q, want)
	}
	for _, bad := range [][]byte{{1, 2}, {3, 0, 1, 0}, {8, 0, 1, 0, 1, 2, 3}} {
		if _, err := doctor.ParseQuerierState(bad); err == nil {
			t.Errorf("ParseQuerierState(%v) = nil error", bad)
		}
	}
}

func FuzzParseQuerierState(f *testing.F) {
	f.Add(querierAttrs([4]byte{10, 0, 0, 1}, 2, 100))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		doctor.ParseQuerierState(b)
	})
}
