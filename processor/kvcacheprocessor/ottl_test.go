package kvcacheprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func exprLookup(context, expr, target string) LookupConfig {
	return LookupConfig{Context: context, Key: KeyConfig{Expression: expr}, Target: target}
}

// TestOTTLKeyEveryContextTraces evaluates key expressions in the resource, scope, span
// and span event contexts, including paths into enclosing contexts.
func TestOTTLKeyEveryContextTraces(t *testing.T) {
	store := memStore(map[string]string{
		"res:checkout":           "from-resource",
		"lib-a/1.2":              "from-scope",
		"GET /cart":              "from-span-name",
		"checkout:/cart":         "from-composite",
		"ns-1|retry":             "from-event",
		"0102030405060708090a0b": "unused",
	})
	cfg := baseConfig(
		LookupConfig{Context: ContextResource, Key: KeyConfig{Expression: `resource.attributes["service.name"]`, Prefix: "res:"}, Target: "r.tag"},
		exprLookup(ContextScope, `Concat([scope.name, scope.version], "/")`, "s.tag"),
		exprLookup(ContextSpan, `span.name`, "name.tag"),
		exprLookup(ContextSpan, `Concat([resource.attributes["service.name"], span.attributes["http.route"]], ":")`, "composite.tag"),
		exprLookup(ContextSpanEvent, `Concat([resource.attributes["k8s.namespace.name"], spanevent.name], "|")`, "e.tag"),
	)
	h := newHarness(t, cfg, store)

	td, in := newTraceLevels()
	in.resource.Attributes().PutStr("service.name", "checkout")
	in.resource.Attributes().PutStr("k8s.namespace.name", "ns-1")
	in.scope.SetName("lib-a")
	in.scope.SetVersion("1.2")
	in.span.SetName("GET /cart")
	in.span.Attributes().PutStr("http.route", "/cart")
	in.event.SetName("retry")

	assert.Equal(t, map[string]map[string]any{
		"resource": {"service.name": "checkout", "k8s.namespace.name": "ns-1", "r.tag": "from-resource"},
		"scope":    {"s.tag": "from-scope"},
		"span":     {"http.route": "/cart", "name.tag": "from-span-name", "composite.tag": "from-composite"},
		"event":    {"e.tag": "from-event"},
	}, levelsOf(h.consumeTraces(td)).attrs())
	assert.Equal(t, map[string]int64{"miss": 5}, h.lookupCounts())
}

// TestOTTLKeyLogsAndDatapoints keys logs on a body field (lower-cased) and data points
// on the metric's name joined with a point attribute.
func TestOTTLKeyLogsAndDatapoints(t *testing.T) {
	store := memStore(map[string]string{
		"user:alice@example.com": `{"name":"Alice","plan":"pro"}`,
		"cpu.time/host-1":        "rack-3",
	})
	cfg := baseConfig(
		LookupConfig{
			Context: ContextLog, Key: KeyConfig{Expression: `ConvertCase(log.body["user"], "lower")`, Prefix: "user:"},
			TargetPrefix: "user.",
		},
		exprLookup(ContextDatapoint, `Concat([metric.name, datapoint.attributes["host"]], "/")`, "rack"),
	)
	h := newHarness(t, cfg, store)

	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetEmptyMap().PutStr("user", "Alice@Example.com")
	lout := h.consumeLogs(ld)
	assert.Equal(t, map[string]any{"user.name": "Alice", "user.plan": "pro"},
		lout.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().AsRaw())

	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	sum := ms.AppendEmpty()
	sum.SetName("cpu.time")
	sum.SetEmptySum().DataPoints().AppendEmpty().Attributes().PutStr("host", "host-1")
	hist := ms.AppendEmpty()
	hist.SetName("cpu.time")
	hist.SetEmptyHistogram().DataPoints().AppendEmpty().Attributes().PutStr("host", "host-1")
	mout := h.consumeMetrics(md)
	oms := mout.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	assert.Equal(t, "rack-3", oms.At(0).Sum().DataPoints().At(0).Attributes().AsRaw()["rack"])
	assert.Equal(t, "rack-3", oms.At(1).Histogram().DataPoints().At(0).Attributes().AsRaw()["rack"])
}

