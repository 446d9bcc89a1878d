package cli

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/addrarg"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/progress"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stats"
	"github.com/mcasttools/mcast/internal/stream"
	"github.com/mcasttools/mcast/internal/wire/streamhdr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newSendCmd(env *Env) *cobra.Command {
	c := newCommand("send [flags] GROUP[:PORT] ...", "send datagrams to a group on a chosen interface",
		`Send datagrams to one or more groups (or, with --broadcast, to a broadcast address). GROUP defaults to
MULTICAST_ADDR and PORT to MULTICAST_PORT, else 28000; GROUP may be a list a,b or a range 239.1.1.1+99.
Each datagram carries the mcast header (sequence number, send time) that recv measures loss and latency with.`,
		`  mcast send -c 3 -i 100ms 239.1.1.1
  mcast send -I eth0 -t 4 --rate 1000 --duration 2s 239.1.1.1:5000
  mcast send --broadcast -c 2 -i 100ms 10.0.0.255`)
	fs := c.Flags()
	ifText := fs.StringP("iface", "I", "", "interface to send on: a name or one of its addresses (default: the route's)")
	portText := fs.StringP("port", "p", "", "UDP port (default: MULTICAST_PORT, else 28000)")
	count := fs.IntP("count", "c", 10, "datagrams to send to each group; 0 sends until interrupted (rate mode: 0 unless given)")
	interval := fs.DurationP("interval", "i", time.Second, "pause between datagrams (without --rate)")
	ttl := fs.IntP("ttl", "t", 1, "multicast TTL / hop limit (1 stays on the local network)")
	noLoop := fs.Bool("no-loop", false, "do not loop a copy back to receivers on this host (IP_MULTICAST_LOOP off)")
	message := fs.String("message", "message %d", "text to send after the header; %d becomes the sequence number from 0")
	rateText := fs.String("rate", "", "rate mode: datagrams per second per group, or 'max' for as fast as the kernel takes them")
	bitrateText := fs.String("bitrate", "", "rate mode: payload bit/s per group (e.g. 100M, 1.5G); needs --size")
	size := fs.IntP("size", "s", 0, fmt.Sprintf("UDP payload bytes per datagram, at least %d (the header); default: header + text", streamhdr.Len))
	duration := fs.Duration("duration", 0, "stop after this long (0: when --count is reached or interrupted)")
	broadcast := fs.Bool("broadcast", false, "send to an IPv4 broadcast address (subnet broadcast or 255.255.255.255) with SO_BROADCAST")
	raw := fs.Bool("raw", false, "send the text alone, without the mcast header (as plain multicast programs do)")
	asJSON := fs.BoolP("json", "j", false, "print NDJSON: a start record, one record per datagram (without --rate) and a summary (docs/json.md)")
	noGSO := fs.Bool("no-gso", false, "rate mode: batch with sendmmsg, never UDP_SEGMENT (raw-socket captures, such as mcast relay's, see a UDP_SEGMENT send as one datagram)")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		targets, err := sendTargets(env, fs, *portText, *broadcast)
		if err != nil {
			return err
		}
		switch {
		case *count < 0:
			return usagef("invalid --count %d: must be 0 or more", *count)
		case *interval < 0:
			return usagef("invalid --interval %s: must not be negative", *interval)
		case *ttl < 0 || *ttl > 255:
			return usagef("invalid --ttl %d: must be 0..255", *ttl)
		case *duration < 0:
			return usagef("invalid --duration %s: must not be negative", *duration)
		case *size != 0 && !*raw && *size < streamhdr.Len:
			return usagef("invalid --size %d: below the %d-byte header (use --raw for smaller datagrams)", *size, streamhdr.Len)
		case *size < 0 || *size > 65507:
			return usagef("invalid --size %d: must be 1..65507", *size)
		case *rateText != "" && *bitrateText != "":
			return usagef("--rate and --bitrate: give one of them")
		}
		rate, err := parseRate(*rateText, *bitrateText, *size)
		if err != nil {
			return err
		}
		if rate > 0 && !fs.Changed("count") {
			*count = 0
		}
		if !*broadcast {
			all, err := iface.List()
			if err != nil {
				return err
			}
			for _, t := range targets {
				if err := iface.LocalGroup(all, t.Group.WithZone("")); err != nil {
					return fmt.Errorf("sending to %s: %w", t, err)
				}
			}
		}
		opts := sock.SendOptions{TTL: *ttl, NoLoop: *noLoop, Broadcast: *broadcast}
		if rate > 0 {
			opts.SndBuf = 4 << 20
		}
		ifname := "chosen by the routing table"
		ifText2 := *ifText
		if z := targets[0].Group.Zone(); z != "" && ifText2 == "" {
			ifText2 = z
		}
		is6 := targets[0].Group.Is6()
		if ifText2 != "" {
			ifc, err := resolveIface(ifText2, ifaceNeed(is6))
			if err != nil {
				return err
			}
			opts.IfIndex = ifc.Index
			if !is6 {
				opts.Source, _ = ifc.IPv4()
			}
			ifname = ifc.Name
		} else if is6 && (targets[0].Group.IsLinkLocalMulticast() || targets[0].Group.IsInterfaceLocalMulticast()) {
			return usagef("group %s is link-local: name the interface with --iface or GROUP%%IFACE", targets[0].Group)
		} else if !*broadcast {
			// Say which interface the routing table picks, as --iface would.
			src, err := sock.RouteSource(targets[0].Group)
			if err != nil {
				return err
			}
			all, err := iface.List()
			if err != nil {
				return err
			}
			if owner, ok := iface.Owner(all, src); ok {
				ifname = owner.Name + " (chosen by the routing table)"
				if src.Is4() {
					opts.Source = src
				}
			}
		}
		var sinks []stream.Sink
		var first *sock.Sender
		opts.NoGSO = *noGSO
		for _, t := range targets {
			s, err := sock.Dial(t.Group.WithZone(""), t.Port, opts)
			if err != nil {
				return err
			}
			defer s.Close()
			if first == nil {
				first = s
			}
			sinks = append(sinks, s)
		}
		loop := "on"
		if *noLoop {
			loop = "off"
		}
		from := first.LocalAddr()
		if from.Addr().IsUnspecified() && !*broadcast {
			// An IPv6 socket is not bound to an address: name the one the
			// route picks, as the IPv4 banner does.
			if src, err := sock.RouteSourceVia(targets[0].Group.WithZone(""), opts.IfIndex); err == nil {
				from = netip.AddrPortFrom(src, from.Port())
			}
		}
		if *asJSON {
			rec := sendStart{Header: stamp("send.start"), Port: targets[0].Port, TTL: *ttl, Loop: !*noLoop, RatePPS: rate, Groups: []string{}}
			if opts.IfIndex != 0 || ifname != "chosen by the routing table" {
				rec.Iface = strings.TrimSuffix(ifname, " (chosen by the routing table)")
			}
			if math.IsInf(rate, 1) {
				rec.RatePPS = -1
			}
			rec.Source, rec.SourcePort = addrPortParts(from)
			for _, t := range targets {
				rec.Groups = append(rec.Groups, t.Group.String())
			}
			if err := writeRecord(env.Stdout, rec); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(env.Stdout, "use interface: %s\n", ifname)
			fmt.Fprintf(env.Stdout, "sending to %s from %s (ttl %d, loopback %s)\n", targetList(targets), from, *ttl, loop)
		}
		cfg := stream.SendConfig{Count: *count, Interval: *interval, Duration: *duration, Message: *message, Rate: rate,
			Size: *size, Raw: *raw, SenderID: rand.Uint32(), TTL: *ttl}
		if rate > 0 && !fs.Changed("message") {
			cfg.Message = ""
		}
		notes := env.Stdout
		if *asJSON {
			notes = env.Stderr
		}
		noteFragments(notes, targets[0].Group.WithZone(""), opts.IfIndex, datagramLen(cfg), rate > 0 && !*noGSO)
		sent := func(seq int, text string) { fmt.Fprintf(env.Stdout, "send successful: %s\n", text) }
		if *asJSON {
			sent = func(seq int, text string) {
				writeRecord(env.Stdout, sendDatagram{Header: stamp("send.datagram"), Seq: seq, Text: text})
			}
		}
		var status *liveStatus
		if rate > 0 && !*asJSON && isTerminal(env.Stdout) {
			p := &stream.SendProgress{}
			cfg.Progress = p
			status = startStatus(env.Stdout, func() (uint64, uint64) { return p.Sent.Load(), p.Bytes.Load() },
				func(elapsed time.Duration, pps, bps float64, sent uint64) string {
					return progress.Format(elapsed, pps, bps, "sent", sent)
				})
		}
		res, err := stream.Send(ctx, sinks, cfg, sent)
		if status != nil {
			status.Stop()
		}
		if *asJSON {
			size := float64(0)
			if res.Sent > 0 {
				size = float64(res.Bytes) / float64(res.Sent)
			}
			sum := sendSummary{Header: stamp("send.summary"), Sent: res.Sent, Bytes: res.Bytes, Groups: len(targets),
				ElapsedSeconds: res.Elapsed.Seconds(), RatePPS: res.Rate(), RateBPS: res.Rate() * size * 8, Segmented: res.Segments}
			if err != nil {
				sum.Error = err.Error()
			}
			if werr := writeRecord(env.Stdout, sum); werr != nil && err == nil {
				err = werr
			}
			return err
		}
		if rate > 0 {
			mode := "sendmmsg"
			if res.Segments {
				mode = "UDP_SEGMENT"
			}
			asked := "max"
			if !math.IsInf(rate, 1) {
				asked = fmt.Sprintf("%.0f datagrams/s", rate)
			}
			size := float64(0)
			if res.Sent > 0 {
				size = float64(res.Bytes) / float64(res.Sent) // what was sent, --size or not
			}
			fmt.Fprintf(env.Stdout, "sent %d datagrams of %.0f bytes to each of %d group(s) in %.2fs: %.0f datagrams/s, %s per group (asked: %s; %s)\n",
				res.Sent, size, len(targets), res.Elapsed.Seconds(), res.Rate(), stats.HumanBitRate(res.Rate()*size*8), asked, mode)
			if !math.IsInf(rate, 1) && res.Rate() < 0.95*rate && res.Elapsed > time.Second {
				fmt.Fprintf(env.Stdout, "note: achieved %.0f datagrams/s, below the asked %.0f: this machine could not go faster\n", res.Rate(), rate)
			}
		}
		return err
	}
	return c
}

