package integration_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/flynn/noise"
	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// TestRelayInsiderHelper is TestRelayInsider's insider, run by it in vm3's
// namespace (skipped otherwise): with vm3's private key and the mesh key
// it sends vm2 (1) a handshake initiation that claims vm1's public key and
// (2) a data frame sealed with the mesh key as vm1, in the shared-key
// format, carrying a datagram from 192.0.2.66 with TTL 255.
func TestRelayInsiderHelper(t *testing.T) {
	if os.Getenv("MCAST_INSIDER_KEY") == "" {
		t.Skip("run by TestRelayInsider")
	}
	own, err := crypto.ParsePrivateKey(os.Getenv("MCAST_INSIDER_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	victim, err := crypto.ParsePublicKey(os.Getenv("MCAST_INSIDER_VICTIM"))
	if err != nil {
		t.Fatal(err)
	}
	target, err := crypto.ParsePublicKey(os.Getenv("MCAST_INSIDER_TARGET_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	mesh, err := os.ReadFile(os.Getenv("MCAST_INSIDER_MESH"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("udp", os.Getenv("MCAST_INSIDER_TARGET"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// (1) Noise_IK as "vm1": vm1's public key with vm3's private key.
	psk, err := crypto.DerivePSK(mesh, crypto.AES256GCM)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite: noise.NewCipherSuite(noise.DH25519, noise.CipherAESGCM, noise.HashSHA256),
		Pattern:     noise.HandshakeIK, Initiator: true, Prologue: []byte("mcast relay v2"),
		StaticKeypair: noise.DHKey{Private: own[:], Public: victim[:]},
		PeerStatic:    target[:], PresharedKey: psk, PresharedKeyPlacement: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	msg, _, _, err := hs.WriteMessage(nil, relayframe.AppendPayload(nil, 12345))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		conn.Write(crypto.AppendMACs(relayframe.AppendInit(nil, msg), relayframe.HeaderLen, target, nil))
	}

	// (2) The shared-key forgery: version 1 header (sender vm1's node ID,
	// a sequence far ahead), AES-GCM under the key derived from the mesh
	// key file as the shared-key relays derived it.
	k, err := hkdf.Key(sha256.New, mesh, []byte("mcast-relay"), "mcast relay v1 frame key aes-256-gcm", 32)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := aes.NewCipher(k)
	aead, _ := cipher.NewGCM(b)
	rec := relayframe.Record{Kind: relayframe.KindDatagram, TTL: 255, ID: uint64(time.Now().UnixNano()),
		Src: netip.MustParseAddrPort("192.0.2.66:4000"), Dst: netip.MustParseAddrPort("239.1.1.1:5001"), Payload: []byte("forged")}
	body, _ := relayframe.AppendRecord(nil, &rec)
	hdr := []byte{'M', 'R', 1, relayframe.TypeData}
	hdr = binary.BigEndian.AppendUint32(hdr, config.NodeID("vm1"))
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(time.Now().UnixNano()))
	frame := aead.Seal(bytes.Clone(hdr), hdr[4:16], body, hdr)
	for i := 0; i < 3; i++ {
		conn.Write(frame)
	}
	t.Logf("sent 3 initiations claiming %s and 3 shared-key frames as vm1", victim)
}
