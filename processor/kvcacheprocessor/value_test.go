package kvcacheprocessor

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestDecodeJSONObject(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []field
		bad  badKind
	}{
		{in: `{"a":"x","b":{"c":1,"d":{"e":true}},"f":-2.5,"g":null,"h":[1,"x"],"i":9223372036854775808}`, want: []field{
			{path: "a", str: "x"},
			{path: "b.c", kind: kindInt, num: 1},
			{path: "b.d.e", kind: kindBool, b: true},
			{path: "f", kind: kindDouble, num: int64(math.Float64bits(-2.5))},
			{path: "h", str: `[1,"x"]`},
			{path: "i", kind: kindDouble, num: int64(math.Float64bits(9223372036854775808))},
		}},
		{in: `{}`, want: []field{}},
		{in: ` {"a":1} `, want: []field{{path: "a", kind: kindInt, num: 1}}},
		{in: `{"a.b":1,"a":{"b":2}}`, want: []field{{path: "a.b", kind: kindInt, num: 1}}},
		{in: `{"a":1}{"b":2}`, bad: badInvalidJSON},
		{in: `{"a":`, bad: badInvalidJSON},
		{in: ``, bad: badInvalidJSON},
		{in: `plain text`, bad: badInvalidJSON},
		{in: `[1,2]`, bad: badWrongShape},
		{in: `"str"`, bad: badWrongShape},
		{in: `12`, bad: badWrongShape},
		{in: `null`, bad: badWrongShape},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, bad := decodeJSONObject([]byte(tc.in))
			require.Equal(t, tc.bad, bad)
			if tc.bad == badNone {
				assert.Equal(t, tc.want, got)
			}
		})
	}
}

func TestAttrOpSetsTypes(t *testing.T) {
	m := pcommon.NewMap()
	for _, op := range []attrOp{
		{name: "s", kind: kindStr, str: "x"},
		{name: "i", kind: kindInt, num: -3},
		{name: "d", kind: kindDouble, num: int64(math.Float64bits(1.5))},
		{name: "b", kind: kindBool, b: true},
	} {
		op.setTo(m.PutEmpty(op.name))
	}
	assert.Equal(t, map[string]any{"s": "x", "i": int64(-3), "d": 1.5, "b": true}, m.AsRaw())
}

// FuzzDecodeValue checks that decoding arbitrary stored bytes never panics, rejects
// exactly what is not a JSON object, and yields sorted, unique, typed fields that
// every kind of lookup can apply. Seed corpus: testdata/fuzz/FuzzDecodeValue.
func FuzzDecodeValue(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":{"b":[1,{"c":null}]}}`, `[]`, `{"a":1e400}`, "{\"\xff\":1}", `{"a":-0}`} {
		f.Add([]byte(s))
	}
	prefixed := newLookup(0, &LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"k"}}, TargetPrefix: "p."})
	mapped := newLookup(1, &LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"k"}}, Mapping: map[string]string{"a": "x", "a.b": "y"}})
	plain := newLookup(2, &LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"k"}}, Target: "t"})
	f.Fuzz(func(t *testing.T, data []byte) {
		fields, bad := decodeJSONObject(data)
		// The oracle: syntax by json.Valid, shape by the first byte that is not space.
		validJSON := json.Valid(data)
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		isObject := len(trimmed) > 0 && trimmed[0] == '{'
		switch {
		case !validJSON:
			if bad != badInvalidJSON {
				t.Fatalf("invalid JSON %q decoded as %v", data, bad)
			}
			return
		case !isObject:
			if bad != badWrongShape && bad != badInvalidJSON {
				t.Fatalf("non-object %q decoded as %v", data, bad)
			}
			return
		}
		if bad != badNone {
			t.Fatalf("object %q rejected as %v", data, bad)
		}
		for i := range fields {
			if fields[i].kind > kindBool {
				t.Fatalf("bad kind %d", fields[i].kind)
			}
			if i > 0 && fields[i-1].path >= fields[i].path {
				t.Fatalf("fields not sorted and unique: %q then %q", fields[i-1].path, fields[i].path)
			}
		}
		m := pcommon.NewMap()
		for _, l := range []*lookup{prefixed, mapped} {
			l.apply(m, l.opsFromFields(fields))
		}
		plain.apply(m, []attrOp{{name: plain.target, str: string(data)}})
		if m.Len() < 1 {
			t.Fatal("the plain lookup always sets its target")
		}
	})
}

// TestScalarDefaultsAccepted: every scalar default that Validate accepts for a string
// value is applied (none is silently left out).
func TestScalarDefaultsAccepted(t *testing.T) {
	for _, v := range []any{"x", true, 7, int8(7), int16(7), int32(7), int64(7), uint(7), uint8(7), uint16(7), uint32(7), uint64(7), 1.5, float32(1.5)} {
		cfg := LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"k"}}, Target: "t", Default: v}
		require.Empty(t, cfg.validate("lookups[0]"), "%T", v)
		assert.Len(t, newLookup(0, &cfg).defaultOps, 1, "default of type %T is applied", v)
	}
	cfg := LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"k"}}, Target: "t", Default: []any{1}}
	assert.NotEmpty(t, cfg.validate("lookups[0]"), "a list is not a scalar default")
}
