package kvcacheprocessor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
)

// one returns a batch of one span with attribute k=key.
func one(key string) ptrace.Traces { return spans(nil, map[string]any{"k": key}) }

func ownerOf(td ptrace.Traces) any { return spanAttrs(td, 0)["owner"] }

func TestTTLExpiry(t *testing.T) {
	store := memStore(map[string]string{"k": "v1"})
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.Cache.TTL = time.Minute
	cfg.Cache.RefreshAfter = 0
	cfg.Cache.MaxStale = 0
	clk := newFakeClock()
	h := newHarness(t, cfg, store, withClock(clk))

	assert.Equal(t, "v1", ownerOf(h.consumeTraces(one("k"))))
	store.Put("k", "v2")
	clk.Advance(59 * time.Second)
	assert.Equal(t, "v1", ownerOf(h.consumeTraces(one("k"))), "cached until ttl")
	assert.Equal(t, 1, h.store.getCount())
	clk.Advance(2 * time.Second)
	assert.Equal(t, "v2", ownerOf(h.consumeTraces(one("k"))), "fetched again after ttl")
	assert.Equal(t, 2, h.store.getCount())
	assert.Equal(t, map[string]int64{"miss": 2, "hit": 1}, h.lookupCounts())
}

func TestNegativeCache(t *testing.T) {
	store := memStore(nil)
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.Cache.NegativeTTL = 10 * time.Second
	clk := newFakeClock()
	h := newHarness(t, cfg, store, withClock(clk))

	assert.Nil(t, ownerOf(h.consumeTraces(one("k"))))
	store.Put("k", "now-here")
	assert.Nil(t, ownerOf(h.consumeTraces(one("k"))), "absence is remembered")
	assert.Equal(t, 1, h.store.getCount())
	clk.Advance(11 * time.Second)
	assert.Equal(t, "now-here", ownerOf(h.consumeTraces(one("k"))), "until negative_ttl")
	assert.Equal(t, 2, h.store.getCount())
	assert.Equal(t, map[string]int64{"negative": 2, "miss": 1}, h.lookupCounts())

	t.Run("disabled", func(t *testing.T) {
		cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
		cfg.Cache.NegativeTTL = 0
		h := newHarness(t, cfg, memStore(nil))
		h.consumeTraces(one("k"))
		h.consumeTraces(one("k"))
		assert.Equal(t, 2, h.store.getCount(), "every batch asks again")
	})
}

func TestRefreshAheadWhileHot(t *testing.T) {
	store := memStore(map[string]string{"k": "v1"})
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.Cache.TTL = time.Minute
	cfg.Cache.RefreshAfter = 30 * time.Second
	clk := newFakeClock()
	h := newHarness(t, cfg, store, withClock(clk))

	assert.Equal(t, "v1", ownerOf(h.consumeTraces(one("k"))))
	store.Put("k", "v2")
	clk.Advance(29 * time.Second)
	assert.Equal(t, "v1", ownerOf(h.consumeTraces(one("k"))))
	assert.Equal(t, 1, h.store.getCount(), "no refresh before refresh_after")

	clk.Advance(2 * time.Second)
	// The hit past refresh_after serves the current value and refreshes in the background.
	assert.Equal(t, "v1", ownerOf(h.consumeTraces(one("k"))))
	require.Eventually(t, func() bool { return ownerOf(h.consumeTraces(one("k"))) == "v2" }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 2, h.store.getCount(), "exactly one refresh, however many hits asked")
	counts := h.lookupCounts()
	assert.Zero(t, counts["stale"], "refreshed before ttl: never stale")
	assert.Equal(t, int64(1), counts["miss"])
}

