package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// badKind says why a stored value cannot be used.
type badKind uint8

const (
	badNone badKind = iota
	badInvalidJSON
	badTooLarge
	badWrongShape
	numBadKinds
)

func (k badKind) String() string {
	switch k {
	case badInvalidJSON:
		return "invalid_json"
	case badTooLarge:
		return "too_large"
	case badWrongShape:
		return "wrong_shape"
	}
	return "none"
}

// valueKind is the pdata type an attrOp sets.
type valueKind uint8

const (
	kindStr valueKind = iota
	kindInt
	kindDouble
	kindBool
)

// attrOp is one attribute to set, decoded once and reused for every record.
type attrOp struct {
	name string
	kind valueKind
	str  string
	num  int64 // int value, or the bits of a double
	b    bool
}

func (op *attrOp) setTo(v pcommon.Value) {
	switch op.kind {
	case kindStr:
		v.SetStr(op.str)
	case kindInt:
		v.SetInt(op.num)
	case kindDouble:
		v.SetDouble(math.Float64frombits(uint64(op.num)))
	case kindBool:
		v.SetBool(op.b)
	}
}

// field is one flattened field of a JSON object (name is the dotted path).
type field struct {
	path string
	kind valueKind
	str  string
	num  int64
	b    bool
}

// opsResult is the decoded attributes of an entry for one lookup.
type opsResult struct {
	ops []attrOp
	bad badKind
}

// decoded is the local cache's memo of one value: its JSON fields (parsed once, on
// first use by a json lookup) and, per lookup, the attributes it sets. Records
// never re-parse a value.
type decoded struct {
	jsonOnce sync.Once
	fields   []field
	jsonBad  badKind
	ops      []atomic.Pointer[opsResult] // by lookup index
}

func newDecoded(lookups int) *decoded {
	return &decoded{ops: make([]atomic.Pointer[opsResult], lookups)}
}

// parseJSON flattens raw once; a value that is not a JSON object is bad.
func (d *decoded) parseJSON(raw string) (fields []field, bad badKind, first bool) {
	d.jsonOnce.Do(func() {
		first = true
		d.fields, d.jsonBad = decodeJSONObject([]byte(raw))
	})
	return d.fields, d.jsonBad, first
}

// decodeJSONObject decodes a JSON object into flattened fields sorted by path: nested
// objects are flattened with dots, integers become int, other numbers double, bools
// bool, strings string, arrays their compact JSON text; nulls are left out. A value
// that is not valid JSON is badInvalidJSON; valid JSON that is not an object is
// badWrongShape.
func decodeJSONObject(data []byte) ([]field, badKind) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, badInvalidJSON
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badInvalidJSON // trailing data
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, badWrongShape
	}
	return sortFields(flatten(make([]field, 0, len(obj)), "", obj)), badNone
}

// sortFields sorts fields by path and drops repeated paths: two spellings can flatten
// to one path ({"a.b":1,"a":{"b":2}}); the one that sorts first by value order wins,
// which is deterministic.
func sortFields(fields []field) []field {
	sort.Slice(fields, func(i, j int) bool {
		if fields[i].path != fields[j].path {
			return fields[i].path < fields[j].path
		}
		return fieldLess(&fields[i], &fields[j])
	})
	out := fields[:0]
	for i := range fields {
		if len(out) > 0 && out[len(out)-1].path == fields[i].path {
			continue
		}
		out = append(out, fields[i])
	}
	return out
}

func fieldLess(a, b *field) bool {
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	if a.str != b.str {
		return a.str < b.str
	}
	if a.num != b.num {
		return a.num < b.num
	}
	return !a.b && b.b
}

func flatten(dst []field, prefix string, obj map[string]any) []field {
	for k, v := range obj {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		switch t := v.(type) {
		case nil:
		case map[string]any:
			dst = flatten(dst, path, t)
		default:
			if f, ok := scalarField(path, t); ok {
				dst = append(dst, f)
			}
		}
	}
	return dst
}

// scalarField converts a decoded JSON (or YAML config) scalar to a field.
func scalarField(path string, v any) (field, bool) {
	f := field{path: path}
	switch t := v.(type) {
	case string:
		f.str = t
	case bool:
		f.kind, f.b = kindBool, t
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			f.kind, f.num = kindInt, i
		} else if d, err := strconv.ParseFloat(string(t), 64); err == nil {
			f.kind, f.num = kindDouble, int64(math.Float64bits(d))
		} else {
			f.str = string(t)
		}
	case int, int8, int16, int32, int64: // Go and YAML configurations
		f.kind, f.num = kindInt, reflect.ValueOf(t).Int()
	case uint, uint8, uint16, uint32, uint64:
		if u := reflect.ValueOf(t).Uint(); u > math.MaxInt64 {
			f.kind, f.num = kindDouble, int64(math.Float64bits(float64(u)))
		} else {
			f.kind, f.num = kindInt, int64(u)
		}
	case float64:
		f.kind, f.num = kindDouble, int64(math.Float64bits(t))
	case float32:
		f.kind, f.num = kindDouble, int64(math.Float64bits(float64(t)))
	case []any:
		b, err := json.Marshal(t)
		if err != nil {
			return f, false
		}
		f.str = string(b)
	default:
		return f, false
	}
	return f, true
}

func (f *field) op(name string) attrOp {
	return attrOp{name: name, kind: f.kind, str: f.str, num: f.num, b: f.b}
}
