package contract

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

type inner struct {
	Seq uint32 `json:"seq"`
}

type sample struct {
	Header
	Source   netip.Addr       `json:"source"`
	Port     uint16           `json:"source_port,omitempty"`
	Items    []inner          `json:"items"`
	ByGroup  map[string]inner `json:"by_group"`
	Sent     *uint64          `json:"sent"`
	Hidden   int              `json:"-"`
	RatePPS  float64          `json:"rate_pps"`
	internal int
}

func TestGenerateRequiresWhatIsNotOmitted(t *testing.T) {
	s := Generate("sample", sample{internal: 1}, "report")
	req := s["required"].([]string)
	want := []string{"by_group", "items", "rate_pps", "schema", "sent", "source", "time", "type"}
	if !slices.Equal(req, want) {
		t.Fatalf("required = %v, want %v", req, want)
	}
	props := s["properties"].(map[string]any)
	if _, ok := props["Hidden"]; ok {
		t.Error(`a json:"-" field is in the schema`)
	}
	if got := props["sent"].(Schema)["type"]; !slices.Equal(got.([]string), []string{"integer", "null"}) {
		t.Errorf("pointer type = %v, want integer or null", got)
	}
	if got := props["source"].(Schema)["type"]; got != "string" {
		t.Errorf("netip.Addr type = %v, want string", got)
	}
	if got := props["time"].(Schema)["format"]; got != "date-time" {
		t.Errorf("time format = %v", got)
	}
	if got := props["schema"].(Schema)["const"]; got != Version {
		t.Errorf("schema const = %v", got)
	}
}

func TestFieldNamesWalksNestedTypes(t *testing.T) {
	got := FieldNames(sample{})
	want := []string{"by_group", "by_group{}.seq", "items", "items[].seq", "rate_pps", "schema", "sent", "source", "source_port", "time", "type"}
	if !slices.Equal(got, want) {
		t.Fatalf("FieldNames = %v\nwant %v", got, want)
	}
}

type custom struct{ Secret int }

func (custom) JSONShape() any {
	return struct {
		Shown int `json:"shown"`
	}{}
}

func TestShaperGivesTheJSONShape(t *testing.T) {
	got := FieldNames(struct {
		C []custom `json:"c"`
	}{})
	if !slices.Equal(got, []string{"c", "c[].shown"}) {
		t.Fatalf("FieldNames = %v", got)
	}
	props := Generate("x", struct {
		C custom `json:"c"`
	}{})["properties"].(map[string]any)
	if _, ok := props["c"].(Schema)["properties"].(map[string]any)["shown"]; !ok {
		t.Fatalf("schema of a Shaper: %v", props["c"])
	}
}

func TestStampIsUTC(t *testing.T) {
	h := Stamp("status", time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600)))
	if h.Time.Location() != time.UTC || h.Schema != Version || h.Type != "status" {
		t.Fatalf("Stamp = %+v", h)
	}
}
