package cli

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/relay/cert"
	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/spf13/cobra"
)

const relayCAUsage = "mcast relay ca genkey > CA-KEY   |   mcast relay ca pubkey < CA-KEY   |   " +
	"mcast relay ca sign --ca-key CA-KEY --name NAME --pubkey PUBKEY --underlay ADDR:PORT[,...] --allow PREFIX[,...] [--valid 8760h]   |   " +
	"mcast relay ca fingerprint < CERT"

// newRelayCACmd is the mesh CA: its key, and certificates of relays.
func newRelayCACmd(env *Env) *cobra.Command {
	c := newCommand("ca COMMAND [flags]", "a mesh CA: its key, and certificates of relays",
		`A mesh CA: make its key, print its public key (for the relays' ca lines), sign a relay's certificate
(its name, public key, underlay addresses and the source prefixes it may carry) and print a certificate's
fingerprint (for a revocation list). See docs/relay.md, Mesh CA.`,
		`  (umask 077; mcast relay ca genkey > ca.key)
  mcast relay ca pubkey < ca.key`)
	c.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usagef("ca takes genkey, pubkey, sign or fingerprint: %s", relayCAUsage)
		}
		return usagef("unknown ca command %q: %s", args[0], relayCAUsage)
	}
	for _, s := range []struct{ use, short, long, example string }{
		{"genkey", "print a new CA key (an Ed25519 seed, base64)", "Print a new CA key (an Ed25519 seed, base64). Keep it mode 0600, off the relays.",
			"  (umask 077; mcast relay ca genkey > ca.key)\n  mcast relay ca genkey | mcast relay ca pubkey"},
		{"pubkey < CA-KEY", "print the CA's public key, for the relays' ca lines", "Read a CA key on standard input and print its public key, for the ca line of every relay's config.",
			"  mcast relay ca pubkey < ca.key\n  mcast relay ca pubkey < ca.key > ca.pub"},
		{"fingerprint < CERT", "print a certificate's fingerprint, for a revocation list", "Read a certificate on standard input and print its fingerprint, the line a revocation list holds to revoke it.",
			"  mcast relay ca fingerprint < n1.cert\n  mcast relay ca fingerprint < n1.cert >> revoked"},
	} {
		sc := newCommand(s.use, s.short, s.long, s.example)
		sc.RunE = func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected argument %q", args[0])
			}
			return relayCASimple(env, c.Name())
		}
		c.AddCommand(sc)
	}
	c.AddCommand(newRelayCASignCmd(env))
	return c
}

func relayCASimple(env *Env, cmd string) error {
	if cmd == "genkey" {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return fmt.Errorf("making a CA key: %w", err)
		}
		_, err := fmt.Fprintln(env.Stdout, base64.StdEncoding.EncodeToString(seed))
		return err
	}
	b, err := io.ReadAll(io.LimitReader(env.Stdin, 8192))
	if err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	if cmd == "fingerprint" {
		c, err := cert.Parse(string(b))
		if err != nil {
			return ExitError{Code: 2, Err: fmt.Errorf("reading the certificate on stdin: %w", err)}
		}
		_, err = fmt.Fprintln(env.Stdout, c.Fingerprint())
		return err
	}
	k, err := parseCAKey(string(b))
	if err != nil {
		return ExitError{Code: 2, Err: fmt.Errorf("reading the CA key on stdin: %w", err)}
	}
	_, err = fmt.Fprintln(env.Stdout, base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey)))
	return err
}