func TestStaleWhileRevalidate(t *testing.T) {
	store := memStore(map[string]string{"k": "v1"})
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.Cache.TTL = time.Minute
	cfg.Cache.RefreshAfter = 0
	cfg.Cache.MaxStale = time.Minute
	clk := newFakeClock()
	h := newHarness(t, cfg, store, withClock(clk))

	h.consumeTraces(one("k"))
	store.Put("k", "v2")
	clk.Advance(90 * time.Second)
	assert.Equal(t, "v1", ownerOf(h.consumeTraces(one("k"))), "past ttl, within max_stale: served stale, not waited for")
	assert.Equal(t, int64(1), h.lookupCounts()["stale"])
	require.Eventually(t, func() bool { return ownerOf(h.consumeTraces(one("k"))) == "v2" }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 2, h.store.getCount())
}

func TestMergedMissesOneGetPerBatch(t *testing.T) {
	kv := map[string]string{}
	var attrs []map[string]any
	for i := range 1000 {
		key := fmt.Sprintf("key-%d", i%10)
		kv[key] = "v-" + key
		attrs = append(attrs, map[string]any{"k": key})
	}
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"), strLookup(ContextResource, "service.name", "svc.owner"))
	h := newHarness(t, cfg, memStore(kv))

	out := h.consumeTraces(spans(map[string]any{"service.name": "key-3"}, attrs...))
	want := []string{"key-0", "key-1", "key-2", "key-3", "key-4", "key-5", "key-6", "key-7", "key-8", "key-9"}
	assert.Equal(t, [][]string{want}, h.store.Gets(), "one Get with the batch's distinct keys (resource and span lookups share it)")
	for i := range 1000 {
		require.Equal(t, fmt.Sprintf("v-key-%d", i%10), spanAttrs(out, i)["owner"])
	}
	assert.Equal(t, "v-key-3", out.ResourceSpans().At(0).Resource().Attributes().AsRaw()["svc.owner"])
	assert.Equal(t, map[string]int64{"miss": 1001}, h.lookupCounts())

	h.consumeTraces(spans(nil, attrs...))
	assert.Len(t, h.store.Gets(), 1, "a warm batch makes no store call")
}

func TestMergedMissesAcrossConcurrentBatches(t *testing.T) {
	h := newHarness(t, baseConfig(strLookup(ContextSpan, "k", "owner")), memStore(map[string]string{"a": "A", "b": "B", "c": "C"}))
	gate, entered := make(chan struct{}), make(chan struct{}, 2)
	h.store.setGate(gate, entered)

	var wg sync.WaitGroup
	results := make([]ptrace.Traces, 2)
	batches := []ptrace.Traces{
		spans(nil, map[string]any{"k": "a"}, map[string]any{"k": "b"}),
		spans(nil, map[string]any{"k": "a"}, map[string]any{"k": "b"}, map[string]any{"k": "c"}),
	}
	consume := func(i int) {
		defer wg.Done()
		assert.NoError(t, h.traces.ConsumeTraces(context.Background(), batches[i]))
		results[i] = batches[i]
	}
	wg.Add(1)
	go consume(0)
	<-entered // batch 0 is loading a and b
	wg.Add(1)
	go consume(1)
	<-entered // batch 1 joined a and b, and is loading only c
	close(gate)
	wg.Wait()

	assert.Equal(t, [][]string{{"a", "b"}, {"c"}}, h.store.Gets(), "one fetch per key across concurrent batches")
	assert.Equal(t, "A", spanAttrs(results[1], 0)["owner"])
	assert.Equal(t, "B", spanAttrs(results[1], 1)["owner"])
	assert.Equal(t, "C", spanAttrs(results[1], 2)["owner"])
	assert.Equal(t, "A", spanAttrs(results[0], 0)["owner"])
}

