package schematest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// newRawDecoder returns the JSON values of r one by one, nil at the end.
func newRawDecoder(r io.Reader) func() ([]byte, error) {
	dec := json.NewDecoder(r)
	return func() ([]byte, error) {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading a JSON record: %w", err)
		}
		return raw, nil
	}
}
