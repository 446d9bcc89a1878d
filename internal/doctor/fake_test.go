package doctor_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/doctor"
	"github.com/mcasttools/mcast/internal/hostfs"
)

// fakeNet answers from recorded links and routes. get maps a destination
// (or "dst oif N") to the kernel's answer; a missing one is unreachable.
type fakeNet struct {
	links   []doctor.Link
	routes  []doctor.Route
	get     map[string]doctor.Route
	querier map[int]doctor.Querier
}

func (f *fakeNet) BridgeQuerier(_ context.Context, idx int) (doctor.Querier, error) {
	if q, ok := f.querier[idx]; ok {
		return q, nil
	}
	return doctor.Querier{Addr: netip.IPv4Unspecified()}, nil
}

func (f *fakeNet) Links(context.Context) ([]doctor.Link, error) { return f.links, nil }

func (f *fakeNet) Routes(_ context.Context, family int) ([]doctor.Route, error) {
	var out []doctor.Route
	for _, r := range f.routes {
		if (family == 4) == (!r.Dst.IsValid() || r.Dst.Addr().Is4()) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeNet) RouteGet(_ context.Context, dst netip.Addr, oif int, _ netip.Addr) (doctor.Route, error) {
	if r, ok := f.get[fmt.Sprintf("%s oif %d", dst, oif)]; ok {
		return r, nil
	}
	if r, ok := f.get[dst.String()]; ok {
		return r, nil
	}
	return doctor.Route{}, fmt.Errorf("ip route get %s: %w", dst, doctor.ErrUnreachable)
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

func addrs(ps ...string) []doctor.Addr {
	var out []doctor.Addr
	for _, p := range ps {
		out = append(out, doctor.Addr{Prefix: pfx(p)})
	}
	return out
}

var lo = doctor.Link{Name: "lo", Index: 1, Type: "device", Up: true, LowerUp: true, Loopback: true, Addrs: addrs("127.0.0.1/8", "::1/128")}

func eth(name string, idx int, as ...string) doctor.Link {
	return doctor.Link{Name: name, Index: idx, Type: "veth", Up: true, LowerUp: true, Multicast: true, Broadcast: true, Addrs: addrs(as...)}
}

// lanNode is a lab `lan` node: eth0 10.0.0.1/24 with a 224.0.0.0/4 route.
func lanNode() *fakeNet {
	return &fakeNet{
		links: []doctor.Link{lo, eth("eth0", 2, "10.0.0.1/24", "fd00::1/64")},
		routes: []doctor.Route{
			{Type: "unicast", Dst: pfx("10.0.0.0/24"), Dev: "eth0", Table: doctor.TableMain, Proto: "kernel", Src: ip("10.0.0.1")},
			{Type: "unicast", Dst: pfx("224.0.0.0/4"), Dev: "eth0", Table: doctor.TableMain},
			{Type: "local", Dst: pfx("10.0.0.1/32"), Dev: "eth0", Table: doctor.TableLocal, Proto: "kernel", Src: ip("10.0.0.1")},
		},
		get: map[string]doctor.Route{
			"239.255.0.1": {Type: "multicast", Dst: pfx("239.255.0.1/32"), Dev: "eth0", Table: doctor.TableMain, Src: ip("10.0.0.1")},
			"239.1.2.3":   {Type: "multicast", Dst: pfx("239.1.2.3/32"), Dev: "eth0", Table: doctor.TableMain, Src: ip("10.0.0.1")},
			"224.1.1.1":   {Type: "multicast", Dst: pfx("224.1.1.1/32"), Dev: "eth0", Table: doctor.TableMain, Src: ip("10.0.0.1")},
			"10.0.0.255":  {Type: "broadcast", Dst: pfx("10.0.0.255/32"), Dev: "eth0", Table: doctor.TableLocal, Src: ip("10.0.0.1")},
			"10.0.0.20":   {Type: "unicast", Dst: pfx("10.0.0.20/32"), Dev: "eth0", Src: ip("10.0.0.1")},
		},
	}
}

// twonicHost is the host with two NICs on one subnet: enX0 .12 and enX1 .13 on one /24.
func twonicHost() *fakeNet {
	return &fakeNet{
		links: []doctor.Link{lo, eth("enX0", 2, "10.0.0.12/24"), eth("enX1", 3, "10.0.0.13/24")},
		routes: []doctor.Route{
			{Type: "unicast", Dst: pfx("10.0.0.0/24"), Dev: "enX0", Table: doctor.TableMain, Proto: "kernel"},
			{Type: "unicast", Dst: pfx("10.0.0.0/24"), Dev: "enX1", Table: doctor.TableMain, Proto: "kernel"},
			{Type: "unicast", Dst: pfx("224.0.0.0/4"), Dev: "enX0", Table: doctor.TableMain},
		},
		get: map[string]doctor.Route{
			"239.255.0.1": {Type: "multicast", Dst: pfx("239.255.0.1/32"), Dev: "enX0", Src: ip("10.0.0.12")},
			"239.1.2.3":   {Type: "multicast", Dst: pfx("239.1.2.3/32"), Dev: "enX0", Src: ip("10.0.0.12")},
			"10.0.0.20":   {Type: "unicast", Dst: pfx("10.0.0.20/32"), Dev: "enX0", Src: ip("10.0.0.12")},
			"10.0.0.255":  {Type: "broadcast", Dst: pfx("10.0.0.255/32"), Dev: "enX0", Table: doctor.TableLocal},
		},
	}
}

// root copies the recorded root testdata/root/<base> (none when base is
// "") into a temporary directory and writes files over it.
func root(t *testing.T, base string, files map[string]string) hostfs.FS {
	t.Helper()
	dir := t.TempDir()
	if base != "" {
		src := filepath.Join("testdata", "root", base)
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			dst := filepath.Join(dir, rel)
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return hostfs.FS{Root: dir}
}

// sysctls maps dotted sysctl names to files below proc/sys.
func sysctls(kv ...string) map[string]string {
	m := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m["proc/sys/"+strings.ReplaceAll(k, ".", "/")] = v
	}
	return m
}

// run runs the one check called name against the host and target.
func run(t *testing.T, h *doctor.Host, tg doctor.Target, name string) doctor.Result {
	t.Helper()
	if h.Rules == nil {
		h.Rules = func(context.Context) (doctor.Rulesets, error) {
			return doctor.Rulesets{NftJSON: `{"nftables":[]}`}, nil
		}
	}
	if tg.TTL == 0 {
		tg.TTL = 1
	}
	for _, c := range doctor.Catalog(h, tg) {
		if c.Name() == name {
			return c.Run(context.Background())
		}
	}
	t.Fatalf("no check %q", name)
	return doctor.Result{}
}

// expect checks a result's status and that its text holds every want.
func expect(t *testing.T, r doctor.Result, status doctor.Status, want ...string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %s, want %s: %+v", r.Status, status, r)
	}
	all := r.Summary + "\n" + strings.Join(r.Evidence, "\n") + "\n" + strings.Join(r.Fix, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("result lacks %q:\n%s", w, all)
		}
	}
}
