//go:build !linux

package relay

import "net"

// checkPeerCred fails: peer credentials (SO_PEERCRED) are read on Linux only.
func checkPeerCred(net.Conn) error { return errUnsupported }
