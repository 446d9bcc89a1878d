package relay

import (
	"errors"
	"strings"
	"testing"
)

func TestReadRequest(t *testing.T) {
	long := strings.Repeat("A", maxAdminRequest)
	for _, tt := range []struct {
		name, in, want string
		err            error
	}{
		{"a line", "status\nmore", "status", nil},
		{"no newline at the end", "status", "status", nil},
		{"the longest line", strings.Repeat(" ", maxAdminRequest-7) + "status\n", "status", nil},
		{"too long", long + "\n", "", errTooLong},
		{"too long without a newline", long + long, "", errTooLong},
	} {
		got, err := readRequest(strings.NewReader(tt.in))
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("%s: %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.err)
		}
	}
}
