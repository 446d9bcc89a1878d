// Command mcast sends, receives, measures and diagnoses IP multicast and
// broadcast on Linux. Installed as "sender" or "receiver" it behaves as the
// plain multicast sender and receiver programs of those names.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mcasttools/mcast/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
