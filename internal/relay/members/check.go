package members

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/mcasttools/mcast/internal/relay/cert"
	"github.com/mcasttools/mcast/internal/relay/config"
)

// Trust is what a relay checks the other members' metadata against.
type Trust struct {
	Self   string         // this relay's node name
	Listen netip.AddrPort // its underlay address: members must be of its family
	Key    [32]byte       // its public key: no member may carry it
	LAN    string         // its LAN tag ("": none)
	// CA, when set, is the mesh CA: every member must carry a certificate
	// it signed, for the member's name and data address. Without it,
	// members carry their public key and claimed prefixes, trusted as
	// far as the gossip key is.
	CA      ed25519.PublicKey
	Revoked map[string]bool // revoked certificates' fingerprints
}

// ErrRefused wraps every reason Check refuses a member for.
var ErrRefused = errors.New("member refused")

// Check turns a member's name and metadata into the peer it stands for,
// or says why it is refused.
func (t *Trust) Check(name string, meta []byte, now time.Time) (config.Peer, error) {
	refuse := func(format string, a ...any) (config.Peer, error) {
		return config.Peer{}, fmt.Errorf("member %q: %s: %w", name, fmt.Sprintf(format, a...), ErrRefused)
	}
	if !config.ValidName(name) {
		return refuse("not a valid node name")
	}
	m, err := Decode(meta)
	if err != nil {
		return refuse("%v", err)
	}
	if m.Addr.Addr().Is4() != t.Listen.Addr().Is4() {
		return refuse("data address %s is not of this relay's family (%s)", m.Addr, t.Listen)
	}
	p := config.Peer{Name: name, ID: config.NodeID(name), Addr: m.Addr, LAN: m.LAN != "" && m.LAN == t.LAN}
	switch {
	case t.CA == nil && m.Kind == KindCert:
		return refuse("carries a certificate and this relay has no ca")
	case t.CA != nil && m.Kind != KindCert:
		return refuse("carries no certificate and the mesh has a ca")
	case m.Kind == KindKey && m.Key == t.Key:
		return refuse("has the public key of this relay %q", t.Self)
	case m.Kind == KindKey:
		p.Key, p.Allow = m.Key, m.Allow
		return p, nil
	}
	c, err := cert.Decode(m.Cert)
	if err != nil {
		return refuse("certificate: %v", err)
	}
	if err := c.Admit(t.CA, t.Revoked, name, now); err != nil {
		return refuse("its %v", err)
	}
	if c.Key == t.Key {
		return refuse("has the public key of this relay %q", t.Self)
	}
	if !slices.Contains(c.Underlay, m.Addr) {
		return refuse("its certificate does not allow the data address %s (it allows %v)", m.Addr, c.Underlay)
	}
	p.Key, p.Allow, p.NotAfter = c.Key, c.Carried(), c.NotAfter
	return p, nil
}

// Merge returns the peers of the static peer lines followed by the
// members that do not clash with them, and why each clashing member was
// left out: a static line of the same name wins, and a member with the
// key, node ID or address of a static peer, or of this relay (self), is
// refused.
func Merge(self config.Peer, static, joined []config.Peer) ([]config.Peer, map[string]string) {
	out := append([]config.Peer{}, static...)
	names := map[string]bool{}
	keys := map[[32]byte]string{}
	ids := map[uint32]string{}
	addrs := map[netip.AddrPort]string{}
	for _, p := range append([]config.Peer{self}, static...) {
		names[p.Name] = true
		keys[p.Key], ids[p.ID], addrs[p.Addr] = p.Name, p.Name, p.Name
	}
	var left map[string]string
	skip := func(name, why string) {
		if left == nil {
			left = map[string]string{}
		}
		left[name] = why
	}
	for _, p := range joined {
		switch {
		case names[p.Name]:
			skip(p.Name, "a static peer line of this name wins")
		case keys[p.Key] != "":
			skip(p.Name, "has the public key of peer "+keys[p.Key])
		case ids[p.ID] != "":
			skip(p.Name, "has the node ID of peer "+ids[p.ID])
		case addrs[p.Addr] != "":
			skip(p.Name, "has the data address of peer "+addrs[p.Addr])
		default:
			names[p.Name] = true
			keys[p.Key], ids[p.ID], addrs[p.Addr] = p.Name, p.Name, p.Name
			out = append(out, p)
		}
	}
	return out, left
}
