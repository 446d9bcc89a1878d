package crypto_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

func keysOf(t *testing.T, b byte, cipher string) *crypto.Keys {
	t.Helper()
	k, err := crypto.NewKeys([32]byte(bytes.Repeat([]byte{b}, 32)), cipher)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keys(t *testing.T, b byte) *crypto.Keys { return keysOf(t, b, crypto.AES256GCM) }

func TestSealOpen(t *testing.T) {
	for _, c := range crypto.Ciphers {
		t.Run(c, func(t *testing.T) { testSealOpen(t, keysOf(t, 1, c)) })
	}
}

func testSealOpen(t *testing.T, k *crypto.Keys) {
	h := relayframe.Header{Type: relayframe.TypeData, Index: 7, Seq: 99}
	frame := k.Seal(nil, h, []byte("secret body"))
	if bytes.Contains(frame, []byte("secret")) {
		t.Fatal("body is in clear")
	}
	got, body, err := relayframe.ParseHeader(frame)
	if err != nil || got != h {
		t.Fatalf("header %+v %v", got, err)
	}
	_ = body
	clear, err := k.Open(nil, h, frame)
	if err != nil || string(clear) != "secret body" {
		t.Fatalf("open: %q %v", clear, err)
	}
}

func TestOpenRejects(t *testing.T) {
	k := keys(t, 1)
	h := relayframe.Header{Type: relayframe.TypeData, Index: 7, Seq: 99}
	frame := k.Seal(nil, h, []byte("secret body"))
	flip := func(i int) []byte { b := bytes.Clone(frame); b[i] ^= 1; return b }
	tests := []struct {
		name  string
		keys  *crypto.Keys
		h     relayframe.Header
		frame []byte
	}{
		{"other key", keys(t, 2), h, frame},
		{"other cipher, same key", keysOf(t, 1, crypto.ChaCha20Poly1305), h, frame},
		{"body bit flipped", k, h, flip(len(frame) - 20)},
		{"tag bit flipped", k, h, flip(len(frame) - 1)},
		{"header index changed", k, relayframe.Header{Type: 1, Index: 8, Seq: 99}, flip(7)},
		{"header seq changed", k, relayframe.Header{Type: 1, Index: 7, Seq: 98}, flip(15)},
		{"truncated", k, h, frame[:20]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.keys.Open(nil, tt.h, tt.frame); !errors.Is(err, crypto.ErrAuth) {
				t.Fatalf("err = %v, want ErrAuth", err)
			}
		})
	}
}

func TestBadKeyOrCipher(t *testing.T) {
	if _, err := crypto.DerivePSK(make([]byte, 31), crypto.AES256GCM); err == nil {
		t.Fatal("accepted a 31-byte key")
	}
	if _, err := crypto.NewKeys([32]byte{}, "rot13"); err == nil || !strings.Contains(err.Error(), `"rot13"`) {
		t.Fatalf("unknown cipher: err = %v, want one that names it", err)
	}
}

func TestReplayWindow(t *testing.T) {
	var w crypto.ReplayWindow
	steps := []struct {
		seq  uint64
		want bool
	}{
		{1000, true}, {1000, false}, {999, true}, {999, false}, {1002, true}, {1001, true}, {1001, false},
		{1000 + crypto.WindowSize, true}, {1000, false}, {1001, false}, {1003, true},
		{1 << 40, true}, {1<<40 - crypto.WindowSize, false}, {1<<40 - crypto.WindowSize + 1, true}, {1<<40 - 1, true}, {1 << 40, false},
	}
	for i, s := range steps {
		if got := w.Accept(s.seq); got != s.want {
			t.Fatalf("step %d: Accept(%d) = %v, want %v", i, s.seq, got, s.want)
		}
	}
}
