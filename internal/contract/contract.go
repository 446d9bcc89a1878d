// Package contract is the JSON contract every subcommand's --json output
// follows: each record carries its type, the schema version and the time,
// and the JSON Schema of a record type is generated from its Go type.
//
// Naming rules (docs/json.md): an IP address goes in a field named for its
// role (source, group, address) and a port in <role>_port or port, never as
// one "ip:port" string; rates end in _pps and _bps; durations end in
// _seconds, and _ms only for latency, round-trip time and jitter values;
// percentages end in _pct; counts are plain nouns (received, packets, bytes).
package contract

import "time"

// Version is the schema version every record carries in its schema field.
// Bump it whenever a field is renamed, removed or changes meaning.
const Version = "mcast/1"

// Header is the part every record shares. Embed it in a record type; its
// fields are promoted into the record's JSON object.
type Header struct {
	Type   string    `json:"type"`   // what the record is: "report", "summary", "status", ...
	Schema string    `json:"schema"` // the contract version, Version
	Time   time.Time `json:"time"`   // when the record was made, RFC 3339 in UTC with nanoseconds
}

// Stamp returns the Header of a record of type typ made at t (in UTC).
func Stamp(typ string, t time.Time) Header {
	return Header{Type: typ, Schema: Version, Time: t.UTC()}
}