// TestOTTLKeyNilAndNonString: a nil (or empty) value is no key, so on_missing_key
// applies; a failing expression is no key too; non-string values key by their string form.
func TestOTTLKeyNilAndNonString(t *testing.T) {
	store := memStore(map[string]string{"42": "int-key", "true": "bool-key", "1.5": "double-key"})
	withDefault := exprLookup(ContextSpan, `span.attributes["id"]`, "tag")
	withDefault.Default = "no-key"
	withDefault.OnMissingKey = MissingKeyDefault
	failing := exprLookup(ContextSpan, `ConvertCase(span.attributes["id"], "lower")`, "lowered")
	failing.Default = "failed"
	failing.OnMissingKey = MissingKeyDefault
	cfg := baseConfig(withDefault, failing)
	h := newHarness(t, cfg, store)

	out := h.consumeTraces(spans(nil,
		map[string]any{},             // nil: no key -> default
		map[string]any{"id": ""},     // empty: no key -> default
		map[string]any{"id": 42},     // int -> "42"
		map[string]any{"id": true},   // bool -> "true"
		map[string]any{"id": 1.5},    // double -> "1.5"
		map[string]any{"id": "none"}, // string, not stored
	))
	assert.Equal(t, "no-key", spanAttrs(out, 0)["tag"])
	assert.Equal(t, "no-key", spanAttrs(out, 1)["tag"])
	assert.Equal(t, "int-key", spanAttrs(out, 2)["tag"])
	assert.Equal(t, "bool-key", spanAttrs(out, 3)["tag"])
	assert.Equal(t, "double-key", spanAttrs(out, 4)["tag"])
	assert.Equal(t, "no-key", spanAttrs(out, 5)["tag"], "a key the store lacks: default")
	// ConvertCase fails on an int: no key, on_missing_key applies.
	assert.Equal(t, "failed", spanAttrs(out, 2)["lowered"])

	// on_missing_key skip: a nil value leaves the record alone, a key the store
	// lacks still gets the default.
	skip := exprLookup(ContextSpan, `span.attributes["id"]`, "tag")
	skip.Default = "store-miss"
	out = newHarness(t, baseConfig(skip), store).consumeTraces(spans(nil, map[string]any{"x": 1}, map[string]any{"id": "none"}))
	assert.Equal(t, map[string]any{"x": int64(1)}, spanAttrs(out, 0), "on_missing_key skip leaves it")
	assert.Equal(t, "store-miss", spanAttrs(out, 1)["tag"])
}

func TestKeyString(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("a", "b")
	sl := pcommon.NewSlice()
	sl.AppendEmpty().SetInt(1)
	for _, tc := range []struct {
		in   any
		want string
		ok   bool
	}{
		{nil, "", false},
		{"", "", false},
		{"x", "x", true},
		{int64(7), "7", true},
		{float64(2.5), "2.5", true},
		{false, "false", true},
		{pcommon.NewValueStr("v"), "v", true},
		{pcommon.NewValueEmpty(), "", false},
		{m, `{"a":"b"}`, true},
		{sl, `[1]`, true},
		{[]byte{1, 2}, "AQI=", true},
	} {
		got, ok := keyString(tc.in)
		assert.Equal(t, tc.want, got, "%#v", tc.in)
		assert.Equal(t, tc.ok, ok, "%#v", tc.in)
	}
}

