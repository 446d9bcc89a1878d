package integration_test

import (
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/labtest"
)

// The send banner names the source address the route picks, for IPv6 as
// for IPv4, not the wildcard the socket is bound to.
func TestSendBannerNamesSource(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"239.1.1.1:5000"}, "from 10.0.0.1:"},
		{[]string{"[ff0e::4242]:5002", "--iface", "eth0"}, "from [fd00::1]:"},
		{[]string{"[ff0e::4242]:5002"}, "from [fd00::1]:"},
	} {
		r := l.Mcast("n1", append([]string{"send", "--count", "1", "--ttl", "5"}, c.args...)...)
		if r.Code != 0 || !strings.Contains(r.Stdout, c.want) {
			t.Errorf("send %s: want the banner to say %q: %s", strings.Join(c.args, " "), c.want, r)
		}
	}
}
