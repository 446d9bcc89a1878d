package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"

	"github.com/mcasttools/mcast/internal/relay/crypto"
)

// runRelayGenkey prints a new private key, as wg genkey does.
func runRelayGenkey(_ context.Context, env *Env, args []string) error {
	fs := newFlags("relay genkey", "mcast relay genkey > FILE   (then: chmod 600 FILE; mcast relay pubkey < FILE)")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q: genkey takes none", fs.Arg(0))
	}
	k, err := crypto.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("making a private key: %w", err)
	}
	_, err = fmt.Fprintln(env.Stdout, k.String())
	return err
}

// runRelayPubkey reads a private key on stdin and prints its public key.
func runRelayPubkey(_ context.Context, env *Env, args []string) error {
	fs := newFlags("relay pubkey", "mcast relay pubkey < PRIVATE-KEY-FILE")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q: pubkey reads the private key on stdin", fs.Arg(0))
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
