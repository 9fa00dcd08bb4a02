package kvcacheprocessor

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-custom/otelcol-custom/internal/redistest"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache"
)

// gauge returns the last value of an int gauge, or -1 when it has none.
func (h *harness) gauge(name string) int64 {
	m, err := h.tel.GetMetric(name)
	if err != nil {
		return -1
	}
	g, ok := m.Data.(metricdata.Gauge[int64])
	if !ok || len(g.DataPoints) != 1 {
		return -1
	}
	return g.DataPoints[0].Value
}

// TestRedisReadOnlyUserKeepsLookups connects as a Redis ACL user that may read but
// not write (-@write) with writes configured: every write is refused (NOPERM), the
// write circuit opens, and lookups of keys the local cache does not have keep
// being fetched and applied.
func TestRedisReadOnlyUserKeepsLookups(t *testing.T) {
	srv := redistest.Start(t)
	kv := map[string]string{}
	for i := range 20 {
		kv[fmt.Sprintf("svc-%d", i)] = fmt.Sprintf("v-%d", i)
	}
	mset(t, srv, kv)
	const user, password = "reader", "reader-password-0123"
	srv.CLI(t, "ACL", "SETUSER", user, "on", ">"+password, "~*", "&*", "+@all", "-@write")
	rcfg := rediskvConfig(srv.Addr())
	rcfg.Username, rcfg.Password = user, password
	store := newRedisStore(t, rcfg)

	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.Writes = []WriteConfig{{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"w"}, Prefix: "w:"}, Attributes: []string{"v"}}}
	cfg.CircuitBreaker = CircuitBreakerConfig{FailureThreshold: 2, OpenDuration: time.Minute}
	cfg.WriteQueue.BatchSize = 1
	cfg.WriteQueue.FlushInterval = 5 * time.Millisecond
	h := newHarness(t, cfg, store)

	for i := range 4 {
		out := h.consumeTraces(spans(nil, map[string]any{"k": fmt.Sprintf("svc-%d", i), "w": fmt.Sprintf("wk-%d", i), "v": "x"}))
		assert.Equal(t, fmt.Sprintf("v-%d", i), spanAttrs(out, 0)["owner"])
		time.Sleep(20 * time.Millisecond)
	}
	require.Eventually(t, func() bool {
		return h.sumByAttr("otelcol_processor_kvcache_writes_dropped", "reason")["store_error"] >= 2
	}, 5*time.Second, 5*time.Millisecond, "the writes were not refused")

	for i := 4; i < 20; i++ {
		out := h.consumeTraces(spans(nil, map[string]any{"k": fmt.Sprintf("svc-%d", i), "w": fmt.Sprintf("wk-%d", i), "v": "x"}))
		assert.Equal(t, fmt.Sprintf("v-%d", i), spanAttrs(out, 0)["owner"], "lookup %d after the write circuit opened", i)
	}
	assert.False(t, h.circuitOpen(), "refused writes opened the lookups' circuit")
	assert.Equal(t, int64(localcache.CircuitOpen), h.gauge("otelcol_processor_kvcache_write_circuit_state"))
	assert.Zero(t, h.lookupCounts()["error"])
	assert.Equal(t, int64(20), h.lookupCounts()["miss"])
}
