package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// level is a place in the data where rules apply.
type level uint8

const (
	levelResource level = iota
	levelScope
	levelSpan
	levelSpanEvent
	levelLog
	levelDatapoint
	numLevels
)

func levelOf(context string) level {
	switch context {
	case ContextResource:
		return levelResource
	case ContextScope:
		return levelScope
	case ContextSpan:
		return levelSpan
	case ContextSpanEvent:
		return levelSpanEvent
	case ContextLog:
		return levelLog
	default:
		return levelDatapoint
	}
}

// rules are a configuration's compiled lookups and writes, by level.
type rules struct {
	lookups  []*lookup
	byLevel  [numLevels][]*lookup
	writesBy [numLevels][]*writeRule
	// active[level]: some rule applies at this level.
	active    [numLevels]bool
	hasWrites bool
	// programs[level]: some rule at this level evaluates OTTL (key::expression or where).
	programs [numLevels]bool
}

// compileOTTL parses the key expressions and where conditions of the rules that have
// them (Validate has parsed them once already, so errors are unexpected here).
func (r *rules) compileOTTL(cfg *Config, set component.TelemetrySettings) error {
	for i, l := range r.lookups {
		c := &cfg.Lookups[i]
		prog, errs := compileProgram(c.Context, c.Key.Expression, c.Where, set)
		if len(errs) > 0 {
			return fmt.Errorf("lookups[%d]::%w", i, errors.Join(errs...))
		}
		l.prog = prog
		r.programs[l.level] = r.programs[l.level] || prog != nil
	}
	for lv := range r.writesBy {
		for _, w := range r.writesBy[lv] {
			c := &cfg.Writes[w.idx]
			prog, errs := compileProgram(c.Context, c.Key.Expression, c.Where, set)
			if len(errs) > 0 {
				return fmt.Errorf("writes[%d]::%w", w.idx, errors.Join(errs...))
			}
			w.prog = prog
			r.programs[lv] = r.programs[lv] || prog != nil
		}
	}
	return nil
}

func compileRules(cfg *Config) rules {
	var r rules
	for i := range cfg.Lookups {
		l := newLookup(i, &cfg.Lookups[i])
		r.lookups = append(r.lookups, l)
		r.byLevel[l.level] = append(r.byLevel[l.level], l)
		r.active[l.level] = true
	}
	for i := range cfg.Writes {
		w := &cfg.Writes[i]
		wr := &writeRule{idx: i, level: levelOf(w.Context), key: newKeySpec(w.Key), attrs: w.Attributes, ttl: w.TTL}
		r.writesBy[wr.level] = append(r.writesBy[wr.level], wr)
		r.active[wr.level] = true
		r.hasWrites = true
	}
	return r
}

// keySpec computes store keys from records.
type keySpec struct {
	attrs   []string
	traceID bool
	sep     string
	lower   bool
	prefix  string
	// simple: one attribute, as it is: the key is the attribute's own string.
	simple bool
}

func newKeySpec(cfg KeyConfig) keySpec {
	sep := cfg.Separator
	if sep == "" {
		sep = defaultKeySeparator
	}
	return keySpec{
		attrs:   cfg.Attributes,
		traceID: cfg.TraceID,
		sep:     sep,
		lower:   cfg.Lowercase,
		prefix:  cfg.Prefix,
		simple:  !cfg.TraceID && len(cfg.Attributes) == 1 && !cfg.Lowercase && cfg.Prefix == "",
	}
}

// build returns the key of a record and whether the record has one. A key built in
// buf is returned as a string that aliases buf (no allocation per record): it is only
// valid until buf is written again, and is cloned before it is kept.
func (k *keySpec) build(buf *[]byte, attrs pcommon.Map, tid pcommon.TraceID) (key string, built bool, ok bool) {
	if k.simple {
		v, found := attrs.Get(k.attrs[0])
		if !found {
			return "", false, false
		}
		if v.Type() == pcommon.ValueTypeStr {
			s := v.Str()
			return s, false, s != ""
		}
		s := v.AsString()
		return s, false, s != ""
	}
	b := append((*buf)[:0], k.prefix...)
	if k.traceID {
		if tid.IsEmpty() {
			return "", false, false
		}
		b = hex.AppendEncode(b, tid[:])
	} else {
		for i, name := range k.attrs {
			v, found := attrs.Get(name)
			if !found {
				return "", false, false
			}
			if i > 0 {
				b = append(b, k.sep...)
			}
			start := len(b)
			if v.Type() == pcommon.ValueTypeStr {
				b = append(b, v.Str()...)
			} else {
				b = append(b, v.AsString()...)
			}
			if k.lower {
				b = lowerInPlace(b, start)
			}
		}
	}
	*buf = b
	if len(b) == 0 {
		return "", false, false
	}
	return unsafeString(b), true, true
}