// datagramLen is the UDP payload of a datagram that cfg sends (of the
// first one, when the text holds %d and no --size is given).
func datagramLen(cfg stream.SendConfig) int {
	if cfg.Size > 0 {
		return cfg.Size
	}
	n := len(stream.Message(cfg.Message, 0))
	if !cfg.Raw {
		n += streamhdr.Len
	}
	return n
}

// noteFragments says once, before sending, when datagrams of size bytes are
// larger than the MTU of the route to group: the kernel fragments each, and
// in rate mode UDP_SEGMENT refuses them, so batches go out with sendmmsg.
func noteFragments(w io.Writer, group netip.Addr, ifindex, size int, segments bool) {
	mtu, err := sock.PathMTU(group, ifindex)
	if err != nil || mtu <= 0 {
		return
	}
	hdr := 28 // IPv4 and UDP headers
	if group.Is6() {
		hdr = 48
	}
	if size+hdr <= mtu {
		return
	}
	how := ""
	if segments {
		how = "; UDP_SEGMENT does not take datagrams above the MTU, so batches go out with sendmmsg"
	}
	fmt.Fprintf(w, "note: datagrams of %d bytes do not fit the MTU %d of the route to %s (at most %d bytes of UDP payload): the kernel fragments each one%s; a receiver loses a whole datagram when one fragment is lost\n",
		size, mtu, group, mtu-hdr, how)
}

