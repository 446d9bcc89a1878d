// Package stream sends and receives datagram streams: pacing on the send
// side; on the receive side, a Session that reads batches, accounts each
// datagram into flows, counts the path it took (package origin) per
// interface and decides which datagrams are shown, and the per-interface
// summary of what crossed the network. The caller renders.
package stream

import (
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxShown is how many payload bytes a log line shows.
const maxShown = 256

// Message expands a message template: every %d becomes the sequence number.
func Message(template string, seq int) string {
	return strings.ReplaceAll(template, "%d", fmt.Sprint(seq))
}

// FormatPayload renders a payload for a log line: printable text as it is
// (without a trailing newline), anything else as hex.
func FormatPayload(p []byte) string {
	text := strings.TrimRight(string(p), "\r\n")
	if utf8.ValidString(text) && strings.IndexFunc(text, func(r rune) bool { return !unicode.IsPrint(r) && r != '\t' }) < 0 {
		if len(text) > maxShown {
			return fmt.Sprintf("%s... (%d bytes)", text[:maxShown], len(p))
		}
		return text
	}
	if len(p) > maxShown/2 {
		return fmt.Sprintf("hex:%s... (%d bytes)", hex.EncodeToString(p[:maxShown/2]), len(p))
	}
	return "hex:" + hex.EncodeToString(p)
}