func TestTimeoutBoundsTheBatch(t *testing.T) {
	store := memStore(map[string]string{"k": "late"})
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.Timeout = 100 * time.Millisecond
	h := newHarness(t, cfg, store)
	store.SetDelay(400 * time.Millisecond)

	start := time.Now()
	out := h.consumeTraces(one("k"))
	elapsed := time.Since(start)
	assert.GreaterOrEqual(t, elapsed, cfg.Timeout, "on_miss: wait waits up to timeout")
	assert.Less(t, elapsed, cfg.Timeout+time.Second, "and not beyond timeout (plus slack)")
	assert.Nil(t, ownerOf(out), "not back in time: passes un-enriched")
	assert.Equal(t, map[string]int64{"error": 1}, h.lookupCounts())

	// The late answer is cached when it arrives; no second fetch.
	require.Eventually(t, func() bool { return ownerOf(h.consumeTraces(one("k"))) == "late" }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, h.store.getCount())
}

func TestSlowStoreEveryBatchBounded(t *testing.T) {
	store := memStore(nil)
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.Timeout = 50 * time.Millisecond
	cfg.FetchTimeout = 200 * time.Millisecond
	h := newHarness(t, cfg, store)
	store.SetDelay(time.Hour)
	for i := range 5 {
		start := time.Now()
		h.consumeTraces(one(fmt.Sprintf("k%d", i)))
		require.Less(t, time.Since(start), cfg.Timeout+time.Second)
	}
	assert.Equal(t, 5, h.tSink.SpanCount(), "nothing dropped")
}

func TestAsyncOnMissNeverWaits(t *testing.T) {
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.OnMiss = OnMissAsync
	h := newHarness(t, cfg, memStore(map[string]string{"k": "v"}))
	gate := make(chan struct{})
	h.store.setGate(gate, nil)

	start := time.Now()
	out := h.consumeTraces(one("k"))
	assert.Less(t, time.Since(start), cfg.Timeout, "async: the batch does not wait for the store")
	assert.Nil(t, ownerOf(out))
	assert.Equal(t, map[string]int64{"miss": 1}, h.lookupCounts())
	close(gate)
	require.Eventually(t, func() bool { return ownerOf(h.consumeTraces(one("k"))) == "v" }, 5*time.Second, 5*time.Millisecond)
}

// statusEvents drains the host's status events.
func statusEvents(h *harness) []componentstatus.Status {
	var out []componentstatus.Status
	for {
		select {
		case ev := <-h.host.Events():
			out = append(out, ev.Status())
		default:
			return out
		}
	}
}

func TestCircuitBreakerOpenProbeClose(t *testing.T) {
	store := memStore(map[string]string{"k0": "v0", "k1": "v1", "k2": "v2", "k3": "v3", "k4": "v4", "k5": "v5"})
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.CircuitBreaker = CircuitBreakerConfig{FailureThreshold: 3, OpenDuration: 10 * time.Second}
	clk := newFakeClock()
	h := newHarness(t, cfg, store, withClock(clk))
	store.SetError(errors.New("connection refused"))

	for i := range 3 {
		assert.Nil(t, ownerOf(h.consumeTraces(one(fmt.Sprintf("k%d", i)))))
	}
	assert.Equal(t, 3, h.store.getCount())
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError}, statusEvents(h))
	assert.True(t, h.circuitOpen())

	// Open: no store calls, records pass un-enriched.
	for range 5 {
		assert.Nil(t, ownerOf(h.consumeTraces(one("k3"))))
	}
	assert.Equal(t, 3, h.store.getCount(), "an open circuit does not call the store")

	// After open_duration one probe goes through; it fails: open again.
	clk.Advance(11 * time.Second)
	h.consumeTraces(one("k3"))
	assert.Equal(t, 4, h.store.getCount())
	h.consumeTraces(one("k3"))
	assert.Equal(t, 4, h.store.getCount(), "a failed probe opens the circuit again")

	// The store recovers: the next probe closes the circuit.
	store.SetError(nil)
	clk.Advance(11 * time.Second)
	assert.Equal(t, "v4", ownerOf(h.consumeTraces(one("k4"))))
	assert.False(t, h.circuitOpen())
	assert.Equal(t, "v5", ownerOf(h.consumeTraces(one("k5"))))
	assert.Contains(t, statusEvents(h), componentstatus.StatusOK)
	assert.Equal(t, 4+2, h.store.getCount())
	assert.Equal(t, int64(3+5+2), h.lookupCounts()["error"])
}

