package kvcacheprocessor

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func TestEnrichTracesEveryContext(t *testing.T) {
	store := memStore(map[string]string{
		"checkout":                         "team-a",
		"io.opentelemetry.http":            "http-lib",
		"GET /cart":                        "cart-route",
		"retry":                            "retry-event",
		"0102030405060708090a0b0c0d0e0f10": `{"user":"u-1"}`,
	})
	cfg := baseConfig(
		strLookup(ContextResource, "service.name", "owner"),
		LookupConfig{Context: ContextScope, Key: KeyConfig{Attributes: []string{"lib"}}, Target: "lib.owner"},
		strLookup(ContextSpan, "route", "route.owner"),
		strLookup(ContextSpanEvent, "event.kind", "event.owner"),
		LookupConfig{Context: ContextSpan, Key: KeyConfig{TraceID: true}, TargetPrefix: "trace."},
		LookupConfig{Context: ContextSpanEvent, Key: KeyConfig{TraceID: true}, Mapping: map[string]string{"user": "event.user"}},
	)
	h := newHarness(t, cfg, store)

	td, in := newTraceLevels()
	in.resource.Attributes().PutStr("service.name", "checkout")
	in.scope.Attributes().PutStr("lib", "io.opentelemetry.http")
	in.span.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	in.span.Attributes().PutStr("route", "GET /cart")
	in.event.Attributes().PutStr("event.kind", "retry")

	assert.Equal(t, map[string]map[string]any{
		"resource": {"service.name": "checkout", "owner": "team-a"},
		"scope":    {"lib": "io.opentelemetry.http", "lib.owner": "http-lib"},
		"span":     {"route": "GET /cart", "route.owner": "cart-route", "trace.user": "u-1"},
		"event":    {"event.kind": "retry", "event.owner": "retry-event", "event.user": "u-1"},
	}, levelsOf(h.consumeTraces(td)).attrs())

	assert.Len(t, h.store.Gets(), 1, "one store round trip for the whole batch")
	assert.Equal(t, map[string]int64{"miss": 6}, h.lookupCounts())
}

func TestEnrichLogsEveryContext(t *testing.T) {
	store := memStore(map[string]string{
		"svc":                              "team-l",
		"scope-a":                          "scope-owner",
		"k1":                               "log-owner",
		"0102030405060708090a0b0c0d0e0f10": "traced",
	})
	cfg := baseConfig(
		strLookup(ContextResource, "service.name", "owner"),
		strLookup(ContextScope, "s", "scope.owner"),
		strLookup(ContextLog, "k", "log.owner"),
		LookupConfig{Context: ContextLog, Key: KeyConfig{TraceID: true}, Target: "trace.tag"},
	)
	h := newHarness(t, cfg, store)

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "svc")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().Attributes().PutStr("s", "scope-a")
	lr := sl.LogRecords().AppendEmpty()
	lr.Attributes().PutStr("k", "k1")
	lr.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	noTrace := sl.LogRecords().AppendEmpty()
	noTrace.Attributes().PutStr("k", "k1")

	out := h.consumeLogs(ld)
	rl = out.ResourceLogs().At(0)
	assert.Equal(t, "team-l", rl.Resource().Attributes().AsRaw()["owner"])
	sl = rl.ScopeLogs().At(0)
	assert.Equal(t, "scope-owner", sl.Scope().Attributes().AsRaw()["scope.owner"])
	assert.Equal(t, map[string]any{"k": "k1", "log.owner": "log-owner", "trace.tag": "traced"}, sl.LogRecords().At(0).Attributes().AsRaw())
	assert.Equal(t, map[string]any{"k": "k1", "log.owner": "log-owner"}, sl.LogRecords().At(1).Attributes().AsRaw(),
		"a log without trace ID has no trace_id key and is skipped by that lookup")
	assert.Len(t, h.store.Gets(), 1)
}

