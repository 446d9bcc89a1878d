package pcap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// ReadFile reads every record of the pcap file name, and the file's link
// type: for tests and small captures.
func ReadFile(name string) (uint32, []Record, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, nil, fmt.Errorf("reading capture: %w", err)
	}
	defer f.Close()
	r, err := NewReader(bufio.NewReader(f))
	if err != nil {
		return 0, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	var recs []Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.LinkType(), recs, nil
		}
		if err != nil {
			return r.LinkType(), recs, fmt.Errorf("reading %s: record %d: %w", name, len(recs)+1, err)
		}
		recs = append(recs, rec)
	}
}
