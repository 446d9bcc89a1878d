package relay

// countingTransport is memberlist's own UDP and TCP transport with the
// gossip it carries counted: packets and bytes each way, and the bytes of
// its streams (joins and push/pull state exchanges), which give the fleet's
// gossip bandwidth in status and metrics.

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// gossipCounts are the gossip a relay sent and received.
type gossipCounts struct {
	packetsOut, packetsIn, bytesOut, bytesIn atomic.Uint64
	streams, streamBytesOut, streamBytesIn   atomic.Uint64
}

type countingTransport struct {
	t       *memberlist.NetTransport
	c       *gossipCounts
	packets chan *memberlist.Packet
	conns   chan net.Conn
	// stopping: Shutdown began; the pump drops what the listeners still
	// hand over, so that they can end. done: they ended.
	stopping, done chan struct{}
}

var _ memberlist.NodeAwareTransport = (*countingTransport)(nil)

// newCountingTransport opens memberlist's transport on addr:port.
func newCountingTransport(addr string, port int, c *gossipCounts, log *gossipLog) (*countingTransport, error) {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{addr}, BindPort: port, Logger: newGossipLogger(log)})
	if err != nil {
		return nil, err
	}
	ct := &countingTransport{t: nt, c: c, packets: make(chan *memberlist.Packet), conns: make(chan net.Conn),
		stopping: make(chan struct{}), done: make(chan struct{})}
	go func() {
		for {
			select {
			case <-ct.done:
				return
			case p := <-nt.PacketCh():
				c.packetsIn.Add(1)
				c.bytesIn.Add(uint64(len(p.Buf)))
				select {
				case ct.packets <- p:
				case <-ct.stopping:
				}
			case conn := <-nt.StreamCh():
				c.streams.Add(1)
				select {
				case ct.conns <- &countingConn{Conn: conn, c: c}:
				case <-ct.stopping:
					conn.Close()
				}
			}
		}
	}()
	return ct, nil
}

func (ct *countingTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return ct.t.FinalAdvertiseAddr(ip, port)
}

func (ct *countingTransport) count(b []byte) {
	ct.c.packetsOut.Add(1)
	ct.c.bytesOut.Add(uint64(len(b)))
}

func (ct *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	ct.count(b)
	return ct.t.WriteTo(b, addr)
}

func (ct *countingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	ct.count(b)
	return ct.t.WriteToAddress(b, a)
}

func (ct *countingTransport) PacketCh() <-chan *memberlist.Packet { return ct.packets }
func (ct *countingTransport) StreamCh() <-chan net.Conn           { return ct.conns }

func (ct *countingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return ct.counted(ct.t.DialTimeout(addr, timeout))
}

func (ct *countingTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return ct.counted(ct.t.DialAddressTimeout(a, timeout))
}

func (ct *countingTransport) counted(c net.Conn, err error) (net.Conn, error) {
	if err != nil {
		return nil, err
	}
	ct.c.streams.Add(1)
	return &countingConn{Conn: c, c: ct.c}, nil
}

// Shutdown closes the transport. memberlist has stopped reading by then,
// and NetTransport's listeners block handing over what they read until
// someone takes it: the pump takes and drops it until they have ended.
func (ct *countingTransport) Shutdown() error {
	close(ct.stopping)
	err := ct.t.Shutdown()
	close(ct.done)
	return err
}

// countingConn counts a gossip stream's bytes.
type countingConn struct {
	net.Conn
	c *gossipCounts
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.c.streamBytesIn.Add(uint64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.c.streamBytesOut.Add(uint64(n))
	return n, err
}
