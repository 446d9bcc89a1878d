package contract

import (
	"encoding"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Schema is a JSON Schema (draft 2020-12) as a JSON-ready value.
type Schema = map[string]any

var (
	timeType = reflect.TypeFor[time.Time]()
	textType = reflect.TypeFor[encoding.TextMarshaler]()
)

// Generate returns the JSON Schema of the record type of v: an object whose
// properties are the JSON fields of v's type, with the fields that are not
// omitted when empty required and no other field allowed. types lists the
// values the record's type field takes.
func Generate(title string, v any, types ...string) Schema {
	s := of(reflect.TypeOf(v))
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://github.com/mcasttools/mcast/docs/schema/" + title + ".json"
	s["title"] = title
	s["description"] = "The " + title + " record of mcast --json output, schema " + Version + " (docs/json.md)."
	if props, ok := s["properties"].(map[string]any); ok {
		if len(types) > 0 {
			props["type"] = Schema{"enum": types}
		}
		props["schema"] = Schema{"const": Version}
	}
	return s
}

// field is one JSON field of a struct type.
type field struct {
	name      string
	t         reflect.Type
	omitEmpty bool
}

// fields lists the JSON fields of struct type t, embedded structs' promoted.
func fields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, fields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		out = append(out, field{name: name, t: f.Type, omitEmpty: omit})
	}
	return out
}

// Shaper is a type with its own MarshalJSON: JSONShape returns a value of
// the type its JSON has, which the schema describes instead.
type Shaper interface {
	JSONShape() any
}

var shaperType = reflect.TypeFor[Shaper]()

// shape is the type whose fields t's JSON has.
func shape(t reflect.Type) reflect.Type {
	if t.Implements(shaperType) {
		return reflect.TypeOf(reflect.Zero(t).Interface().(Shaper).JSONShape())
	}
	return t
}

func of(t reflect.Type) Schema {
	t = shape(t)
	if t == timeType {
		return Schema{"type": "string", "format": "date-time"}
	}
	if t.Implements(textType) || reflect.PointerTo(t).Implements(textType) {
		return Schema{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := of(t.Elem())
		if typ, ok := s["type"].(string); ok {
			s["type"] = []string{typ, "null"}
		}
		return s
	case reflect.Bool:
		return Schema{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Schema{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return Schema{"type": "number"}
	case reflect.String:
		return Schema{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return Schema{"type": "string", "contentEncoding": "base64"}
		}
		return Schema{"type": "array", "items": of(t.Elem())}
	case reflect.Map:
		return Schema{"type": "object", "additionalProperties": of(t.Elem())}
	case reflect.Interface:
		return Schema{}
	case reflect.Struct:
		props := map[string]any{}
		required := []string{}
		for _, f := range fields(t) {
			props[f.name] = of(f.t)
			if !f.omitEmpty {
				required = append(required, f.name)
			}
		}
		slices.Sort(required)
		return Schema{"type": "object", "properties": props, "required": required, "additionalProperties": false}
	}
	return Schema{}
}

// FieldNames lists the JSON field names of v's type, nested objects' as
// parent.child and array elements' as parent[].child, sorted.
func FieldNames(v any) []string {
	var out []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		t = shape(t)
		if t == timeType || t.Implements(textType) || reflect.PointerTo(t).Implements(textType) {
			return
		}
		switch t.Kind() {
		case reflect.Slice, reflect.Array:
			walk(prefix+"[]", t.Elem())
		case reflect.Map:
			walk(prefix+"{}", t.Elem())
		case reflect.Struct:
			for _, f := range fields(t) {
				name := f.name
				if prefix != "" {
					name = prefix + "." + f.name
				}
				out = append(out, name)
				walk(name, f.t)
			}
		}
	}
	walk("", reflect.TypeOf(v))
	slices.Sort(out)
	return out
}