func TestOpenCircuitServesStale(t *testing.T) {
	store := memStore(map[string]string{"k": "v1"})
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.Cache.TTL = time.Minute
	cfg.Cache.RefreshAfter = 0
	cfg.Cache.MaxStale = 10 * time.Minute
	cfg.CircuitBreaker = CircuitBreakerConfig{FailureThreshold: 1, OpenDuration: time.Second}
	clk := newFakeClock()
	h := newHarness(t, cfg, store, withClock(clk))

	h.consumeTraces(one("k"))
	store.SetError(errors.New("down"))
	store.Put("k", "v2")
	clk.Advance(2 * time.Minute)
	assert.Equal(t, "v1", ownerOf(h.consumeTraces(one("k"))), "stale while the refresh fails")
	require.Eventually(t, h.circuitOpen, 5*time.Second, 5*time.Millisecond)
	calls := h.store.getCount()
	for range 3 {
		assert.Equal(t, "v1", ownerOf(h.consumeTraces(one("k"))), "stale while the circuit is open")
	}
	assert.Equal(t, calls, h.store.getCount())

	store.SetError(nil)
	clk.Advance(10 * time.Second) // past open_duration and the refresh retry delay
	require.Eventually(t, func() bool { return ownerOf(h.consumeTraces(one("k"))) == "v2" }, 5*time.Second, 5*time.Millisecond)
	assert.False(t, h.circuitOpen())
	assert.Equal(t, int64(0), h.lookupCounts()["error"])
}

func TestInvalidation(t *testing.T) {
	store := memStore(map[string]string{"a": "a1", "b": "b1"})
	h := newHarness(t, baseConfig(strLookup(ContextSpan, "k", "owner")), store)
	h.consumeTraces(one("a"))
	h.consumeTraces(one("b"))
	store.Put("a", "a2")
	store.Put("b", "b2")
	assert.Equal(t, "a1", ownerOf(h.consumeTraces(one("a"))))

	store.Invalidate([]string{"a"})
	assert.Equal(t, "a2", ownerOf(h.consumeTraces(one("a"))), "the invalidated key is fetched again")
	assert.Equal(t, "b1", ownerOf(h.consumeTraces(one("b"))), "other keys stay cached")

	store.Invalidate(nil)
	assert.Equal(t, "b1", ownerOf(h.consumeTraces(one("b"))),
		"nil: everything is stale; with max_stale it is served once more while it is revalidated")
	require.Eventually(t, func() bool { return ownerOf(h.consumeTraces(one("b"))) == "b2" }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 4, h.store.getCount())
	assert.Positive(t, h.lookupCounts()["stale"])

	t.Run("without max_stale nil drops everything", func(t *testing.T) {
		store := memStore(map[string]string{"a": "a1"})
		cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
		cfg.Cache.MaxStale = 0
		h := newHarness(t, cfg, store)
		h.consumeTraces(one("a"))
		store.Put("a", "a2")
		store.Invalidate(nil)
		assert.Equal(t, "a2", ownerOf(h.consumeTraces(one("a"))))
	})
	t.Run("nil past max_stale fetches like a miss", func(t *testing.T) {
		store := memStore(map[string]string{"a": "a1"})
		cfg := baseConfig(strLookup(ContextSpan, "k", "owner"), strLookup(ContextSpan, "n", "nothing"))
		cfg.Cache.MaxStale = time.Minute
		clk := newFakeClock()
		h := newHarness(t, cfg, store, withClock(clk))
		h.consumeTraces(spans(nil, map[string]any{"k": "a", "n": "absent"}))
		store.Put("a", "a2")
		store.Put("absent", "present")
		store.Invalidate(nil)
		clk.Advance(2 * time.Minute)
		out := h.consumeTraces(spans(nil, map[string]any{"k": "a", "n": "absent"}))
		assert.Equal(t, "a2", spanAttrs(out, 0)["owner"])
		assert.Equal(t, "present", spanAttrs(out, 0)["nothing"], "negative entries are never served after an invalidation")
		assert.Equal(t, [][]string{{"a", "absent"}, {"a", "absent"}}, h.store.Gets())
	})
}