func parseCAKey(text string) (ed25519.PrivateKey, error) {
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("not a CA key (%d bytes of base64 from mcast relay ca genkey)", ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func newRelayCASignCmd(env *Env) *cobra.Command {
	c := newCommand("sign --ca-key CA-KEY --name NAME --pubkey PUBKEY --underlay ADDR:PORT[,...] [flags]", "sign a relay's certificate with the CA key",
		`Sign a certificate for a relay: its node name, its public key (mcast relay pubkey), the underlay addresses
it may send from and the source prefixes of the datagrams it may carry. A peer line "peer NAME ADDR cert FILE"
then trusts it through the CA.`,
		`  mcast relay ca sign --ca-key ca.key --name n1 --pubkey "$(mcast relay pubkey < relay.priv)" --underlay 10.0.0.1:7474 > n1.cert
  mcast relay ca sign --ca-key ca.key --name n1 --pubkey "$(mcast relay pubkey < relay.priv)" --underlay 10.0.0.1:7474 --allow 10.0.0.0/24 --valid 720h > n1.cert`)
	fs := c.Flags()
	caKey := fs.String("ca-key", "", "the CA's key file (mcast relay ca genkey), mode 0600")
	name := fs.String("name", "", "the relay's node name")
	pub := fs.String("pubkey", "", "the relay's public key (mcast relay pubkey)")
	underlay := fs.String("underlay", "", "the underlay addresses it may send from, ADDR:PORT[,...]")
	allow := fs.String("allow", "", "the source prefixes of the datagrams it may carry, PREFIX[,...]")
	valid := fs.Duration("valid", 365*24*time.Hour, "how long the certificate is valid from now")
	c.RunE = func(_ *cobra.Command, args []string) error {
		if *caKey == "" || *name == "" || *pub == "" || *underlay == "" {
			return usagef("sign needs --ca-key, --name, --pubkey and --underlay")
		}
		if *valid <= 0 {
			return usagef("invalid --valid %s: want a positive duration", *valid)
		}
		st, err := os.Stat(*caKey)
		if err != nil {
			return UsageError{fmt.Errorf("reading the CA key: %w", err)}
		}
		if st.Mode().Perm()&0o077 != 0 {
			return ExitError{Code: 2, Err: fmt.Errorf("CA key file %s has mode %04o: others may read it; chmod 600 %s", *caKey, st.Mode().Perm(), *caKey)}
		}
		b, err := os.ReadFile(*caKey)
		if err != nil {
			return UsageError{fmt.Errorf("reading the CA key: %w", err)}
		}
		ca, err := parseCAKey(string(b))
		if err != nil {
			return UsageError{fmt.Errorf("CA key file %s: %w", *caKey, err)}
		}
		k, err := crypto.ParsePublicKey(*pub)
		if err != nil {
			return usagef("invalid --pubkey: %v", err)
		}
		now := time.Now()
		c := &cert.Cert{Name: *name, Key: k, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(*valid)}
		for _, u := range strings.Split(*underlay, ",") {
			ap, err := netip.ParseAddrPort(u)
			if err != nil {
				return usagef("invalid --underlay %q: want ADDR:PORT", u)
			}
			c.Underlay = append(c.Underlay, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
		if *allow != "" {
			for _, a := range strings.Split(*allow, ",") {
				p, err := netip.ParsePrefix(a)
				if err != nil || p != p.Masked() {
					return usagef("invalid --allow %q: want PREFIX such as 10.0.2.0/24", a)
				}
				c.Allow = append(c.Allow, p)
			}
		}
		if _, err := cert.Sign(c, ca); err != nil {
			return usagef("signing: %v", err)
		}
		_, err = fmt.Fprintln(env.Stdout, c.String())
		return err
	}
	return c
}

// loadCerts reads the certificate files of cfg's peers and its revocation
// list into cfg (the relay checks them).
func loadCerts(cfg *config.Config) error {
	for i, p := range cfg.Peers {
		if p.CertFile == "" {
			continue
		}
		b, err := os.ReadFile(p.CertFile)
		if err != nil {
			return fmt.Errorf("reading the certificate of peer %s: %w", p.Name, err)
		}
		cfg.Peers[i].Cert = string(b)
	}
	if cfg.RevokedFile != "" {
		b, err := os.ReadFile(cfg.RevokedFile)
		if err != nil {
			return fmt.Errorf("reading the revocation list: %w", err)
		}
		cfg.Revoked = string(b)
	}
	return nil
}

// loadGossipFiles reads the fleet's gossip key and this relay's
// certificate into cfg, and checks the key's form.
func loadGossipFiles(cfg *config.Config, log *slog.Logger) error {
	if cfg.GossipKeyFile != "" {
		b, err := os.ReadFile(cfg.GossipKeyFile)
		if err != nil {
			return fmt.Errorf("reading the gossip key: %w", err)
		}
		if _, err := config.ParseGossipKey(string(b)); err != nil {
			return fmt.Errorf("gossip key file %s: %w", cfg.GossipKeyFile, err)
		}
		if st, err := os.Stat(cfg.GossipKeyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
			log.Warn("gossip key file is readable by others: chmod 600 it", "file", cfg.GossipKeyFile, "mode", st.Mode().Perm().String())
		}
		cfg.GossipKey = string(b)
	}
	if cfg.GossipCertFile != "" {
		b, err := os.ReadFile(cfg.GossipCertFile)
		if err != nil {
			return fmt.Errorf("reading this relay's certificate: %w", err)
		}
		cfg.GossipCert = string(b)
	}
	return nil
}
