package kvcacheprocessor

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache/localcachetest"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/metadatatest"
)

var storeID = component.MustNewID("teststore")

// recStore wraps a store: it records the keys of every Get, can hold Gets at a gate,
// and its Close does nothing (the test owns the backing store, which several
// processors may share).
type recStore struct {
	kvcache.Store
	mu   sync.Mutex
	gets [][]string
	// gate, when set, holds every Get until it is closed; entered is signalled when
	// a Get reaches the gate.
	gate    chan struct{}
	entered chan struct{}
	closes  atomic.Int32
	// noRecord: Gets are not recorded (tests that send many large keys).
	noRecord bool
}

func newRecStore(s kvcache.Store) *recStore { return &recStore{Store: s} }

func (r *recStore) Get(ctx context.Context, keys []string) ([]kvcache.Result, error) {
	r.mu.Lock()
	if !r.noRecord {
		k := slices.Clone(keys)
		slices.Sort(k)
		r.gets = append(r.gets, k)
	}
	gate, entered := r.gate, r.entered
	r.mu.Unlock()
	if gate != nil {
		if entered != nil {
			select {
			case entered <- struct{}{}:
			default:
			}
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return r.Store.Get(ctx, keys)
}

func (r *recStore) Close(context.Context) error {
	r.closes.Add(1)
	return nil
}

func (r *recStore) OnInvalidate(fn func([]string)) func() {
	if inv, ok := r.Store.(kvcache.Invalidator); ok {
		return inv.OnInvalidate(fn)
	}
	return func() {}
}

func (r *recStore) Gets() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.gets)
}

func (r *recStore) getCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.gets)
}

func (r *recStore) setGate(gate chan struct{}, entered chan struct{}) {
	r.mu.Lock()
	r.gate, r.entered = gate, entered
	r.mu.Unlock()
}

// testProvider is a kvcache.Provider extension handing out one store.
type testProvider struct {
	component.StartFunc
	component.ShutdownFunc
	store kvcache.Store
}

func (tp *testProvider) Store(context.Context, component.ID) (kvcache.Store, error) {
	return tp.store, nil
}

// baseConfig is the default configuration with the test store and the given lookups.
func baseConfig(lookups ...LookupConfig) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Store = storeID
	cfg.Lookups = lookups
	cfg.Timeout = 2 * time.Second // generous: tests that measure the bound set their own
	cfg.FetchTimeout = 5 * time.Second
	return cfg
}

// harness is one processor runtime (all three signals) over a store.
type harness struct {
	t      *testing.T
	cfg    *Config
	store  *recStore
	host   *kvcachetest.Host
	tel    *componenttest.Telemetry
	p      *kvProcessor
	traces processor.Traces
	logs   processor.Logs
	mets   processor.Metrics
	tSink  *consumertest.TracesSink
	lSink  *consumertest.LogsSink
	mSink  *consumertest.MetricsSink
}

type harnessOpt func(*harness)

func withClock(c localcache.Clock) harnessOpt { return func(h *harness) { h.p.clock = c } }

func newHarness(t *testing.T, cfg *Config, backing kvcache.Store, opts ...harnessOpt) *harness {
	t.Helper()
	require.NoError(t, cfg.Validate())
	h := &harness{t: t, cfg: cfg, store: newRecStore(backing), tel: componenttest.NewTelemetry(),
		tSink: new(consumertest.TracesSink), lSink: new(consumertest.LogsSink), mSink: new(consumertest.MetricsSink)}
	t.Cleanup(func() { require.NoError(t, h.tel.Shutdown(context.Background())) })
	h.host = kvcachetest.NewHost(map[component.ID]component.Component{storeID: &testProvider{store: h.store}})
	set := metadatatest.NewSettings(h.tel)
	set.ID = component.NewIDWithName(metadata.Type, t.Name())
	f := NewFactory()
	var err error
	h.traces, err = f.CreateTraces(context.Background(), set, cfg, h.tSink)
	require.NoError(t, err)
	h.logs, err = f.CreateLogs(context.Background(), set, cfg, h.lSink)
	require.NoError(t, err)
	h.mets, err = f.CreateMetrics(context.Background(), set, cfg, h.mSink)
	require.NoError(t, err)
	shared.mu.Lock()
	h.p = shared.m[cfg].p
	shared.mu.Unlock()
	for _, o := range opts {
		o(h)
	}
	for _, c := range []component.Component{h.traces, h.logs, h.mets} {
		require.NoError(t, c.Start(context.Background(), h.host))
	}
	t.Cleanup(h.shutdown)
	return h
}

func (h *harness) shutdown() {
	for _, c := range []component.Component{h.traces, h.logs, h.mets} {
		require.NoError(h.t, c.Shutdown(context.Background()))
	}
}