func targetList(ts []addrarg.Target) string {
	if len(ts) == 1 {
		return ts[0].String()
	}
	return fmt.Sprintf("%s .. %s (%d groups)", ts[0], ts[len(ts)-1], len(ts))
}

// parseRate turns --rate or --bitrate into datagrams per second (0: not
// rate mode; +Inf: max).
func parseRate(rate, bitrate string, size int) (float64, error) {
	if rate != "" {
		if rate == "max" {
			return math.Inf(1), nil
		}
		v, err := strconv.ParseFloat(rate, 64)
		if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, usagef("invalid --rate %q: want datagrams per second above 0, or max", rate)
		}
		return v, nil
	}
	if bitrate == "" {
		return 0, nil
	}
	if size <= 0 {
		return 0, usagef("--bitrate %s needs --size", bitrate)
	}
	mult := 1.0
	t := strings.TrimSpace(bitrate)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1e3, t[:n-1]
		case 'm', 'M':
			mult, t = 1e6, t[:n-1]
		case 'g', 'G':
			mult, t = 1e9, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, usagef("invalid --bitrate %q: want bit/s above 0, e.g. 100M", bitrate)
	}
	return v * mult / float64(size*8), nil
}

// sendTargets reads the destinations: groups (lists, ranges), or with
// broadcast one IPv4 broadcast address.
func sendTargets(env *Env, fs *pflag.FlagSet, portFlag string, broadcast bool) ([]addrarg.Target, error) {
	port, err := portFrom(env, portFlag)
	if err != nil {
		return nil, err
	}
	if broadcast {
		if fs.NArg() != 1 {
			return nil, usagef("--broadcast needs one ADDRESS[:PORT], e.g. 10.0.0.255 or 255.255.255.255")
		}
		host, p := addrarg.SplitHostPort(fs.Arg(0))
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is4() || a.IsMulticast() {
			return nil, usagef("invalid broadcast address %q: want an IPv4 broadcast address such as 10.0.0.255 or 255.255.255.255", fs.Arg(0))
		}
		if p != "" {
			if port, err = addrarg.ParsePort(p); err != nil {
				return nil, UsageError{err}
			}
		}
		return []addrarg.Target{{Group: a, Port: port}}, nil
	}
	ts, err := addrarg.ParseTargets(fs.Args(), env.Getenv("MULTICAST_ADDR"), port)
	if err != nil {
		return nil, UsageError{err}
	}
	return ts, nil
}

func portFrom(env *Env, portFlag string) (uint16, error) {
	var port uint16
	var err error
	if portFlag != "" {
		port, err = addrarg.ParsePort(portFlag)
	} else {
		port, err = addrarg.DefaultPortFrom(env.Getenv("MULTICAST_PORT"))
	}
	if err != nil {
		return 0, UsageError{err}
	}
	return port, nil
}

// resolveIface finds the interface the user named. An unknown name is a
// usage error; an interface in the wrong state is a runtime error.
func resolveIface(text string, need iface.Need) (iface.Interface, error) {
	all, err := iface.List()
	if err != nil {
		return iface.Interface{}, err
	}
	ifc, err := iface.Resolve(all, text, need)
	return ifc, classifyIfaceErr(err)
}

// ifaceNeed is what an interface must have to carry the family's
// multicast: an IPv4 address, or for IPv6 nothing more than the link-local
// address every interface has.
func ifaceNeed(is6 bool) iface.Need {
	if is6 {
		return iface.NeedAny
	}
	return iface.NeedIPv4
}

func classifyIfaceErr(err error) error {
	if errors.Is(err, iface.ErrUnknown) {
		return UsageError{err}
	}
	return err
}
