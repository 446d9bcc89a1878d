//go:build !linux

package relay

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"runtime"
	"sync/atomic"

	"golang.org/x/net/ipv4"
)

// osIO is not available on this system.
type osIO struct {
	addr4, addr6, bcast4, ll6 netip.Addr
	mtu                       int
	gso                       atomic.Bool
	emitGSO                   atomic.Bool
}

const segmentOOBLen = 0

func appendSegmentSize(b []byte, _ int) []byte   { return b }
func appendTTL(b []byte, _ bool, _ uint8) []byte { return b }
func segmentUnsupported(error) bool              { return true }

func (o *osIO) query(bool, bool, *slog.Logger)             {}
func (o *osIO) has6() bool                                 { return false }
func (o *osIO) join(netip.Addr) error                      { return errUnsupported }
func (o *osIO) leave(netip.Addr) error                     { return errUnsupported }
func (o *osIO) readMembership() map[netip.Addr]int         { return nil }
func (o *osIO) writeUnderlay([]ipv4.Message) (int, error)  { return 0, errUnsupported }
func (o *osIO) writeLAN(bool, []ipv4.Message) (int, error) { return 0, errUnsupported }
func (o *osIO) writeSeg(bool, []ipv4.Message) (int, error) { return 0, errUnsupported }
func (o *osIO) ownSource(netip.AddrPort) bool              { return false }
func (o *osIO) udpEmit(bool) bool                          { return false }
func (o *osIO) emitSources() []netip.AddrPort              { return nil }

func hugeSlots(n int) ([]seenSlot, func()) { return make([]seenSlot, n), nil }

var errUnsupported = errors.New("mcast relay is not supported on " + runtime.GOOS)

// Run fails: the relay needs Linux.
func (r *Relay) Run(ctx context.Context) error { return errUnsupported }