func TestEnrichMetricsEveryDataPointType(t *testing.T) {
	store := memStore(map[string]string{"svc": "team-m", "scope-a": "scope-owner", "host-1": `{"rack":"r1","slot":3}`})
	cfg := baseConfig(
		strLookup(ContextResource, "service.name", "owner"),
		strLookup(ContextScope, "s", "scope.owner"),
		LookupConfig{Context: ContextDatapoint, Key: KeyConfig{Attributes: []string{"host"}}, TargetPrefix: "host."},
	)
	h := newHarness(t, cfg, store)

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "svc")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().Attributes().PutStr("s", "scope-a")
	ms := sm.Metrics()
	ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().Attributes().PutStr("host", "host-1")
	ms.AppendEmpty().SetEmptySum().DataPoints().AppendEmpty().Attributes().PutStr("host", "host-1")
	ms.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty().Attributes().PutStr("host", "host-1")
	ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty().Attributes().PutStr("host", "host-1")
	ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty().Attributes().PutStr("host", "host-1")

	out := h.consumeMetrics(md)
	rm = out.ResourceMetrics().At(0)
	assert.Equal(t, "team-m", rm.Resource().Attributes().AsRaw()["owner"])
	sm = rm.ScopeMetrics().At(0)
	assert.Equal(t, "scope-owner", sm.Scope().Attributes().AsRaw()["scope.owner"])
	want := map[string]any{"host": "host-1", "host.rack": "r1", "host.slot": int64(3)}
	ms = sm.Metrics()
	assert.Equal(t, want, ms.At(0).Gauge().DataPoints().At(0).Attributes().AsRaw())
	assert.Equal(t, want, ms.At(1).Sum().DataPoints().At(0).Attributes().AsRaw())
	assert.Equal(t, want, ms.At(2).Histogram().DataPoints().At(0).Attributes().AsRaw())
	assert.Equal(t, want, ms.At(3).ExponentialHistogram().DataPoints().At(0).Attributes().AsRaw())
	assert.Equal(t, want, ms.At(4).Summary().DataPoints().At(0).Attributes().AsRaw())
	assert.Len(t, h.store.Gets(), 1)
	assert.Equal(t, [][]string{{"host-1", "scope-a", "svc"}}, h.store.Gets())
}

func TestCompositeKeys(t *testing.T) {
	store := memStore(map[string]string{
		"env:prod|checkout": "composite",
		"env:prod|42":       "int-part",
		"ünï|x":             "unicode",
	})
	cfg := baseConfig(LookupConfig{
		Context: ContextSpan,
		Key:     KeyConfig{Attributes: []string{"a", "b"}, Separator: "|", Lowercase: true, Prefix: "env:"},
		Target:  "out",
	}, LookupConfig{
		Context: ContextSpan,
		Key:     KeyConfig{Attributes: []string{"u", "v"}, Separator: "|", Lowercase: true},
		Target:  "out2",
	})
	h := newHarness(t, cfg, store)
	out := h.consumeTraces(spans(nil,
		map[string]any{"a": "PROD", "b": "CheckOut"},
		map[string]any{"a": "prod", "b": 42},
		map[string]any{"a": "prod"}, // lacks b: no key
		map[string]any{"u": "ÜNÏ", "v": "X"},
	))
	assert.Equal(t, "composite", spanAttrs(out, 0)["out"])
	assert.Equal(t, "int-part", spanAttrs(out, 1)["out"])
	assert.Equal(t, map[string]any{"a": "prod"}, spanAttrs(out, 2))
	assert.Equal(t, "unicode", spanAttrs(out, 3)["out2"])
	assert.Equal(t, [][]string{{"env:prod|42", "env:prod|checkout", "ünï|x"}}, h.store.Gets(),
		"the prefix keeps its case, values are lowercased")
}

