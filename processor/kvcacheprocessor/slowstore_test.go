package kvcacheprocessor

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/internal/redistest"
)

// TestRedisSlowStoreBoundedGoroutines sends 1,000 batches/s, each with a key the
// local cache does not have, to a real Redis behind a proxy that delays every
// command by 1 s (a slow but healthy store: every call succeeds, so the breaker
// stays closed). Loads in flight are capped by max_inflight_loads: the goroutines
// stay bounded, and the batches that find no free slot pass un-enriched, counted.
func TestRedisSlowStoreBoundedGoroutines(t *testing.T) {
	const delay, sendFor, rate = time.Second, 3 * time.Second, 1000
	srv := redistest.Start(t)
	mset(t, srv, map[string]string{"warm": "w"})
	proxy := redistest.StartDelayProxy(t, srv.Addr(), delay)
	rcfg := rediskvConfig(proxy.Addr())
	rcfg.DialTimeout = 5 * time.Second
	store := newRedisStore(t, rcfg)

	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.OnMiss = OnMissAsync
	cfg.Timeout = 10 * time.Millisecond
	cfg.FetchTimeout = 3 * delay
	cfg.MaxInflightLoads = 16
	h := newHarness(t, cfg, store, withoutGetRecording())
	baseline := runtime.NumGoroutine()

	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			peak.Store(max(peak.Load(), int64(runtime.NumGoroutine())))
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	start := time.Now()
	n := 0
	for ; time.Since(start) < sendFor; n++ {
		if d := time.Until(start.Add(time.Duration(n) * time.Second / rate)); d > 0 {
			time.Sleep(d)
		}
		require.NoError(t, h.traces.ConsumeTraces(context.Background(), keySpans(fmt.Sprintf("slow-%d", n))))
		h.tSink.Reset()
	}
	close(stop)
	wg.Wait()
	grown := peak.Load() - int64(baseline)
	counts := h.lookupCounts()
	t.Logf("%d batches in %v through a %v delay: goroutines baseline %d, peak %d (+%d); lookups %v",
		n, time.Since(start).Round(time.Millisecond), delay, baseline, peak.Load(), grown, counts)
	assert.GreaterOrEqual(t, n, rate*int(sendFor/time.Second)/3, "the sender itself was too slow")
	assert.LessOrEqual(t, grown, int64(cfg.MaxInflightLoads+50), "goroutines grew with the batches")
	assert.Positive(t, counts["miss"], "no load was started")
	assert.Positive(t, counts["error"], "no batch found the slots full")
	assert.False(t, h.circuitOpen(), "slow successes opened the circuit")
}