func TestInvalidationUnsubscribedOnShutdown(t *testing.T) {
	store := memStore(nil)
	h := newHarness(t, baseConfig(strLookup(ContextSpan, "k", "owner")), store)
	assert.Equal(t, 1, store.Subscribers(), "three signals, one shared runtime, one subscription")
	h.shutdown()
	assert.Equal(t, 0, store.Subscribers())
	assert.Equal(t, int32(1), h.store.closes.Load(), "the store is closed once")
}

func TestCorruptedValuesCountedAndSkipped(t *testing.T) {
	store := memStore(map[string]string{
		"bad":   `{"a":`,
		"array": `[1,2]`,
		"big":   `{"a":"` + strings.Repeat("x", 100) + `"}`,
		"good":  `{"a":"ok"}`,
	})
	cfg := baseConfig(LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"k"}}, TargetPrefix: "v."})
	cfg.MaxValueSize = 50
	h := newHarness(t, cfg, store)

	td := spans(nil, map[string]any{"k": "bad"}, map[string]any{"k": "array"}, map[string]any{"k": "big"}, map[string]any{"k": "good"})
	out := h.consumeTraces(td)
	assert.Equal(t, map[string]any{"k": "bad"}, spanAttrs(out, 0))
	assert.Equal(t, map[string]any{"k": "array"}, spanAttrs(out, 1))
	assert.Equal(t, map[string]any{"k": "big"}, spanAttrs(out, 2))
	assert.Equal(t, map[string]any{"k": "good", "v.a": "ok"}, spanAttrs(out, 3))
	h.consumeTraces(spans(nil, map[string]any{"k": "bad"}, map[string]any{"k": "array"}, map[string]any{"k": "big"}))

	assert.Equal(t, map[string]int64{"invalid_json": 1, "wrong_shape": 1, "too_large": 1},
		h.sumByAttr("otelcol_processor_kvcache_invalid_values", "kind"), "counted once per fetched value, not per record")
	assert.Equal(t, map[string]int64{"error": 6, "miss": 1}, h.lookupCounts())
	assert.Equal(t, 1, h.store.getCount())
}

func TestStoreMetrics(t *testing.T) {
	store := memStore(map[string]string{"a": "1"})
	h := newHarness(t, baseConfig(strLookup(ContextSpan, "k", "owner")), store)
	h.consumeTraces(spans(nil, map[string]any{"k": "a"}, map[string]any{"k": "b"}))
	store.SetError(errors.New("boom"))
	h.consumeTraces(one("c"))
	assert.Equal(t, map[string]int64{"success": 1, "failure": 1}, h.sumByAttr("otelcol_processor_kvcache_store_requests", "outcome"))
	m, err := h.tel.GetMetric("otelcol_processor_kvcache_store_keys")
	require.NoError(t, err)
	hist, ok := m.Data.(metricdata.Histogram[int64])
	require.True(t, ok)
	require.Len(t, hist.DataPoints, 1)
	assert.Equal(t, int64(3), hist.DataPoints[0].Sum, "2 keys then 1 key")
	assert.Equal(t, uint64(2), hist.DataPoints[0].Count)
	_, err = h.tel.GetMetric("otelcol_processor_kvcache_store_duration")
	require.NoError(t, err)
}

