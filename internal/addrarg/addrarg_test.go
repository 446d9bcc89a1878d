package addrarg_test

import (
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/addrarg"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		text, env string
		def       uint16
		want      string
		err       string
	}{
		{text: "239.1.2.3", def: 28000, want: "239.1.2.3:28000"},
		{text: "239.1.2.3:5000", def: 28000, want: "239.1.2.3:5000"},
		{text: "", env: "224.0.0.1", def: 28000, want: "224.0.0.1:28000"},
		{text: "ff02::1", def: 9, want: "[ff02::1]:9"},
		{text: "[ff3e::1234]:4321", def: 9, want: "[ff3e::1234]:4321"},
		{text: "", def: 1, err: "no group given"},
		{text: "10.1.1.1", def: 1, err: `invalid group "10.1.1.1": not a multicast address`},
		{text: "banana", def: 1, err: `invalid group "banana": not an IP address`},
		{text: "239.1.1.1:0", def: 1, err: `invalid port "0"`},
		{text: "239.1.1.1:65536", def: 1, err: `invalid port "65536"`},
		{text: "239.1.1.1:http", def: 1, err: `invalid port "http": not a number`},
	}
	for _, tt := range tests {
		got, err := addrarg.ParseTarget(tt.text, tt.env, tt.def)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTarget(%q): error %v, want %q", tt.text, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseTarget(%q) = %v, %v; want %s", tt.text, got, err, tt.want)
		}
	}
}

func TestDefaultPortFrom(t *testing.T) {
	if p, err := addrarg.DefaultPortFrom(""); err != nil || p != addrarg.DefaultPort {
		t.Errorf("empty: %d, %v", p, err)
	}
	if p, err := addrarg.DefaultPortFrom("28001"); err != nil || p != 28001 {
		t.Errorf("28001: %d, %v", p, err)
	}
	if _, err := addrarg.DefaultPortFrom("x"); err == nil || !strings.Contains(err.Error(), `MULTICAST_PORT: invalid port "x"`) {
		t.Errorf("x: %v", err)
	}
}
