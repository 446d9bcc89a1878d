// Command mdnsload is bench/reflector.sh's mDNS load: a static responder and
// a query generator, run in the network namespaces the bench makes.
//
//	mdnsload respond IFACE ADDR       answer every A question for a name under bench.local.
//	                                  with ADDR, by multicast from port 5353, TTL 255, at once
//	mdnsload load IFACE RATE SECONDS  send RATE queries a second for SECONDS from port 5353, each
//	                                  for a new name q<seq>t<send time>.bench.local. (QM, ID 0:
//	                                  what a browser sends), hear the answers on 224.0.0.251:5353,
//	                                  and print one JSON line: sent, answered (distinct names),
//	                                  answers a second, latency p50/p99 in ms, copies heard again
//
// Each name carries its send time, and each answer's latency runs from it to
// the kernel's receive timestamp, so a reflector that merges questions or
// answers into other packets is measured the same way as one that copies
// datagrams.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"time"

	"github.com/mcasttools/mcast/internal/sock"
	"golang.org/x/net/dns/dnsmessage"
)

var (
	group  = netip.MustParseAddr("224.0.0.251")
	suffix = []byte(".bench.local.")
)

const port = 5353

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mdnsload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	usage := fmt.Errorf("usage: mdnsload respond IFACE ADDR | load IFACE RATE SECONDS (got %q)", args)
	if len(args) < 3 {
		return usage
	}
	ifi, err := net.InterfaceByName(args[1])
	if err != nil {
		return fmt.Errorf("interface %q: %w", args[1], err)
	}
	switch {
	case args[0] == "respond" && len(args) == 3:
		addr, err := netip.ParseAddr(args[2])
		if err != nil || !addr.Is4() {
			return fmt.Errorf("responder address %q: not an IPv4 address", args[2])
		}
		return respond(ctx, ifi, addr)
	case args[0] == "load" && len(args) == 4:
		rate, err := strconv.ParseFloat(args[2], 64)
		if err != nil || rate <= 0 {
			return fmt.Errorf("rate %q: not a positive number", args[2])
		}
		secs, err := strconv.ParseFloat(args[3], 64)
		if err != nil || secs <= 0 {
			return fmt.Errorf("seconds %q: not a positive number", args[3])
		}
		return load(ctx, ifi, rate, secs)
	}
	return usage
}

// open joins 224.0.0.251:5353 on ifi and makes a sender from its IPv4
// address, port 5353, TTL 255.
func open(ctx context.Context, ifi *net.Interface) (*sock.Listener, *sock.Sender, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, nil, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
	}
	var src netip.Addr
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			src = p.Addr()
		}
	}
	if !src.IsValid() {
		return nil, nil, fmt.Errorf("interface %s has no IPv4 address", ifi.Name)
	}
	l, err := sock.ListenConfig{Groups: []netip.Addr{group}, Port: port, IfIndex: ifi.Index, RcvBuf: 16 << 20}.Listen(ctx)
	if err != nil {
		return nil, nil, err
	}
	s, err := sock.Dial(group, port, sock.SendOptions{IfIndex: ifi.Index, Source: src, SourcePort: port, TTL: 255, NoLoop: true, NoGSO: true, SndBuf: 4 << 20})
	if err != nil {
		l.Close()
		return nil, nil, err
	}
	return l, s, nil
}

func respond(ctx context.Context, ifi *net.Interface, addr netip.Addr) error {
	l, s, err := open(ctx, ifi)
	if err != nil {
		return err
	}
	defer l.Close()
	defer s.Close()
	fmt.Println("responding")
	b := sock.NewBatch(64, 9000)
	var p dnsmessage.Parser
	var out [][]byte
	for {
		ds, err := l.ReadBatch(ctx, b)
		if err != nil {
			return nil // the context ended
		}
		out = out[:0]
		for _, d := range ds {
			h, err := p.Start(d.Payload)
			if err != nil || h.Response {
				continue
			}
			resp := dnsmessage.NewBuilder(nil, dnsmessage.Header{Response: true, Authoritative: true})
			resp.StartAnswers()
			n := 0
			for {
				q, err := p.Question()
				if err != nil {
					break
				}
				name := q.Name.Data[:q.Name.Length]
				if (q.Type == dnsmessage.TypeA || q.Type == dnsmessage.TypeALL) && bytes.HasSuffix(bytes.ToLower(name), suffix) {
					rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET | 0x8000, TTL: 120}
					if resp.AResource(rh, dnsmessage.AResource{A: addr.As4()}) == nil {
						n++
					}
				}
			}
			if msg, err := resp.Finish(); err == nil && n > 0 {
				out = append(out, msg)
			}
		}
		if len(out) > 0 {
			s.SendBatch(out)
		}
	}
}

