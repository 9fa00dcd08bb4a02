package kvcacheprocessor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
	"github.com/otelcol-custom/otelcol-custom/extension/rediskvext"
	"github.com/otelcol-custom/otelcol-custom/internal/redistest"
)

// Integration tests against a real redis-server (internal/redistest: loopback, random
// port; skipped when Redis is not installed, a failure when CI is set).

const redisPrefix = "kvtest:"

// redisStore starts a rediskv extension on srv and returns its store; the extension
// stops at cleanup, after the processors that use it (cleanups run in reverse).
func redisStore(t *testing.T, srv *redistest.Server) kvcache.Store {
	t.Helper()
	f := rediskvext.NewFactory()
	cfg := f.CreateDefaultConfig().(*rediskvext.Config)
	cfg.Endpoints = []string{srv.Addr()}
	cfg.KeyPrefix = redisPrefix
	cfg.ReadTimeout, cfg.WriteTimeout = 5*time.Second, 5*time.Second
	cfg.DialTimeout = time.Second
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), kvcachetest.NewHost(nil)))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	store, err := ext.(kvcache.Provider).Store(context.Background(), component.MustNewID("kvcache"))
	require.NoError(t, err)
	return store
}

func TestRedisChangeVisibleInTwoInstancesWithin1s(t *testing.T) {
	srv := redistest.Start(t)
	srv.CLI(t, "SET", redisPrefix+"svc", "v1")
	mk := func() *harness {
		cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
		cfg.Cache.TTL = time.Hour // only an invalidation can make a change visible
		cfg.Cache.RefreshAfter = 0
		return newHarness(t, cfg, redisStore(t, srv))
	}
	a, b := mk(), mk()
	require.Equal(t, "v1", ownerOf(a.consumeTraces(one("svc"))))
	require.Equal(t, "v1", ownerOf(b.consumeTraces(one("svc"))))

	srv.CLI(t, "SET", redisPrefix+"svc", "v2")
	changed := time.Now()
	require.Eventually(t, func() bool {
		return ownerOf(a.consumeTraces(one("svc"))) == "v2" && ownerOf(b.consumeTraces(one("svc"))) == "v2"
	}, time.Second, 10*time.Millisecond, "a value changed with redis-cli shows in both instances within 1 s")
	t.Logf("change visible in both instances after %v", time.Since(changed))

	// A key absent at first (negatively cached) is invalidated too when it appears.
	assert.Nil(t, ownerOf(a.consumeTraces(one("later"))))
	srv.CLI(t, "SET", redisPrefix+"later", "here")
	require.Eventually(t, func() bool { return ownerOf(a.consumeTraces(one("later"))) == "here" }, time.Second, 10*time.Millisecond)
}

func TestRedisWritesThenReadsAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	mk := func() *harness {
		cfg := baseConfig(LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"session"}}, TargetPrefix: "user.", Action: ActionInsert})
		cfg.Writes = []WriteConfig{{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"session"}}, Attributes: []string{"id", "plan"}, TTL: time.Minute}}
		cfg.WriteQueue.FlushInterval = 5 * time.Millisecond
		return newHarness(t, cfg, redisStore(t, srv))
	}
	a, b := mk(), mk()
	a.consumeTraces(spans(nil, map[string]any{"session": "s-1", "id": "u-9", "plan": int64(2)}))
	require.Eventually(t, func() bool {
		return srv.CLI(t, "EXISTS", redisPrefix+"s-1") == "1"
	}, 5*time.Second, 10*time.Millisecond)
	ttl := srv.CLI(t, "PTTL", redisPrefix+"s-1")
	assert.NotEqual(t, "-1", ttl, "written with a TTL")
	got := spanAttrs(b.consumeTraces(spans(nil, map[string]any{"session": "s-1"})), 0)
	assert.Equal(t, "u-9", got["user.id"])
	assert.Equal(t, int64(2), got["user.plan"])
}

func TestRedisRestartMidStreamLosesNothing(t *testing.T) {
	srv := redistest.Start(t)
	srv.CLI(t, "SET", redisPrefix+"hot", "before")
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.Timeout = 100 * time.Millisecond
	cfg.FetchTimeout = 500 * time.Millisecond
	cfg.CircuitBreaker = CircuitBreakerConfig{FailureThreshold: 3, OpenDuration: 500 * time.Millisecond}
	cfg.Cache.NegativeTTL = 0
	h := newHarness(t, cfg, redisStore(t, srv))
	require.Equal(t, "before", ownerOf(h.consumeTraces(one("hot"))))

	// Stream batches (one cached key, one new key each) until told to stop.
	var sent, slow atomic.Int64
	var maxLatency atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			td := spans(nil, map[string]any{"k": "hot"}, map[string]any{"k": fmt.Sprintf("cold-%d", i)})
			start := time.Now()
			if err := h.traces.ConsumeTraces(context.Background(), td); err != nil {
				t.Errorf("ConsumeTraces: %v", err)
				return
			}
			lat := time.Since(start)
			for {
				cur := maxLatency.Load()
				if int64(lat) <= cur || maxLatency.CompareAndSwap(cur, int64(lat)) {
					break
				}
			}
			if lat > cfg.Timeout+time.Second {
				slow.Add(1)
			}
			sent.Add(2)
			time.Sleep(5 * time.Millisecond)
		}
	}()

	time.Sleep(200 * time.Millisecond)
	srv.Stop()
	require.Eventually(t, h.circuitOpen, 10*time.Second, 10*time.Millisecond, "failures open the circuit")
	assert.Equal(t, "before", ownerOf(h.consumeTraces(one("hot"))), "cached values still enrich while Redis is down")
	time.Sleep(500 * time.Millisecond)
	srv.Restart()
	srv.CLI(t, "SET", redisPrefix+"fresh", "after")
	restarted := time.Now()
	require.Eventually(t, func() bool { return ownerOf(h.consumeTraces(one("fresh"))) == "after" },
		5*time.Second, 20*time.Millisecond, "enrichment resumes within 5 s of the restart")
	t.Logf("enrichment resumed %v after the restart", time.Since(restarted))
	close(stop)
	wg.Wait()

	streamed := sent.Load()
	assert.Positive(t, streamed)
	// Every record sent reached the next consumer (the sink also holds the probes above).
	assert.GreaterOrEqual(t, int64(h.tSink.SpanCount()), streamed+2)
	assert.Zero(t, slow.Load(), "no batch delayed beyond timeout (+1 s slack); max %v", time.Duration(maxLatency.Load()))
	t.Logf("streamed %d spans, max batch latency %v (timeout %v)", streamed, time.Duration(maxLatency.Load()), cfg.Timeout)
}
