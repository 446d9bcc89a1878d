package report

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// Bin is one bucket of a latency histogram, in milliseconds.
type Bin struct {
	LoMs, HiMs float64
	Count      uint64
}

// WriteHistogramText draws a latency histogram as a text bar chart of at
// most rows rows, marking the rows that hold p50 and p99 (the first row
// reaching them).
func WriteHistogramText(w io.Writer, title string, bins []Bin, p50, p99 float64, rows int) {
	in := make([]latBin, len(bins))
	for i, b := range bins {
		in[i] = latBin(b)
	}
	out := rebin(in, rows)
	if len(out) == 0 {
		return
	}
	var mx uint64
	for _, b := range out {
		mx = max(mx, b.Count)
	}
	fmt.Fprintf(w, "  latency histogram, %s:\n", title)
	const width = 40
	labels := make([]string, len(out))
	lw := 0
	for i, b := range out {
		labels[i] = fmt.Sprintf("%.3f-%.3f ms", b.LoMs, b.HiMs)
		lw = max(lw, len(labels[i]))
	}
	done50, done99 := false, false
	for i, b := range out {
		n := int(math.Round(float64(width) * float64(b.Count) / float64(max(mx, 1))))
		if b.Count > 0 {
			n = max(n, 1)
		}
		var marks []string
		if !done50 && p50 <= b.HiMs {
			marks, done50 = append(marks, "p50"), true
		}
		if !done99 && p99 <= b.HiMs {
			marks, done99 = append(marks, "p99"), true
		}
		note := ""
		if len(marks) > 0 {
			note = " <- " + strings.Join(marks, ", ")
		}
		fmt.Fprintf(w, "    %*s |%-*s %d%s\n", lw, labels[i], width, strings.Repeat("#", n), b.Count, note)
	}
}

// WriteFile renders the collected records into the HTML file path.
func (c *Collector) WriteFile(path, title string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if err := c.Render(f, title, time.Now()); err != nil {
		f.Close()
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	return nil
}
