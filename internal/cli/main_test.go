package cli

import (
	"net"
	"testing"

	"github.com/mcasttools/mcast/internal/labtest"
)

// TestMain runs this package's tests in a network namespace of their own,
// so that a call that unexpectedly got as far as sending could not put a
// packet on any real network.
func TestMain(m *testing.M) { labtest.MainIsolated(m) }

// The isolation above holds: in the namespace, lo is the only interface.
func TestRunsIsolated(t *testing.T) {
	if !labtest.Isolated() {
		t.Skip("no network namespace could be made here (see TestMain)")
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Name != "lo" {
			t.Errorf("interface %s visible: the tests are not isolated", i.Name)
		}
	}
}
