package relay

// Rate limits on the log lines that packets from others can trigger
// (frames failing authentication, malformed frames and messages, unknown
// nodes, wrong sources, replays), so that a flood of them cannot turn the
// log into the attack: each kind of line is written at most once per
// logEvery per peer, and the next one says how many were held back.

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// logEvery is the least interval between two log lines of one kind.
const logEvery = 5 * time.Second

// maxLogKeys bounds the kinds of lines tracked at once; past it, lines of
// new kinds share one entry per message.
const maxLogKeys = 256

// logKey is one kind of line: its message (one per call site) and the
// peer it concerns (0: none, or not a configured peer).
type logKey struct {
	msg  string
	node uint32
}

type logEntry struct {
	last time.Time // when a line of this kind was last written
	held uint64    // lines held back since
}

// logLimiter decides which rate-limited lines are written. It is pure: the
// caller passes the time.
type logLimiter struct {
	mu   sync.Mutex
	keys map[logKey]*logEntry
}

// allow reports whether a line of kind k may be written at now and, if so,
// how many lines of its kind were held back since the last one written.
func (l *logLimiter) allow(k logKey, now time.Time) (held uint64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = map[logKey]*logEntry{}
	}
	e := l.keys[k]
	if e == nil {
		if len(l.keys) >= maxLogKeys {
			k.node = 0
			e = l.keys[k]
		}
		if e == nil {
			if len(l.keys) >= maxLogKeys {
				return 0, false // full of other messages' kinds: hold it, uncounted
			}
			l.keys[k] = &logEntry{last: now}
			return 0, true
		}
	}
	if now.Sub(e.last) < logEvery {
		e.held++
		return 0, false
	}
	held, e.last, e.held = e.held, now, 0
	return held, true
}

// due returns the kinds whose lines were held back and whose interval has
// passed at now, with how many each held back, and starts their next
// interval (the caller writes one line for each); kinds quiet for an
// interval are forgotten, so the table shrinks after a flood.
func (l *logLimiter) due(now time.Time) map[logKey]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out map[logKey]uint64
	for k, e := range l.keys {
		switch {
		case now.Sub(e.last) < logEvery:
		case e.held == 0:
			delete(l.keys, k)
		default:
			if out == nil {
				out = map[logKey]uint64{}
			}
			out[k] = e.held
			e.last, e.held = now, 0
		}
	}
	return out
}

// dropLogged counts a frame or message from others dropped for reason and
// logs it as a warning (msg, the address it came from, the peer node
// names, err), at most once per logEvery per msg and node, with the
// number of such lines held back since the last (suppressed).
func (r *Relay) dropLogged(reason string, node uint32, now time.Time, msg string, from netip.AddrPort, err error) {
	r.stats.drop(reason)
	held, ok := r.stats.remoteLog.allow(logKey{msg, node}, now)
	if !ok {
		return
	}
	attrs := []slog.Attr{slog.String("reason", reason)}
	if from.IsValid() {
		attrs = append(attrs, slog.String("from", from.String()))
	}
	if name := r.peerName(node); name != "" {
		attrs = append(attrs, slog.String("peer", name))
	}
	if err != nil {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	if held > 0 {
		attrs = append(attrs, slog.Uint64("suppressed", held))
	}
	r.log.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}

// flushLogs writes, for each kind of rate-limited line held back in the
// interval that ended, one line with the count.
func (r *Relay) flushLogs(now time.Time) {
	for k, held := range r.stats.remoteLog.due(now) {
		attrs := []slog.Attr{slog.Uint64("suppressed", held), slog.Duration("within", logEvery)}
		if name := r.peerName(k.node); name != "" {
			attrs = append(attrs, slog.String("peer", name))
		}
		r.log.LogAttrs(context.Background(), slog.LevelWarn, k.msg, attrs...)
	}
}

// peerName is the name of the configured peer with node ID id, or "".
func (r *Relay) peerName(id uint32) string {
	if id == 0 {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.peers[id]; p != nil {
		return p.cfg.Name
	}
	return ""
}