// result is one load run's line.
type result struct {
	Offered    float64  `json:"offered"`
	Seconds    float64  `json:"seconds"`
	Sent       int      `json:"sent"`
	Answered   int      `json:"answered"`
	PerSecond  float64  `json:"answers_per_s"`
	P50        *float64 `json:"p50_ms"`
	P99        *float64 `json:"p99_ms"`
	Duplicates int      `json:"duplicates"`
}

func load(ctx context.Context, ifi *net.Interface, rate, secs float64) error {
	l, s, err := open(ctx, ifi)
	if err != nil {
		return err
	}
	defer s.Close()
	total := int(rate * secs)
	rctx, stopRecv := context.WithCancel(ctx)
	done := make(chan result, 1)
	go func() { done <- receive(rctx, l, total) }()

	start := time.Now()
	sent := 0
	var batch [][]byte
	for sent < total && ctx.Err() == nil {
		due := min(total, int(time.Since(start).Seconds()*rate)+1)
		batch = batch[:0]
		for ; sent < due; sent++ {
			batch = append(batch, query(sent, time.Now()))
		}
		for len(batch) > 0 {
			n, err := s.SendBatch(batch)
			if err != nil {
				n = max(n, 1) // a full send queue: counted as sent, not answered
			}
			batch = batch[n:]
		}
		if sent < total {
			time.Sleep(time.Until(start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))))
		}
	}
	elapsed := time.Since(start).Seconds()
	time.Sleep(time.Second) // answers still on their way
	stopRecv()
	r := <-done
	l.Close()
	r.Offered, r.Seconds, r.Sent = rate, elapsed, sent
	r.PerSecond = float64(r.Answered) / elapsed
	return json.NewEncoder(os.Stdout).Encode(r)
}

// query is the query for sequence number seq, sent at t.
func query(seq int, t time.Time) []byte {
	b := []byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}
	b = fmt.Appendf(b, "q%dt%d", seq, t.UnixNano())
	b[12] = byte(len(b) - 13)
	b = append(b, "\x05bench\x05local\x00"...)
	return append(b, 0, 1, 0, 1) // A, IN, QM
}

// receive counts the distinct answers heard until ctx ends and their
// latencies.
func receive(ctx context.Context, l *sock.Listener, total int) result {
	seen := make([]bool, total)
	var lat []float64
	var r result
	b := sock.NewBatch(64, 9000)
	var p dnsmessage.Parser
	for {
		ds, err := l.ReadBatch(ctx, b)
		if err != nil {
			break
		}
		for _, d := range ds {
			h, err := p.Start(d.Payload)
			if err != nil || !h.Response || p.SkipAllQuestions() != nil {
				continue
			}
			for {
				a, err := p.AnswerHeader()
				if err != nil {
					break
				}
				p.SkipAnswer()
				seq, sentAt, ok := parseName(a.Name.Data[:a.Name.Length])
				if !ok || seq >= total {
					continue
				}
				if seen[seq] {
					r.Duplicates++
					continue
				}
				seen[seq] = true
				lat = append(lat, float64(d.At.UnixNano()-sentAt)/1e6)
			}
		}
	}
	slices.Sort(lat)
	r.Answered = len(lat)
	if len(lat) > 0 {
		pct := func(q float64) *float64 { v := lat[min(len(lat)-1, int(q*float64(len(lat))))]; return &v }
		r.P50, r.P99 = pct(0.50), pct(0.99)
	}
	return r
}

// parseName reads q<seq>t<unix ns>.bench.local.
func parseName(name []byte) (seq int, sentAt int64, ok bool) {
	first, rest, _ := bytes.Cut(name, []byte("."))
	if len(first) < 4 || first[0] != 'q' || !bytes.EqualFold(append([]byte("."), rest...), suffix) {
		return 0, 0, false
	}
	s, t, found := bytes.Cut(first[1:], []byte("t"))
	if !found {
		return 0, 0, false
	}
	n, err1 := strconv.Atoi(string(s))
	at, err2 := strconv.ParseInt(string(t), 10, 64)
	return n, at, err1 == nil && err2 == nil && n >= 0
}
