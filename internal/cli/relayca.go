package cli

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/relay/cert"
	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
)

const relayCAUsage = "mcast relay ca genkey > CA-KEY   |   mcast relay ca pubkey < CA-KEY   |   " +
	"mcast relay ca sign --ca-key CA-KEY --name NAME --pubkey PUBKEY --underlay ADDR:PORT[,...] --allow PREFIX[,...] [--valid 8760h]   |   " +
	"mcast relay ca fingerprint < CERT"

// runRelayCA is the mesh CA: its key, and certificates of relays.
func runRelayCA(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usagef("ca takes genkey, pubkey, sign or fingerprint: %s", relayCAUsage)
	}
	switch args[0] {
	case "genkey", "pubkey", "fingerprint":
		fs := newFlags("relay ca "+args[0], relayCAUsage)
		if err := parse(fs, env, args[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usagef("unexpected argument %q", fs.Arg(0))
		}
		return relayCASimple(env, args[0])
	case "sign":
		return runRelayCASign(ctx, env, args[1:])
	}
	return usagef("unknown ca command %q: %s", args[0], relayCAUsage)
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

func runRelayCASign(_ context.Context, env *Env, args []string) error {
	fs := newFlags("relay ca sign", relayCAUsage)
	caKey := fs.String("ca-key", "", "the CA's key file (mcast relay ca genkey), mode 0600")
	name := fs.String("name", "", "the relay's node name")
	pub := fs.String("pubkey", "", "the relay's public key (mcast relay pubkey)")
	underlay := fs.String("underlay", "", "the underlay addresses it may send from, ADDR:PORT[,...]")
	allow := fs.String("allow", "", "the source prefixes of the datagrams it may carry, PREFIX[,...]")
	valid := fs.Duration("valid", 365*24*time.Hour, "how long the certificate is valid from now")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if *caKey == "" || *name == "" || *pub == "" || *underlay == "" {
		return usagef("sign needs --ca-key, --name, --pubkey and --underlay")
	}
	if *valid <= 0 {
		return usagef("invalid --valid %s: want a positive duration", *valid)
	}
	st, err := os.Stat(*caKey)
	if err != nil {
		return fmt.Errorf("reading the CA key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return ExitError{Code: 2, Err: fmt.Errorf("CA key file %s has mode %04o: others may read it; chmod 600 %s", *caKey, st.Mode().Perm(), *caKey)}
	}
	b, err := os.ReadFile(*caKey)
	if err != nil {
		return fmt.Errorf("reading the CA key: %w", err)
	}
	ca, err := parseCAKey(string(b))
	if err != nil {
		return fmt.Errorf("CA key file %s: %w", *caKey, err)
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
