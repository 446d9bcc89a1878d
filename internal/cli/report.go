package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	htmlreport "github.com/mcasttools/mcast/internal/report"
	"github.com/spf13/cobra"
)

// runReport draws saved --json output as one HTML page.
func newReportCmd(env *Env) *cobra.Command {
	c := newCommand("report [flags] FILE.json...", "draw saved --json output of recv, ping, watch or relay status as one HTML page",
		"Draw the saved --json output of recv, ping, watch or relay status as one self-contained HTML page.",
		`  mcast report recv.json
  mcast report -o run.html --title "test run" recv.json`)
	fs := c.Flags()
	output := fs.StringP("output", "o", "", "the HTML file to write (default: the first FILE with .html for .json)")
	title := fs.String("title", "", "the page's title (default: mcast report of FILE...)")
	c.RunE = func(_ *cobra.Command, args []string) error {
		if fs.NArg() == 0 {
			return usagef("name at least one FILE.json (saved --json output of recv, ping, watch or relay status)")
		}
		coll := htmlreport.New()
		for _, path := range fs.Args() {
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("reading records: %w", err)
			}
			err = coll.AddFrom(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("reading records from %s: %w", path, err)
			}
		}
		out := *output
		if out == "" {
			first := fs.Arg(0)
			out = strings.TrimSuffix(first, filepath.Ext(first)) + ".html"
			if out == first {
				out += ".html"
			}
		}
		t := *title
		if t == "" {
			var names []string
			for _, a := range fs.Args() {
				names = append(names, filepath.Base(a))
			}
			t = "mcast report of " + strings.Join(names, ", ")
		}
		if err := coll.WriteFile(out, t); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "wrote %s\n", out)
		return nil
	}
	return c
}

// writeReport renders one command's JSON record as an HTML page at path
// (nothing when path is empty: no --report).
func writeReport(path, title string, record any) error {
	if path == "" {
		return nil
	}
	coll := htmlreport.New()
	if err := json.NewEncoder(coll).Encode(record); err != nil {
		return fmt.Errorf("drawing the report: %w", err)
	}
	return coll.WriteFile(path, title)
}