func TestWritesThenReadsAcrossInstances(t *testing.T) {
	backing := memStore(nil)
	mk := func() *Config {
		cfg := baseConfig(LookupConfig{Context: ContextSpan, Key: KeyConfig{TraceID: true, Prefix: "user:"}, Target: "user.id", Action: ActionInsert})
		cfg.Writes = []WriteConfig{{Context: ContextSpan, Key: KeyConfig{TraceID: true, Prefix: "user:"}, Attributes: []string{"user.id"}, TTL: time.Hour}}
		cfg.WriteQueue.FlushInterval = 10 * time.Millisecond
		cfg.Cache.NegativeTTL = 0
		return cfg
	}
	a := newHarness(t, mk(), backing)
	b := newHarness(t, mk(), backing)

	tid := pcommon.TraceID{0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	trace := func(attrs map[string]any) ptrace.Traces {
		td := spans(nil, attrs)
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetTraceID(tid)
		return td
	}
	// The root span carries user.id: instance A writes it under the trace ID.
	a.consumeTraces(trace(map[string]any{"user.id": "u-42"}))
	key := "user:" + tid.String()
	require.Eventually(t, func() bool {
		res, err := backing.Get(context.Background(), []string{key})
		return err == nil && res[0].Found && string(res[0].Value) == "u-42"
	}, 5*time.Second, 5*time.Millisecond)

	// A later span of the trace in instance B gets it from the store...
	assert.Equal(t, "u-42", spanAttrs(b.consumeTraces(trace(map[string]any{"x": 1})), 0)["user.id"])
	// ... and in instance A from its local cache (written through), without a Get.
	assert.Equal(t, "u-42", spanAttrs(a.consumeTraces(trace(map[string]any{"x": 1})), 0)["user.id"])
	assert.Empty(t, a.store.Gets())
	assert.Len(t, b.store.Gets(), 1)
}

func TestWritesDeduplicatedAndJSON(t *testing.T) {
	backing := memStore(nil)
	cfg := baseConfig()
	cfg.Lookups = nil
	cfg.Writes = []WriteConfig{{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"session"}}, Attributes: []string{"user", "plan", "absent"}}}
	cfg.WriteQueue.FlushInterval = 10 * time.Millisecond
	h := newHarness(t, cfg, backing)

	var attrs []map[string]any
	for range 100 {
		attrs = append(attrs, map[string]any{"session": "s1", "user": "u1", "plan": int64(3)})
	}
	h.consumeTraces(spans(nil, attrs...))
	h.consumeTraces(spans(nil, attrs...))
	require.Eventually(t, func() bool { return backing.Stats().KeysWritten == 1 }, 5*time.Second, 5*time.Millisecond)
	res, err := backing.Get(context.Background(), []string{"s1"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"user":"u1","plan":3}`, string(res[0].Value))
	assert.Equal(t, int64(1), h.sumByAttr("otelcol_processor_kvcache_writes_queued", "")[""])
}

// setGateStore holds every Set until released.
type setGateStore struct {
	*recStore
	release chan struct{}
}

func (s *setGateStore) Set(ctx context.Context, e []kvcache.Entry) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.recStore.Store.Set(ctx, e)
}

func TestWriteQueueFullDropsWritesNotTelemetry(t *testing.T) {
	backing := memStore(nil)
	gated := &setGateStore{recStore: newRecStore(backing), release: make(chan struct{})}
	cfg := baseConfig()
	cfg.Lookups = nil
	cfg.Writes = []WriteConfig{{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"id"}}, Attributes: []string{"v"}}}
	cfg.WriteQueue = WriteQueueConfig{Size: 2, BatchSize: 1, FlushInterval: time.Millisecond}
	h := newHarness(t, cfg, gated)

	var attrs []map[string]any
	for i := range 50 {
		attrs = append(attrs, map[string]any{"id": fmt.Sprint(i), "v": "x"})
	}
	start := time.Now()
	h.consumeTraces(spans(nil, attrs...))
	assert.Less(t, time.Since(start), time.Second, "writes never block telemetry")
	assert.Equal(t, 50, h.tSink.SpanCount())
	dropped := h.sumByAttr("otelcol_processor_kvcache_writes_dropped", "reason")["queue_full"]
	queued := h.sumByAttr("otelcol_processor_kvcache_writes_queued", "")[""]
	assert.Positive(t, dropped)
	assert.Equal(t, int64(50), dropped+queued)
	close(gated.release)
}

func TestSharedRuntimeAcrossSignals(t *testing.T) {
	h := newHarness(t, baseConfig(strLookup(ContextResource, "service.name", "owner")), memStore(map[string]string{"svc": "o"}))
	h.consumeTraces(spans(map[string]any{"service.name": "svc"}))
	h.consumeLogs(logsWithResource("svc"))
	assert.Len(t, h.store.Gets(), 1, "logs hit the entry the traces pipeline fetched")
}

func TestStoreErrors(t *testing.T) {
	t.Run("missing extension", func(t *testing.T) {
		cfg := baseConfig(strLookup(ContextSpan, "k", "o"))
		f := NewFactory()
		tp, err := f.CreateTraces(context.Background(), settingsFor(t), cfg, nopTraces())
		require.NoError(t, err)
		err = tp.Start(context.Background(), componentHost(nil))
		require.ErrorContains(t, err, `"teststore" not found`)
		require.NoError(t, tp.Shutdown(context.Background()))
	})
	t.Run("wrong number of results", func(t *testing.T) {
		h := newHarness(t, baseConfig(strLookup(ContextSpan, "k", "owner")), shortStore{memStore(nil)})
		assert.Nil(t, ownerOf(h.consumeTraces(one("x"))))
		assert.Equal(t, map[string]int64{"error": 1}, h.lookupCounts())
	})
}

// shortStore breaks the Store contract: it returns fewer results than keys.
type shortStore struct{ kvcache.Store }

func (s shortStore) Get(context.Context, []string) ([]kvcache.Result, error) { return nil, nil }

func TestKeysSortedHelper(t *testing.T) {
	// sortedKeys is used for deterministic mapping order.
	assert.True(t, slices.IsSorted(sortedKeys(map[string]int{"b": 1, "a": 2, "c": 3})))
}

func TestEmbeddedStoreWhenNoStoreConfigured(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Lookups = []LookupConfig{{Context: ContextSpan, Key: KeyConfig{TraceID: true}, Target: "user.id", Action: ActionInsert}}
	cfg.Writes = []WriteConfig{{Context: ContextSpan, Key: KeyConfig{TraceID: true}, Attributes: []string{"user.id"}, TTL: time.Hour}}
	cfg.WriteQueue.FlushInterval = 5 * time.Millisecond
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.TracesSink)
	tp, err := NewFactory().CreateTraces(context.Background(), settingsFor(t), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, tp.Start(context.Background(), componentHost(nil)))
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	shared.mu.Lock()
	p := shared.m[cfg].p
	shared.mu.Unlock()

	root := spans(nil, map[string]any{"user.id": "u-7"})
	require.NoError(t, tp.ConsumeTraces(context.Background(), root))
	// Wait for the write to reach the embedded store, then forget the local copy.
	require.Eventually(t, func() bool {
		res, err := p.store.Get(context.Background(), []string{pcommon.TraceID{1}.String()})
		return err == nil && res[0].Found
	}, 5*time.Second, 5*time.Millisecond)
	p.cache.Invalidate([]string{pcommon.TraceID{1}.String()})

	child := spans(nil, map[string]any{"x": "y"})
	require.NoError(t, tp.ConsumeTraces(context.Background(), child))
	assert.Equal(t, "u-7", spanAttrs(child, 0)["user.id"], "read back from the embedded store")
}
