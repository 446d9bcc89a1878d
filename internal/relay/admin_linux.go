package relay

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// checkPeerCred lets through a client of the admin socket c that runs as
// root or as the relay's own user (SO_PEERCRED), and refuses anyone else:
// an abstract socket has no file permissions to do it.
func checkPeerCred(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("checking the admin client's credentials: not a unix socket (%T)", c)
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("checking the admin client's credentials: %w", err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("checking the admin client's credentials: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("checking the admin client's credentials: %w", cerr)
	}
	if own := uint32(os.Geteuid()); cred.Uid != 0 && cred.Uid != own {
		return fmt.Errorf("refused: uid %d is neither root nor the relay's uid %d", cred.Uid, own)
	}
	return nil
}
