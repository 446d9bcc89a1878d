// Command gendoc writes a man page for every mcast command into the
// directory given as its argument (make man).
package main

import (
	"fmt"
	"os"

	"github.com/mcasttools/mcast/internal/cli"
	"github.com/spf13/cobra/doc"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendoc DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "gendoc: making %s: %v\n", dir, err)
		os.Exit(1)
	}
	root := cli.Root()
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Section: "1", Source: "mcast", Manual: "mcast manual"}
	if err := doc.GenManTree(root, header, dir); err != nil {
		fmt.Fprintf(os.Stderr, "gendoc: writing man pages to %s: %v\n", dir, err)
		os.Exit(1)
	}
}
