// Package stream sends and receives datagram streams: pacing on the send
// side; on the receive side, a Session that reads batches, accounts each
// datagram into flows, counts the path it took (package origin) per
// interface and decides which datagrams are shown, and the per-interface
// summary of what crossed the network. The caller renders.
package stream

import (
	"bytes"
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
// (without a trailing newline), text padded with zero bytes to a fixed size
// as the text and the number of padding bytes, anything else as hex.
func FormatPayload(p []byte) string {
	body := bytes.TrimRight(p, "\x00")
	if pad := len(p) - len(body); pad > 0 && len(body) > 0 {
		if text, ok := printable(body); ok {
			unit := "bytes"
			if pad == 1 {
				unit = "byte"
			}
			return fmt.Sprintf("%s (then %d zero %s of padding)", shorten(text, len(body)), pad, unit)
		}
	}
	if text, ok := printable(p); ok {
		return shorten(text, len(p))
	}
	if len(p) > maxShown/2 {
		return fmt.Sprintf("hex:%s... (%d bytes)", hex.EncodeToString(p[:maxShown/2]), len(p))
	}
	return "hex:" + hex.EncodeToString(p)
}

// printable returns p as text without a trailing newline, and whether it
// is printable text.
func printable(p []byte) (string, bool) {
	text := strings.TrimRight(string(p), "\r\n")
	return text, utf8.ValidString(text) && strings.IndexFunc(text, func(r rune) bool { return !unicode.IsPrint(r) && r != '\t' }) < 0
}

// shorten cuts text to what a log line shows; n is the bytes it came from.
func shorten(text string, n int) string {
	if len(text) > maxShown {
		return fmt.Sprintf("%s... (%d bytes)", text[:maxShown], n)
	}
	return text
}