func (h *harness) consumeTraces(td ptrace.Traces) ptrace.Traces {
	h.t.Helper()
	require.NoError(h.t, h.traces.ConsumeTraces(context.Background(), td))
	all := h.tSink.AllTraces()
	return all[len(all)-1]
}

func (h *harness) consumeLogs(ld plog.Logs) plog.Logs {
	h.t.Helper()
	require.NoError(h.t, h.logs.ConsumeLogs(context.Background(), ld))
	all := h.lSink.AllLogs()
	return all[len(all)-1]
}

func (h *harness) consumeMetrics(md pmetric.Metrics) pmetric.Metrics {
	h.t.Helper()
	require.NoError(h.t, h.mets.ConsumeMetrics(context.Background(), md))
	all := h.mSink.AllMetrics()
	return all[len(all)-1]
}

// circuitOpen reports whether the circuit_state metric last said the circuit is not
// closed (open or half-open).
func (h *harness) circuitOpen() bool {
	m, err := h.tel.GetMetric("otelcol_processor_kvcache_circuit_state")
	if err != nil {
		return false
	}
	g, ok := m.Data.(metricdata.Gauge[int64])
	if !ok || len(g.DataPoints) != 1 {
		return false
	}
	return g.DataPoints[0].Value != int64(localcache.CircuitClosed)
}

// lookupCounts returns the lookups metric by result.
func (h *harness) lookupCounts() map[string]int64 {
	return h.sumByAttr("otelcol_processor_kvcache_lookups", "result")
}

func (h *harness) sumByAttr(name, attr string) map[string]int64 {
	h.t.Helper()
	out := map[string]int64{}
	m, err := h.tel.GetMetric(name)
	if err != nil {
		return out // not recorded yet
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(h.t, ok, "%s is not an int sum", name)
	for _, dp := range sum.DataPoints {
		v, _ := dp.Attributes.Value(attribute.Key(attr))
		out[v.AsString()] += dp.Value
	}
	return out
}

// spans builds one resource / scope with one span per attribute map.
func spans(res map[string]any, spanAttrs ...map[string]any) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	require.NoError(nil, rs.Resource().Attributes().FromRaw(res))
	ss := rs.ScopeSpans().AppendEmpty()
	for i, a := range spanAttrs {
		s := ss.Spans().AppendEmpty()
		s.SetName("span")
		s.SetTraceID(pcommon.TraceID{1, byte(i)})
		_ = s.Attributes().FromRaw(a)
	}
	return td
}

func attrsOf(m pcommon.Map) map[string]any { return m.AsRaw() }

// traceLevels is one resource, scope, span and span event of a trace: the first of each.
type traceLevels struct {
	resource pcommon.Resource
	scope    pcommon.InstrumentationScope
	span     ptrace.Span
	event    ptrace.SpanEvent
}

// newTraceLevels returns a trace holding one resource, scope, span and span event,
// for the test to fill.
func newTraceLevels() (ptrace.Traces, traceLevels) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	ss := rs.ScopeSpans().AppendEmpty()
	span := ss.Spans().AppendEmpty()
	return td, traceLevels{resource: rs.Resource(), scope: ss.Scope(), span: span, event: span.Events().AppendEmpty()}
}

// levelsOf returns the first resource, scope, span and span event of td.
func levelsOf(td ptrace.Traces) traceLevels {
	rs := td.ResourceSpans().At(0)
	ss := rs.ScopeSpans().At(0)
	span := ss.Spans().At(0)
	return traceLevels{resource: rs.Resource(), scope: ss.Scope(), span: span, event: span.Events().At(0)}
}

// attrs returns the attributes of each level, by level.
func (l traceLevels) attrs() map[string]map[string]any {
	return map[string]map[string]any{
		"resource": l.resource.Attributes().AsRaw(),
		"scope":    l.scope.Attributes().AsRaw(),
		"span":     l.span.Attributes().AsRaw(),
		"event":    l.event.Attributes().AsRaw(),
	}
}

func spanAttrs(td ptrace.Traces, i int) map[string]any {
	return attrsOf(td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(i).Attributes())
}

func memStore(kv map[string]string) *kvcachetest.MemoryStore {
	s := kvcachetest.NewMemoryStore()
	for k, v := range kv {
		s.Put(k, v)
	}
	return s
}

func strLookup(context, attr, target string) LookupConfig {
	return LookupConfig{Context: context, Key: KeyConfig{Attributes: []string{attr}}, Target: target}
}

func logsWithResource(service string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", service)
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	return ld
}

func settingsFor(t *testing.T) processor.Settings {
	set := processortest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, t.Name())
	return set
}

func nopTraces() *consumertest.TracesSink { return new(consumertest.TracesSink) }

func componentHost(exts map[component.ID]component.Component) *kvcachetest.Host {
	return kvcachetest.NewHost(exts)
}

func newFakeClock() *localcachetest.Clock { return localcachetest.NewClock() }
