package relay

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/mcasttools/mcast/internal/relay/config"
)

// CheckCapabilities fails, naming what is missing, when this process
// lacks a capability the relay needs.
func CheckCapabilities() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("reading the process capabilities: %w", err)
	}
	caps, err := parseCapEff(b)
	if err != nil {
		return err
	}
	return checkCaps(caps)
}

// Check runs what starting the relay with cfg checks, short of opening its
// sockets for good: the capabilities, each interface (it exists, is up
// and has an IPv4 address where one is needed; one marked `wait` may be
// missing or down), the listen address (one of
// this host's), the mesh key file when the config names one (private), and the underlay port, metrics
// port and admin socket (free). The ports are bound for a moment and
// released.
func Check(cfg *config.Config) error {
	if err := CheckCapabilities(); err != nil {
		return err
	}
	for _, name := range ifaceNames(cfg) {
		// `interface NAME wait`: served once it is ready.
		if err := checkInterface(cfg, name); err != nil && !cfg.Waits(name) {
			return err
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return fmt.Errorf("listing this host's addresses: %w", err)
	}
	var local []netip.Addr
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
				local = append(local, ip)
			}
		}
	}
	if err := checkListen(cfg.Listen, local); err != nil {
		return err
	}
	if cfg.KeyFile != "" {
		// The mesh key file is optional: checked only when the config names one.
		st, err := os.Stat(cfg.KeyFile)
		if err != nil {
			return fmt.Errorf("key file: %w", err)
		}
		if err := checkKeyMode(cfg.KeyFile, st.Mode()); err != nil {
			return err
		}
	}
	u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.Listen))
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	u.Close()
	if cfg.Metrics != "" {
		l, err := net.Listen("tcp", cfg.Metrics)
		if err != nil {
			return fmt.Errorf("metrics endpoint %s: %w", cfg.Metrics, err)
		}
		l.Close()
	}
	if c, err := net.Dial("unix", cfg.Admin); err == nil {
		c.Close()
		return fmt.Errorf("admin socket %s: another relay is running there", cfg.Admin)
	}
	return nil
}

// checkInterface checks that interface name exists, is up and has an IPv4
// address where cfg needs one.
func checkInterface(cfg *config.Config, name string) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("interface %q: %w", name, err)
	}
	if ifi.Flags&net.FlagUp == 0 {
		return fmt.Errorf("interface %q is down", name)
	}
	var facts linkFacts
	if addrs, err := ifi.Addrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				facts.addAddr(ipn)
			}
		}
	}
	if !facts.addr4.IsValid() && (len(cfg.BroadcastPorts) > 0 || cfg.Source == config.SourceRelay) {
		return fmt.Errorf("interface %s has no IPv4 address (needed for broadcasts and source relay)", name)
	}
	return nil
}
