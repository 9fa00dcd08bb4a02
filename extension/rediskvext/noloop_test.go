package rediskvext

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
	"github.com/otelcol-custom/otelcol-custom/internal/redistest"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"
)

// TestOwnWritesNotInvalidated (issue 9, case 13): what a store writes does not
// come back to its own subscribers as invalidations (tracking uses NOLOOP),
// while the extension's other stores still hear of it, and a write by another
// client still reaches both.
func TestOwnWritesNotInvalidated(t *testing.T) {
	srv := redistest.Start(t)
	e, _ := startExt(t, standaloneConfig(srv, "own:"))
	s, other := storeOf(t, e), storeOf(t, e)
	r, rOther := subscribe(t, s), subscribe(t, other)

	entries := make([]kvcache.Entry, 100)
	for i := range entries {
		entries[i] = kvcache.Entry{Key: "k" + strconv.Itoa(i), Value: []byte("v"), TTL: time.Minute}
	}
	require.NoError(t, s.Set(ctxT(t), entries))
	require.NoError(t, s.Delete(ctxT(t), []string{"k0"}))
	// Redis pushes invalidations in the order it runs the commands: once the
	// marker written by another client has arrived, the store's own writes would
	// have too.
	srv.CLI(t, "SET", "own:marker", "v")
	require.Eventually(t, func() bool { return r.count("marker") > 0 && rOther.count("marker") > 0 },
		within, 5*time.Millisecond)
	for _, en := range entries {
		assert.Zero(t, r.count(en.Key), "own write of %s came back as an invalidation", en.Key)
		assert.Positive(t, rOther.count(en.Key), "the other store must hear of the write of %s", en.Key)
	}
	assert.Equal(t, 2, rOther.count("k0"), "the other store hears of the SET and the DEL of k0")
}

// TestProcessorWritesOncePerTTL (issue 9, case 13) runs the real loop through
// the kvcache processor's public factory: 1,000 traces, each span carrying the
// same attribute value, sent again every 100 ms for 10 s. Each key is written
// once (its TTL is an hour): 1,000 SETs, counted by the server. Before NOLOOP,
// each SET came back as an invalidation of the entry the processor had just
// cached, and the next batch wrote it again.
func TestProcessorWritesOncePerTTL(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s of traffic")
	}
	const traces = 1000
	srv := redistest.Start(t)
	extID := component.MustNewID("rediskv")
	e, _ := startExt(t, standaloneConfig(srv, "loop:"))

	f := kvcacheprocessor.NewFactory()
	cfg := f.CreateDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"store": extID.String(),
		"writes": []any{map[string]any{
			"context":    "span",
			"key":        map[string]any{"trace_id": true},
			"attributes": []any{"tenant"},
			"ttl":        "1h",
		}},
	}).Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	p, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	require.NoError(t, err)
	host := kvcachetest.NewHost(map[component.ID]component.Component{extID: e})
	require.NoError(t, p.Start(context.Background(), host))
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			require.NoError(t, p.Shutdown(context.Background()))
		}
	}
	t.Cleanup(stop)

	batch := func() ptrace.Traces {
		td := ptrace.NewTraces()
		spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
		for i := range traces {
			sp := spans.AppendEmpty()
			var tid [16]byte
			tid[0], tid[1], tid[15] = byte(i>>8), byte(i), 1
			sp.SetTraceID(tid)
			sp.SetSpanID([8]byte{1})
			sp.Attributes().PutStr("tenant", "t"+strconv.Itoa(i))
		}
		return td
	}
	srv.ResetStats(t)
	deadline := time.Now().Add(10 * time.Second)
	batches := 0
	for time.Now().Before(deadline) {
		require.NoError(t, p.ConsumeTraces(context.Background(), batch()))
		batches++
		time.Sleep(100 * time.Millisecond)
	}
	stop() // flushes the write queue
	sets := srv.CommandStats(t)["set"]
	t.Logf("%d traces in %d batches over 10 s: %d SETs", traces, batches, sets)
	assert.Equal(t, traces, sets, "each trace's key is written once per TTL")
}
