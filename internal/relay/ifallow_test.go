package relay

import "testing"

// TestInterfaceAllowSources: with "interface lan allow 10.0.2.0/24", a
// datagram captured on lan from a source outside that prefix (a host there
// claiming an address of the iot side) is not carried and is counted as
// spoofed-source; one from inside is; iot, without allow, takes any source.
func TestInterfaceAllowSources(t *testing.T) {
	r := relayFromConf(t, "node r1\nlisten 127.0.0.1:7474\ninterface iot\ninterface lan allow 10.0.2.0/24\ngroup 239.1.1.1\n")
	iot, lan := newFakeIO(1500), newFakeIO(1500)
	r.setIO(iot, lan)
	capture(r, 1, "10.0.1.20:4000", "239.1.1.1:5000", 1, "forged: an iot address on lan")
	capture(r, 1, "192.0.2.9:4000", "239.1.1.1:5000", 2, "forged: from nowhere")
	capture(r, 1, "10.0.2.20:4000", "239.1.1.1:5000", 3, "from lan")
	capture(r, 0, "198.51.100.7:4000", "239.1.1.1:5000", 4, "iot: any source")
	if got := emittedTo(iot); len(got) != 1 {
		t.Errorf("iot got %v, want only the datagram from 10.0.2.20", got)
	}
	if got := emittedTo(lan); len(got) != 1 {
		t.Errorf("lan got %v, want the datagram from iot", got)
	}
	st := r.Status()
	if got := st.Drops[DropSpoofedSource]; got != 2 {
		t.Errorf("spoofed-source drops %d, want 2", got)
	}
	if got := st.Captured["239.1.1.1"]; got != 2 {
		t.Errorf("captured %d, want 2 (the forged ones are not counted as captured)", got)
	}
}
