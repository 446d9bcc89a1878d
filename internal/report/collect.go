// Package report draws what mcast measured as one self-contained HTML page:
// inline SVG and CSS, no network fetches, no scripts. It reads the JSON
// records the commands print with --json (recv's NDJSON reports and
// datagram events, ping's report, watch's events and summary, relay
// status), so `--report FILE.html` and `mcast report FILE.json...` share
// one path: records in, a page out. It depends on no other mcast package.
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/contract"
)

// Limits that keep a page small for any run: charts are drawn for the
// busiest flows only (every flow still has a table row), and a series is
// thinned to MaxPoints by keeping every other point.
const (
	MaxCharts       = 12  // flows, peers or groups drawn as charts
	MaxSeriesFlows  = 200 // flows whose rate over time is kept
	MaxPoints       = 600 // points per series
	MaxTimelineRows = 60  // (group, host) rows in watch's timeline
	MaxTableRows    = 500 // table rows shown open; the rest are folded
)

// Collector gathers records and renders them. The zero value is not ready:
// use New.
type Collector struct {
	recv  *recvData
	ping  []pingDoc
	watch *watchData
	relay []relayDoc
}

// New returns an empty collector.
func New() *Collector { return &Collector{} }

// Write takes one or more whole JSON values (json.Encoder writes one per
// call), so a command can encode its records straight into a collector.
func (c *Collector) Write(p []byte) (int, error) {
	if err := c.AddFrom(bytes.NewReader(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// AddFrom reads a stream of JSON values (NDJSON or indented documents)
// and adds each.
func (c *Collector) AddFrom(r io.Reader) error {
	dec := json.NewDecoder(r)
	for n := 1; ; n++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading JSON value %d: %w", n, err)
		}
		if err := c.Add(raw); err != nil {
			return fmt.Errorf("JSON value %d: %w", n, err)
		}
	}
}

// probe has the field that tells the commands' records apart: type is
// "command.record" (recv.summary, watch.join, ping.report, relay.status).
type probe struct {
	Type string `json:"type"`
}

// Add takes one JSON record of recv, ping, watch or relay status. A record
// of none of them is an error naming what it holds.
func (c *Collector) Add(rec []byte) error {
	var p probe
	if err := json.Unmarshal(rec, &p); err != nil {
		return fmt.Errorf("decoding a record: %w", err)
	}
	command, record, _ := strings.Cut(p.Type, ".")
	switch {
	case command == "ping":
		var d pingDoc
		if err := json.Unmarshal(rec, &d); err != nil {
			return fmt.Errorf("decoding a ping report: %w", err)
		}
		c.ping = append(c.ping, d)
	case command == "relay":
		var d relayDoc
		if err := json.Unmarshal(rec, &d); err != nil {
			return fmt.Errorf("decoding a relay status: %w", err)
		}
		c.relay = append(c.relay, d)
	case command == "recv" && record != "":
		if c.recv == nil {
			c.recv = newRecvData()
		}
		return c.recv.add(rec, record)
	case command == "watch" && record != "":
		if c.watch == nil {
			c.watch = &watchData{}
		}
		return c.watch.add(rec, record)
	default:
		return fmt.Errorf("record %.60q is not from recv, ping, watch or relay status (a record has a type such as recv.summary since schema %s)", rec, contract.Version)
	}
	return nil
}

// Empty reports whether nothing was added.
func (c *Collector) Empty() bool {
	return c.recv == nil && len(c.ping) == 0 && c.watch == nil && len(c.relay) == 0
}

// Render writes the page. Generated is the time printed in its footer.
func (c *Collector) Render(w io.Writer, title string, generated time.Time) error {
	p := &page{}
	p.head(title)
	if c.Empty() {
		p.empty("No records were given: nothing was measured.")
	}
	if c.recv != nil {
		c.recv.render(p)
	}
	if len(c.ping) > 0 {
		renderPing(p, c.ping)
	}
	if c.watch != nil {
		c.watch.render(p)
	}
	if len(c.relay) > 0 {
		renderRelay(p, c.relay)
	}
	p.foot(generated)
	_, err := w.Write(p.b.Bytes())
	return err
}
