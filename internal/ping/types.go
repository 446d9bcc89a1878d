package ping

import (
	"fmt"
	"net/netip"
	"time"
)

// Mode is how the group traffic travels.
type Mode int

// Modes: any-source multicast, source-specific multicast, IPv4 broadcast.
const (
	ModeASM Mode = iota
	ModeSSM
	ModeBroadcast
)

func (m Mode) String() string {
	switch m {
	case ModeSSM:
		return "ssm"
	case ModeBroadcast:
		return "broadcast"
	}
	return "asm"
}

// Cast returns the name of the group kind of answer: "multicast" or "broadcast".
func (m Mode) Cast() string {
	if m == ModeBroadcast {
		return "broadcast"
	}
	return "multicast"
}

// ParseMode parses asm, ssm or broadcast.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "asm":
		return ModeASM, nil
	case "ssm":
		return ModeSSM, nil
	case "broadcast", "bcast", "ipbc":
		return ModeBroadcast, nil
	}
	return 0, fmt.Errorf("invalid mode %q: want asm, ssm or broadcast", s)
}

// Peer is one other host of the list.
type Peer struct {
	Name string // as the user wrote it
	Addr netip.Addr
}

// Config configures an Engine.
type Config struct {
	Local      netip.Addr // this host's address from the list
	LocalName  string
	LocalIndex int        // where this host stands in the list (for the matrix's order)
	Peers      []Peer     // the other hosts, in the list's order
	Group      netip.Addr // multicast group, or the broadcast address in ModeBroadcast
	Port       uint16     // UDP port of every host (omping's 4321)
	Mode       Mode
	Count      int            // queries per peer; 0: until stopped
	Interval   time.Duration  // between queries to one peer
	TTL        int            // TTL / hop limit of what this host sends
	ServerInfo string         // answered to an Init that asks for it
	RespondSSM bool           // answer ssmping/asmping requests
	IDs        func(b []byte) // fills b with random bytes (client and session IDs)
	ServeOnly  bool           // only answer peers, never ping them
}

// Packet is a datagram received or to send.
type Packet struct {
	Data      []byte
	Peer      netip.AddrPort // incoming: the sender; outgoing: the destination
	Src       netip.Addr     // outgoing: source address to use; incoming: unused
	Dst       netip.Addr     // incoming: the destination address (pktinfo)
	Multicast bool           // incoming: arrived to the group (or broadcast); outgoing: sent to it
	TTL       int            // incoming: TTL or hop limit seen, -1 when unknown
	At        time.Time      // incoming: when it was read
}

// EventKind says what an Event reports.
type EventKind int

// Kinds of event.
const (
	EvWaiting   EventKind = iota // an Init was sent, no Response yet
	EvJoined                     // a session began: pinging
	EvStopped                    // pinging a peer ended (Text says why)
	EvAnswer                     // an answer arrived
	EvSSMServed                  // an ssmping/asmping request was answered
	EvDropped                    // a datagram was dropped (Text says why)
	EvHint                       // advice about the run as a whole (Text), once
)

// Event is something worth a line of output.
type Event struct {
	Kind      EventKind
	Peer      string // the peer's name
	Addr      netip.AddrPort
	Multicast bool
	Seq       uint32
	Size      int
	Dist      int // hops; -1 unknown
	RTT       time.Duration
	Dup       bool
	Text      string
}

// Drops counts datagrams that were not used, by reason.
type Drops struct {
	Malformed     uint64 `json:"malformed"`       // did not decode
	UnknownSender uint64 `json:"unknown_sender"`  // not from a host of the list
	NotOurs       uint64 `json:"not_ours"`        // another client's answer, a stale session, a wrong state
	SSMRefused    uint64 `json:"ssmping_refused"` // ssmping request for a group ssmpingd would refuse
}