func TestJSONFlatteningAndTypes(t *testing.T) {
	value := `{"name":"alice","age":42,"score":9.5,"admin":true,"tags":["a",1],"none":null,
		"address":{"city":"Paris","geo":{"lat":48.85}},"big":1e30}`
	store := memStore(map[string]string{"u1": value})
	cfg := baseConfig(
		LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"user"}}, TargetPrefix: "user."},
		LookupConfig{Context: ContextLog, Key: KeyConfig{Attributes: []string{"user"}},
			Mapping: map[string]string{"address.city": "city", "age": "years", "missing": "never"}},
		LookupConfig{Context: ContextDatapoint, Key: KeyConfig{Attributes: []string{"user"}}, Format: FormatJSON},
	)
	h := newHarness(t, cfg, store)

	out := h.consumeTraces(spans(nil, map[string]any{"user": "u1"}))
	assert.Equal(t, map[string]any{
		"user":                 "u1",
		"user.name":            "alice",
		"user.age":             int64(42),
		"user.score":           9.5,
		"user.admin":           true,
		"user.tags":            `["a",1]`,
		"user.address.city":    "Paris",
		"user.address.geo.lat": 48.85,
		"user.big":             1e30,
	}, spanAttrs(out, 0))

	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Attributes().PutStr("user", "u1")
	lout := h.consumeLogs(ld)
	assert.Equal(t, map[string]any{"user": "u1", "city": "Paris", "years": int64(42)},
		lout.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().AsRaw(), "only mapped fields")

	md := pmetric.NewMetrics()
	md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().
		DataPoints().AppendEmpty().Attributes().PutStr("user", "u1")
	mout := h.consumeMetrics(md)
	got := mout.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints().At(0).Attributes().AsRaw()
	assert.Equal(t, "Paris", got["address.city"], "format json without prefix: fields keep their names")
	assert.Equal(t, int64(42), got["age"])

	// Decoded once: the three signals shared one fetched entry.
	assert.Len(t, h.store.Gets(), 1)
}

func TestActions(t *testing.T) {
	store := memStore(map[string]string{"k": `{"a":"new-a","b":"new-b"}`})
	mk := func(action string) LookupConfig {
		return LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"key"}}, Format: FormatJSON, Action: action}
	}
	for _, tc := range []struct {
		action string
		want   map[string]any
	}{
		{ActionInsert, map[string]any{"key": "k", "a": "old-a", "b": "new-b"}},
		{ActionUpdate, map[string]any{"key": "k", "a": "new-a"}},
		{ActionUpsert, map[string]any{"key": "k", "a": "new-a", "b": "new-b"}},
		{"", map[string]any{"key": "k", "a": "new-a", "b": "new-b"}}, // default upsert
	} {
		t.Run("action="+tc.action, func(t *testing.T) {
			h := newHarness(t, baseConfig(mk(tc.action)), store)
			out := h.consumeTraces(spans(nil, map[string]any{"key": "k", "a": "old-a"}))
			assert.Equal(t, tc.want, spanAttrs(out, 0))
		})
	}
}

func TestDefaultsAndMissingKeys(t *testing.T) {
	store := memStore(map[string]string{"known": "v"})
	cfg := baseConfig(
		LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"k"}}, Target: "s",
			Default: "fallback"},
		LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"k"}}, TargetPrefix: "j.",
			Default: map[string]any{"tier": "free", "limit": 10, "nested": map[string]any{"on": true}}, OnMissingKey: MissingKeyDefault},
		LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"k"}}, Target: "typed",
			Default: 7},
	)
	cfg.Cache.NegativeTTL = 0
	h := newHarness(t, cfg, store)
	out := h.consumeTraces(spans(nil,
		map[string]any{"k": "unknown"},
		map[string]any{"other": "x"},
	))
	assert.Equal(t, map[string]any{
		"k": "unknown", "s": "fallback", "typed": int64(7),
		"j.tier": "free", "j.limit": int64(10), "j.nested.on": true,
	}, spanAttrs(out, 0), "not found: every lookup applies its default")
	assert.Equal(t, map[string]any{
		"other": "x", "j.tier": "free", "j.limit": int64(10), "j.nested.on": true,
	}, spanAttrs(out, 1), "no key: only on_missing_key: default applies the default")
	assert.Equal(t, map[string]int64{"negative": 3}, h.lookupCounts())
}

func TestNoMatchingRecordsNoStoreCalls(t *testing.T) {
	h := newHarness(t, baseConfig(strLookup(ContextSpan, "k", "t")), memStore(nil))
	out := h.consumeTraces(spans(map[string]any{"service.name": "x"}, map[string]any{"other": 1}))
	assert.Equal(t, map[string]any{"other": int64(1)}, spanAttrs(out, 0))
	assert.Empty(t, h.store.Gets())
	require.Empty(t, h.lookupCounts())
}
