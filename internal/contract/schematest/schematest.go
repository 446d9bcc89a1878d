// Package schematest validates --json records against the JSON Schemas
// under docs/schema, for tests.
package schematest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Set is the compiled schemas of a directory, by the record types each
// schema's type field takes.
type Set struct {
	byType map[string]*jsonschema.Schema
}

// Load compiles every *.json schema in dir.
func Load(dir string) (*Set, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("loading schemas from %s: none found (%v)", dir, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	set := &Set{byType: map[string]*jsonschema.Schema{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("loading schema: %w", err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("loading schema %s: %w", f, err)
		}
		url := "file://" + f
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("loading schema %s: %w", f, err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("compiling schema %s: %w", f, err)
		}
		types, _ := doc.(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["enum"].([]any)
		for _, t := range types {
			set.byType[t.(string)] = sch
		}
	}
	return set, nil
}

// Validate checks one record (a JSON object) against the schema of its
// type field.
func (s *Set) Validate(record []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(record))
	if err != nil {
		return fmt.Errorf("decoding record %.80q: %w", record, err)
	}
	obj, ok := inst.(map[string]any)
	if !ok {
		return fmt.Errorf("record %.80q is not a JSON object", record)
	}
	typ, _ := obj["type"].(string)
	sch := s.byType[typ]
	if sch == nil {
		return fmt.Errorf("record %.80q: no schema for type %q", record, typ)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("record of type %s does not match its schema: %w", typ, err)
	}
	return nil
}

// ValidateStream checks every record of NDJSON or concatenated JSON output
// and returns how many there were.
func (s *Set) ValidateStream(out []byte) (int, error) {
	next := newRawDecoder(bytes.NewReader(out))
	n := 0
	for {
		raw, err := next()
		if err != nil {
			return n, err
		}
		if raw == nil {
			return n, nil
		}
		n++
		if err := s.Validate(raw); err != nil {
			return n, fmt.Errorf("record %d: %w", n, err)
		}
	}
}
