package relay

import (
	"testing"

	"github.com/mcasttools/mcast/internal/labtest"
)

// TestMain runs this package's tests in a network namespace of their own,
// so that nothing a test opens touches the host's interfaces.
func TestMain(m *testing.M) { labtest.MainIsolated(m) }