// unsafeString views b as a string without copying; b must not change while the
// string is used.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// lowerInPlace lowercases b[start:]; ASCII in place, anything else through strings.ToLower.
func lowerInPlace(b []byte, start int) []byte {
	for i := start; i < len(b); i++ {
		c := b[i]
		if c >= utf8.RuneSelf {
			lowered := strings.ToLower(string(b[start:]))
			return append(b[:start], lowered...)
		}
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return b
}

// lookup is a compiled LookupConfig.
type lookup struct {
	idx          int
	level        level
	key          keySpec
	json         bool
	target       string
	targetPrefix string
	mapping      []mapEntry // sorted by field
	action       string
	hasDefault   bool
	defaultOps   []attrOp
	missingKeyDf bool
	// prog is the rule's OTTL (key::expression and/or where), nil for none.
	prog program
}

type mapEntry struct{ field, attr string }

func newLookup(idx int, cfg *LookupConfig) *lookup {
	l := &lookup{
		idx:          idx,
		level:        levelOf(cfg.Context),
		key:          newKeySpec(cfg.Key),
		json:         cfg.format() == FormatJSON,
		target:       cfg.Target,
		targetPrefix: cfg.TargetPrefix,
		action:       cfg.action(),
		missingKeyDf: cfg.onMissingKey() == MissingKeyDefault,
	}
	for _, f := range sortedKeys(cfg.Mapping) {
		l.mapping = append(l.mapping, mapEntry{field: f, attr: cfg.Mapping[f]})
	}
	if cfg.Default != nil {
		l.hasDefault = true
		if l.json {
			obj, _ := cfg.Default.(map[string]any)
			fields := sortFields(flatten(nil, "", obj))
			l.defaultOps = l.opsFromFields(fields)
		} else if f, ok := scalarField("", cfg.Default); ok {
			l.defaultOps = []attrOp{f.op(l.target)}
		}
	}
	return l
}

// opsFromFields names the fields of a JSON value for this lookup.
func (l *lookup) opsFromFields(fields []field) []attrOp {
	if len(l.mapping) == 0 {
		ops := make([]attrOp, len(fields))
		for i := range fields {
			ops[i] = fields[i].op(l.targetPrefix + fields[i].path)
		}
		return ops
	}
	ops := make([]attrOp, 0, len(l.mapping))
	for _, m := range l.mapping {
		if i, ok := findField(fields, m.field); ok {
			ops = append(ops, fields[i].op(m.attr))
		}
	}
	return ops
}

func findField(fields []field, path string) (int, bool) {
	lo, hi := 0, len(fields)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if fields[mid].path < path {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < len(fields) && fields[lo].path == path
}

// apply sets ops on attrs according to the lookup's action. Insert and upsert find
// each name with one pass over attrs (GetOrPutEmpty), not a Get and then a Put.
func (l *lookup) apply(attrs pcommon.Map, ops []attrOp) {
	if l.action == ActionUpdate {
		for i := range ops {
			if v, ok := attrs.Get(ops[i].name); ok {
				ops[i].setTo(v)
			}
		}
		return
	}
	attrs.EnsureCapacity(attrs.Len() + len(ops))
	for i := range ops {
		if v, existed := attrs.GetOrPutEmpty(ops[i].name); !existed || l.action != ActionInsert {
			ops[i].setTo(v)
		}
	}
}

// writeRule is a compiled WriteConfig.
type writeRule struct {
	idx   int
	prog  program // key::expression and/or where, nil for none
	level level
	key   keySpec
	attrs []string
	ttl   time.Duration
}

// value returns the value a record stores, and whether it has one.
func (w *writeRule) value(attrs pcommon.Map) (string, bool) {
	if len(w.attrs) == 1 {
		v, ok := attrs.Get(w.attrs[0])
		if !ok {
			return "", false
		}
		return v.AsString(), true
	}
	obj := make(map[string]any, len(w.attrs))
	for _, name := range w.attrs {
		if v, ok := attrs.Get(name); ok {
			obj[name] = v.AsRaw()
		}
	}
	if len(obj) == 0 {
		return "", false
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return "", false
	}
	return string(b), true
}