// TestOTTLWhereLookups: records that do not match `where` are left alone, defaults
// included; the condition also guards plain attribute keys.
func TestOTTLWhereLookups(t *testing.T) {
	store := memStore(map[string]string{"u1": "gold"})
	plain := LookupConfig{
		Context: ContextSpan, Key: KeyConfig{Attributes: []string{"user"}}, Target: "tier",
		Default: "free", OnMissingKey: MissingKeyDefault, Where: `span.kind == SPAN_KIND_SERVER`,
	}
	expr := LookupConfig{
		Context: ContextSpan, Key: KeyConfig{Expression: `span.attributes["user"]`}, Target: "tier2",
		Where: `resource.attributes["env"] == "prod"`,
	}
	h := newHarness(t, baseConfig(plain, expr), store)

	td := spans(map[string]any{"env": "prod"},
		map[string]any{"user": "u1"}, map[string]any{"user": "u1"}, map[string]any{}, map[string]any{})
	ss := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	ss.At(0).SetKind(ptrace.SpanKindServer)
	ss.At(2).SetKind(ptrace.SpanKindServer)
	out := h.consumeTraces(td)
	assert.Equal(t, map[string]any{"user": "u1", "tier": "gold", "tier2": "gold"}, spanAttrs(out, 0))
	assert.Equal(t, map[string]any{"user": "u1", "tier2": "gold"}, spanAttrs(out, 1), "not a server span: plain rule left it alone")
	assert.Equal(t, map[string]any{"tier": "free"}, spanAttrs(out, 2), "matches, no key: on_missing_key default")
	assert.Equal(t, map[string]any{}, spanAttrs(out, 3), "no match: no default either")

	out = h.consumeTraces(spans(map[string]any{"env": "dev"}, map[string]any{"user": "u1"}))
	assert.Equal(t, map[string]any{"user": "u1"}, spanAttrs(out, 0), "env dev: expression rule left it alone")
}

// TestOTTLWhereWrites: only records matching `where` write, under their expression key.
func TestOTTLWhereWrites(t *testing.T) {
	backing := memStore(nil)
	cfg := baseConfig()
	cfg.Lookups = nil
	cfg.Writes = []WriteConfig{
		{
			Context: ContextLog, Key: KeyConfig{Expression: `log.attributes["session"]`, Prefix: "s:"},
			Attributes: []string{"user"}, Where: `log.severity_number >= SEVERITY_NUMBER_WARN`,
		},
		{Context: ContextLog, Key: KeyConfig{Attributes: []string{"session"}}, Attributes: []string{"user"}, Where: `log.body == "login"`},
	}
	cfg.WriteQueue.FlushInterval = 10 * time.Millisecond
	h := newHarness(t, cfg, backing)

	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	add := func(session, user string, sev plog.SeverityNumber, body string) {
		lr := lrs.AppendEmpty()
		lr.Attributes().PutStr("session", session)
		lr.Attributes().PutStr("user", user)
		lr.SetSeverityNumber(sev)
		lr.Body().SetStr(body)
	}
	add("a", "ua", plog.SeverityNumberWarn, "x")
	add("b", "ub", plog.SeverityNumberInfo, "x")
	add("c", "uc", plog.SeverityNumberInfo, "login")
	h.consumeLogs(ld)

	require.Eventually(t, func() bool { return backing.Stats().KeysWritten == 2 }, 5*time.Second, 5*time.Millisecond)
	res, err := backing.Get(context.Background(), []string{"s:a", "s:b", "b", "c", "a"})
	require.NoError(t, err)
	found := map[string]string{}
	for i, k := range []string{"s:a", "s:b", "b", "c", "a"} {
		if res[i].Found {
			found[k] = string(res[i].Value)
		}
	}
	assert.Equal(t, map[string]string{"s:a": "ua", "c": "uc"}, found)
}

// TestOTTLNotEvaluatedForPlainKeys: a rule with key::attributes and no where has no
// program (the fast path).
func TestOTTLNotEvaluatedForPlainKeys(t *testing.T) {
	cfg := baseConfig(strLookup(ContextSpan, "a", "b"), exprLookup(ContextSpan, "span.name", "c"))
	cfg.Writes = []WriteConfig{{Context: ContextLog, Key: KeyConfig{Attributes: []string{"a"}}, Attributes: []string{"b"}}}
	p, err := newKVProcessor(settingsFor(t), cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.shutdown(context.Background())) }()
	assert.Nil(t, p.rule.lookups[0].prog)
	assert.NotNil(t, p.rule.lookups[1].prog)
	assert.Nil(t, p.rule.writesBy[levelLog][0].prog)
	assert.True(t, p.rule.programs[levelSpan])
	assert.False(t, p.rule.programs[levelLog])
}
