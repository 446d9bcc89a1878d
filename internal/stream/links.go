package stream

import (
	"fmt"
	"time"

	"github.com/mcasttools/mcast/internal/iface"
)

// What a receive loses without the datagram counts showing it: datagrams
// the kernel dropped because the socket's buffer was full, and what could
// not arrive once an interface went down or was deleted.

// CheckLinks compares the interfaces a receive counts on with all, the
// host's interfaces now, and notes on each NIC when it went down, came back
// up or was deleted, and after how many datagrams. It reports whether every
// such interface is deleted: then nothing more can arrive. Call it with the
// Session locked.
func (s *Session) CheckLinks(all []iface.Interface, now time.Time) (allGone bool) {
	allGone = len(s.order) > 0
	for _, n := range s.order {
		state := "deleted"
		if ifc, ok := iface.ByIndex(all, n.Index); ok && ifc.Name == n.Name {
			state = ""
			if !ifc.Up {
				state = "down"
			}
		}
		if state != "deleted" {
			allGone = false
		}
		if state == n.linkState || n.linkState == "deleted" {
			continue
		}
		at := fmt.Sprintf("%.2fs into the receive, after %d datagrams", now.Sub(s.rcv.start).Seconds(), n.Total())
		switch state {
		case "deleted":
			n.LinkNotes = append(n.LinkNotes, fmt.Sprintf("%s was deleted %s: nothing more could arrive on it, and what was sent to it afterwards is lost", n.Name, at))
		case "down":
			n.LinkNotes = append(n.LinkNotes, fmt.Sprintf("%s went down %s: nothing arrives on it while it is down", n.Name, at))
		default:
			n.LinkNotes = append(n.LinkNotes, fmt.Sprintf("%s came back up %s", n.Name, at))
		}
		n.linkState = state
	}
	return allGone
}

// ReadDrops reads from each socket how many datagrams the kernel dropped on
// it (sock.Listener.Drops) into its NIC's Drops, and returns the sum. Call
// it with the Session locked.
func (s *Session) ReadDrops() uint64 {
	for _, n := range s.order {
		n.Drops = 0
	}
	var sum uint64
	for i, l := range s.ls {
		d := l.Drops()
		sum += d
		if n := s.nics[s.lsIf[i]]; n != nil {
			n.Drops += d
		}
	}
	return sum
}

// Notes are the NICs' notes on losses the counts do not show, in order.
func (s *Session) Notes() []string {
	notes := []string{}
	for _, n := range s.order {
		notes = append(notes, n.Notes()...)
	}
	return notes
}

// Notes says what the interface lost that its counts do not show: the
// changes of its state, and the datagrams the kernel dropped.
func (n *NIC) Notes() []string {
	notes := append([]string(nil), n.LinkNotes...)
	if n.Drops > 0 {
		notes = append(notes, fmt.Sprintf("the kernel dropped %d datagrams for %s before recv read them: the socket's receive buffer was full (recv was stopped or stalled, or read slower than they arrived); a larger --rcvbuf holds more", n.Drops, n.Name))
	}
	return notes
}
