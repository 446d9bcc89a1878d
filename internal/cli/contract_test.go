package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/contract"
	"github.com/mcasttools/mcast/internal/contract/schematest"
)

// schemaDir holds the checked-in schemas; MCAST_UPDATE_SCHEMA=1 rewrites
// them (and the field list of the current version) from the Go types.
const schemaDir = "../../docs/schema"

func schemaJSON(t *testing.T, rt recordType) []byte {
	t.Helper()
	b, err := json.MarshalIndent(schemaFor(rt), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// The checked-in schemas are what the Go types generate.
func TestSchemasMatchTheGoTypes(t *testing.T) {
	update := os.Getenv("MCAST_UPDATE_SCHEMA") == "1"
	for _, rt := range recordTypes() {
		want := schemaJSON(t, rt)
		path := filepath.Join(schemaDir, rt.Name+".json")
		if update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not what the Go type generates (%v): run MCAST_UPDATE_SCHEMA=1 go test ./internal/cli -run TestSchemasMatch", path, err)
		}
	}
}

// fieldList is every record type's field names, one "record: field" a line.
func fieldList() string {
	var b strings.Builder
	for _, rt := range recordTypes() {
		for _, f := range contract.FieldNames(rt.Value) {
			b.WriteString(rt.Name + ": " + f + "\n")
		}
	}
	return b.String()
}

// A field renamed or removed without a new schema version fails here: the
// golden list is keyed by contract.Version, so taking a name away needs a
// new version (and a new golden file). A field added within a version is
// compatible (consumers ignore names they do not know) but must be
// recorded: MCAST_UPDATE_SCHEMA=1 adds it to the list, and refuses to
// remove anything.
func TestFieldNamesNeedAVersionBump(t *testing.T) {
	path := filepath.Join("testdata", "fields", strings.ReplaceAll(contract.Version, "/", "-")+".txt")
	got := fieldList()
	want, err := os.ReadFile(path)
	update := os.Getenv("MCAST_UPDATE_SCHEMA") == "1"
	if err != nil && !(update && os.IsNotExist(err)) {
		t.Fatalf("no golden field list for schema version %s: %v", contract.Version, err)
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	var added, removed []string
	for _, l := range gl {
		if !slices.Contains(wl, l) {
			added = append(added, l)
		}
	}
	for _, l := range wl {
		if l != "" && !slices.Contains(gl, l) {
			removed = append(removed, l)
		}
	}
	if len(removed) > 0 {
		t.Fatalf("JSON fields renamed or removed under schema version %s (gone %q, new %q): bump contract.Version and write the new version's list with MCAST_UPDATE_SCHEMA=1", contract.Version, removed, added)
	}
	if update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if len(added) > 0 {
		t.Errorf("JSON fields added under schema version %s and not recorded: %q; record them with MCAST_UPDATE_SCHEMA=1 go test ./internal/cli -run 'TestSchemasMatch|TestFieldNames'", contract.Version, added)
	}
}

// What the commands print without root validates against the schemas.
func TestRecordsValidate(t *testing.T) {
	set, err := schematest.Load(schemaDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"mcast", "version", "--json"},
		{"mcast", "mac", "--json", "239.0.0.100", "01:00:5e:00:00:64"},
		{"mcast", "mac", "--check", "--json", "224.128.1.1", "225.0.1.1", "239.0.0.100"},
		{"mcast", "lab", "topologies", "--json"},
		{"mcast", "lab", "plan", "--json", "lan"},
	} {
		code, out, errb := run(t, nil, args...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", args, code, errb)
			continue
		}
		if n, err := set.ValidateStream([]byte(out)); err != nil || n == 0 {
			t.Errorf("%v: %d records: %v\n%s", args, n, err, out)
		}
	}
}
