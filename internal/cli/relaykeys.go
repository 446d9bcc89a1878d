package cli

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"

	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/spf13/cobra"
)

// newRelayGenkeyCmd prints a new private key, as wg genkey does.
func newRelayGenkeyCmd(env *Env) *cobra.Command {
	c := newCommand("genkey", "print a new private key (base64 X25519), as wg genkey does",
		`Print a new private key for a relay (base64 X25519), as wg genkey does. Keep it mode 0600 or stricter:
the relay refuses a private key file others may read.`,
		`  (umask 077; mcast relay genkey > relay.priv)
  mcast relay genkey | mcast relay pubkey`)
	c.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q: genkey takes none", args[0])
		}
		k, err := crypto.GenerateKey(rand.Reader)
		if err != nil {
			return fmt.Errorf("making a private key: %w", err)
		}
		_, err = fmt.Fprintln(env.Stdout, k.String())
		return err
	}
	return c
}

// newRelayPubkeyCmd reads a private key on stdin and prints its public key.
func newRelayPubkeyCmd(env *Env) *cobra.Command {
	c := newCommand("pubkey < PRIVATE-KEY-FILE", "print the public key of the private key on standard input",
		"Read a private key (mcast relay genkey) on standard input and print its public key, for the peer lines of the other relays' configs.",
		`  mcast relay pubkey < relay.priv
  mcast relay pubkey < relay.priv > relay.pub`)
	c.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q: pubkey reads the private key on stdin", args[0])
		}
		b, err := io.ReadAll(io.LimitReader(env.Stdin, 4096))
		if err != nil {
			return fmt.Errorf("reading the private key on stdin: %w", err)
		}
		k, err := crypto.ParsePrivateKey(string(b))
		if err != nil {
			return ExitError{Code: 2, Err: fmt.Errorf("reading the private key on stdin: %w", err)}
		}
		_, err = fmt.Fprintln(env.Stdout, k.Public().String())
		return err
	}
	return c
}

// loadPrivateKey reads the relay's private key file, which must be of
// mode 0600 or stricter: a key others can read is refused (exit status 2).
func loadPrivateKey(path string) (crypto.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return crypto.PrivateKey{}, fmt.Errorf("reading private key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return crypto.PrivateKey{}, fmt.Errorf("reading private key file: %w", err)
	}
	if m := st.Mode().Perm(); m&0o077 != 0 {
		return crypto.PrivateKey{}, ExitError{Code: 2, Err: fmt.Errorf("private key file %s has mode %04o: others may read it; chmod 600 %s", path, m, path)}
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return crypto.PrivateKey{}, fmt.Errorf("reading private key file %s: %w", path, err)
	}
	k, err := crypto.ParsePrivateKey(string(b))
	if err != nil {
		return crypto.PrivateKey{}, fmt.Errorf("private key file %s: %w (make one with mcast relay genkey)", path, err)
	}
	return k, nil
}
