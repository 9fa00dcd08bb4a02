// Package enrichfloor is the floor of the enrichment benchmarks: the least a processor
// can do to add stored attributes to spans. Per span it reads one key attribute, looks
// the key up in a Go map of attributes decoded in advance and sets them with pdata's Put
// on a map pre-sized with EnsureCapacity: no cache, no freshness, no metrics, no errors.
// bench/kvcachebench uses Floor directly; the processor (type enrichfloor) puts the same
// code into the peer distribution for the floor row of `make bench-e2e`.
//
// Not a component to ship: it serves only benchmarks.
package enrichfloor // import "github.com/otelcol-custom/otelcol-custom/bench/enrichfloor"

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// attr is one attribute to set, typed in advance.
type attr struct {
	name string
	kind pcommon.ValueType
	str  string
	num  int64
	dbl  float64
	b    bool
}

// Floor sets, on every span whose key attribute has a known value, that value's
// attributes.
type Floor struct {
	key    string
	values map[string][]attr
}

// New returns a Floor reading the key from the span attribute key; values maps a key
// to the attributes it adds (names already prefixed), each a string, bool or number
// (integral numbers become int attributes, others double).
func New(key string, values map[string]map[string]any) (*Floor, error) {
	f := &Floor{key: key, values: make(map[string][]attr, len(values))}
	for k, m := range values {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		attrs := make([]attr, 0, len(m))
		for _, n := range names {
			a, err := newAttr(n, m[n])
			if err != nil {
				return nil, fmt.Errorf("values[%q][%q]: %w", k, n, err)
			}
			attrs = append(attrs, a)
		}
		f.values[k] = attrs
	}
	return f, nil
}

// NewFromJSON is New over a JSON object of objects (memkv's file form) whose
// attributes get prefix.
func NewFromJSON(key, prefix string, data []byte) (*Floor, error) {
	var raw map[string]map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	values := make(map[string]map[string]any, len(raw))
	for k, m := range raw {
		pm := make(map[string]any, len(m))
		for n, v := range m {
			pm[prefix+n] = v
		}
		values[k] = pm
	}
	return New(key, values)
}

func newAttr(name string, v any) (attr, error) {
	a := attr{name: name}
	switch t := v.(type) {
	case string:
		a.kind, a.str = pcommon.ValueTypeStr, t
	case bool:
		a.kind, a.b = pcommon.ValueTypeBool, t
	case int:
		a.kind, a.num = pcommon.ValueTypeInt, int64(t)
	case int64:
		a.kind, a.num = pcommon.ValueTypeInt, t
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			a.kind, a.num = pcommon.ValueTypeInt, int64(t)
		} else {
			a.kind, a.dbl = pcommon.ValueTypeDouble, t
		}
	default:
		return a, fmt.Errorf("unsupported value type %T", v)
	}
	return a, nil
}

// Traces enriches every span of td.
func (f *Floor) Traces(td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				f.span(spans.At(k).Attributes())
			}
		}
	}
}

func (f *Floor) span(attrs pcommon.Map) {
	id, ok := attrs.Get(f.key)
	if !ok || id.Type() != pcommon.ValueTypeStr {
		return
	}
	v := f.values[id.Str()]
	if v == nil {
		return
	}
	attrs.EnsureCapacity(attrs.Len() + len(v))
	for i := range v {
		switch a := &v[i]; a.kind {
		case pcommon.ValueTypeStr:
			attrs.PutStr(a.name, a.str)
		case pcommon.ValueTypeInt:
			attrs.PutInt(a.name, a.num)
		case pcommon.ValueTypeDouble:
			attrs.PutDouble(a.name, a.dbl)
		case pcommon.ValueTypeBool:
			attrs.PutBool(a.name, a.b)
		}
	}
}
