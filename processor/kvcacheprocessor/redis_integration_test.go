package kvcacheprocessor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
	"github.com/otelcol-custom/otelcol-custom/extension/rediskvext"
	"github.com/otelcol-custom/otelcol-custom/internal/redistest"
)

// More processor-level tests against real redis-servers (internal/redistest):
// a stalled server, round trips per cold batch (counted by the server), the
// 3-master cluster, corrupted values, TTL expiry and the negative cache. Timing
// bounds are generous (shared 2-core machines, -race); the figures are logged.

// rediskvConfig is the rediskv configuration the tests start from: key prefix
// redisPrefix, generous call timeouts (tests about a stalled server rely on the
// read timeout being longer than the stall).
func rediskvConfig(endpoints ...string) *rediskvext.Config {
	cfg := rediskvext.NewFactory().CreateDefaultConfig().(*rediskvext.Config)
	cfg.Endpoints = endpoints
	cfg.KeyPrefix = redisPrefix
	cfg.ReadTimeout, cfg.WriteTimeout = 8*time.Second, 8*time.Second
	cfg.DialTimeout = 2 * time.Second
	return cfg
}

// newRedisStore starts a rediskv extension with cfg and returns its store; the
// extension stops at cleanup, after the processors that use it.
func newRedisStore(t *testing.T, cfg *rediskvext.Config) kvcache.Store {
	t.Helper()
	require.NoError(t, confmap.Validate(cfg))
	f := rediskvext.NewFactory()
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), kvcachetest.NewHost(nil)))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	store, err := ext.(kvcache.Provider).Store(context.Background(), component.MustNewID("kvcache"))
	require.NoError(t, err)
	return store
}

// keyspaceStats returns the server's keyspace_hits and keyspace_misses (INFO stats):
// every key an MGET reads counts once, found or not. CONFIG RESETSTAT resets them.
func keyspaceStats(t *testing.T, srv *redistest.Server) (hits, misses int) {
	t.Helper()
	for _, line := range strings.Split(srv.CLI(t, "INFO", "stats"), "\n") {
		name, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch name {
		case "keyspace_hits", "keyspace_misses":
			n, err := strconv.Atoi(v)
			require.NoError(t, err, line)
			if name == "keyspace_hits" {
				hits = n
			} else {
				misses = n
			}
		}
	}
	return hits, misses
}

// mset sets prefixed keys with one redis-cli call (standalone only: MSET across
// hash slots is refused by a cluster).
func mset(t *testing.T, srv *redistest.Server, kv map[string]string) {
	t.Helper()
	args := []string{"MSET"}
	for k, v := range kv {
		args = append(args, redisPrefix+k, v)
	}
	srv.CLI(t, args...)
}

// keySpans is a batch of one span per key, attribute k=key.
func keySpans(keys ...string) ptrace.Traces {
	attrs := make([]map[string]any, len(keys))
	for i, k := range keys {
		attrs[i] = map[string]any{"k": k}
	}
	return spans(nil, attrs...)
}

// TestRedisSlowServerBoundedByTimeout stalls redis-server (CLIENT PAUSE ... ALL:
// every command is held until the pause ends, as a stuck server would) while
// batches with keys missing from the local cache flow through the processor.
func TestRedisSlowServerBoundedByTimeout(t *testing.T) {
	// The stall is long compared with the bounds below, and batches are only sent
	// in its first third, so that every one of them has come back (or must have)
	// while Redis still holds its MGET.
	const stall = 3 * time.Second
	const sendFor = time.Second

	setup := func(t *testing.T, onMiss string, timeout time.Duration) (*harness, *redistest.Server) {
		srv := redistest.Start(t)
		kv := map[string]string{"hot": "h", "fresh": "f"}
		for i := range 200 {
			kv[fmt.Sprintf("slow-%d", i)] = fmt.Sprintf("v-%d", i)
		}
		mset(t, srv, kv)
		cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
		cfg.OnMiss = onMiss
		cfg.Timeout = timeout
		cfg.FetchTimeout = 10 * time.Second // longer than the stall: the late answers are cached
		store := newRedisStore(t, rediskvConfig(srv.Addr()))
		h := newHarness(t, cfg, store)
		// Warm "hot" (async: the first batch does not wait, so poll).
		require.Eventually(t, func() bool { return ownerOf(h.consumeTraces(one("hot"))) == "h" },
			5*time.Second, 10*time.Millisecond)
		return h, srv
	}

	// during stalls Redis and sends batches (the cached key, a new key twice) in
	// the stall's first second. Every batch must come back before the stall ends,
	// with the cached key enriched and the new one not; check adds what depends on
	// on_miss. It returns the new keys and the earliest time the stall can end.
	during := func(t *testing.T, h *harness, srv *redistest.Server, check func(lat time.Duration, out ptrace.Traces)) ([]string, time.Time) {
		srv.ResetStats(t)
		sinkBefore := h.tSink.SpanCount()
		begin := time.Now()
		srv.Pause(t, stall)
		earliestEnd := begin.Add(stall) // the pause began after `begin`
		var keys []string
		var maxLat time.Duration
		sent := 0
		for i := 0; time.Since(begin) < sendFor; i++ {
			k := fmt.Sprintf("slow-%d", i)
			td := spans(nil, map[string]any{"k": "hot"}, map[string]any{"k": k}, map[string]any{"k": k})
			start := time.Now()
			require.NoError(t, h.traces.ConsumeTraces(context.Background(), td))
			lat := time.Since(start)
			require.True(t, time.Now().Before(earliestEnd),
				"batch %d came back only after the stall ended (latency %v): it waited for the stalled store (on_miss: async must not wait; on_miss: wait must stop at timeout)", i, lat)
			maxLat = max(maxLat, lat)
			sent += 3
			keys = append(keys, k)
			assert.Equal(t, "h", spanAttrs(td, 0)["owner"], "a cached value enriches while Redis is stalled")
			assert.Nil(t, spanAttrs(td, 1)["owner"], "Redis has not answered yet: the record passes un-enriched")
			assert.Nil(t, spanAttrs(td, 2)["owner"])
			check(lat, td)
			time.Sleep(20 * time.Millisecond) // async batches return at once: keep their number modest
		}
		require.GreaterOrEqual(t, len(keys), 3, "too few batches during the stall to say anything")
		assert.Equal(t, sinkBefore+sent, h.tSink.SpanCount(), "every record sent during the stall reached the next consumer")
		t.Logf("%d batches during a %v stall; slowest batch %v (timeout %v)", len(keys), stall, maxLat, h.cfg.Timeout)
		return keys, earliestEnd
	}

	// after waits for the stall to end and checks that the answers held by Redis
	// arrive and are cached: the keys sent during the stall enrich later batches
	// without any further round trip, and a key never seen before is fetched.
	after := func(t *testing.T, h *harness, srv *redistest.Server, keys []string, earliestEnd time.Time) {
		time.Sleep(time.Until(earliestEnd))
		want := map[string]any{}
		for _, k := range keys {
			want[k] = "v-" + strings.TrimPrefix(k, "slow-")
		}
		require.Eventually(t, func() bool {
			out := h.consumeTraces(keySpans(keys...))
			for i, k := range keys {
				if spanAttrs(out, i)["owner"] != want[k] {
					return false
				}
			}
			return true
		}, 10*time.Second, 20*time.Millisecond, "the values Redis held during the stall arrive and enrich later batches")
		t.Logf("all %d keys asked for during the stall enrich batches %v after the stall ended (at most)", len(keys),
			time.Since(earliestEnd).Round(time.Millisecond))

		stats := srv.CommandStats(t)
		assert.Equal(t, len(keys), stats["mget"], "one MGET per batch sent during the stall, none for the later batches: the late answers were cached")
		hits, misses := keyspaceStats(t, srv)
		assert.Equal(t, len(keys), hits, "every key read once")
		assert.Zero(t, misses)
		assert.False(t, h.circuitOpen(), "a stall shorter than fetch_timeout is not a failure")
		assert.Zero(t, h.sumByAttr("otelcol_processor_kvcache_store_requests", "outcome")["failure"])

		require.Eventually(t, func() bool { return ownerOf(h.consumeTraces(one("fresh"))) == "f" },
			5*time.Second, 10*time.Millisecond, "a key first seen after the stall is fetched and enriches")
	}

	t.Run("on_miss wait", func(t *testing.T) {
		h, srv := setup(t, OnMissWait, 100*time.Millisecond)
		before := h.lookupCounts()
		keys, end := during(t, h, srv, func(lat time.Duration, _ ptrace.Traces) {
			assert.GreaterOrEqual(t, lat, h.cfg.Timeout, "on_miss: wait waits for the missing keys...")
			assert.Less(t, lat, h.cfg.Timeout+time.Second, "...up to timeout (+1 s slack), not for the stalled store")
		})
		got := h.lookupCounts()
		assert.Equal(t, int64(len(keys)), got["hit"]-before["hit"])
		assert.Equal(t, int64(2*len(keys)), got["error"]-before["error"], "lookups not answered within timeout count as errors")
		assert.Equal(t, before["miss"], got["miss"])
		after(t, h, srv, keys, end)
	})

	t.Run("on_miss async", func(t *testing.T) {
		// A timeout longer than the stall: a batch that waited would come back only
		// when the stall ends, which `during` refuses.
		h, srv := setup(t, OnMissAsync, 2*stall)
		before := h.lookupCounts()
		keys, end := during(t, h, srv, func(time.Duration, ptrace.Traces) {})
		got := h.lookupCounts()
		assert.Equal(t, int64(len(keys)), got["hit"]-before["hit"])
		assert.Equal(t, int64(2*len(keys)), got["miss"]-before["miss"], "async: missing keys count as misses, not timeouts")
		assert.Equal(t, before["error"], got["error"])
		after(t, h, srv, keys, end)
	})
}

// TestRedisColdBatchesOneRoundTripEach counts, on the server, the round trips cold
// batches cost through the processor.
func TestRedisColdBatchesOneRoundTripEach(t *testing.T) {
	t.Run("sequential", func(t *testing.T) {
		const batches, distinct, perBatch = 8, 250, 1000
		srv := redistest.Start(t)
		kv := map[string]string{}
		for b := range batches {
			for j := 0; j < distinct; j += 2 { // every other key exists
				k := fmt.Sprintf("c%d-%d", b, j)
				kv[k] = "v-" + k
			}
		}
		mset(t, srv, kv)
		cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
		cfg.Timeout = 10 * time.Second // cold batches are answered in full: enrichment is checked
		cfg.FetchTimeout = 10 * time.Second
		h := newHarness(t, cfg, newRedisStore(t, rediskvConfig(srv.Addr())))

		batch := func(b int) ptrace.Traces {
			keys := make([]string, perBatch)
			for i := range keys {
				keys[i] = fmt.Sprintf("c%d-%d", b, i%distinct)
			}
			return keySpans(keys...)
		}
		check := func(b int, out ptrace.Traces) {
			for i := range perBatch {
				k := fmt.Sprintf("c%d-%d", b, i%distinct)
				var want any
				if (i%distinct)%2 == 0 {
					want = "v-" + k
				}
				require.Equal(t, want, spanAttrs(out, i)["owner"], "batch %d span %d", b, i)
			}
		}

		srv.ResetStats(t)
		for b := range batches {
			check(b, h.consumeTraces(batch(b)))
		}
		stats := srv.CommandStats(t)
		assert.Equal(t, batches, stats["mget"], "exactly one MGET per cold batch")
		assert.Zero(t, stats["get"], "no per-key GET")
		hits, misses := keyspaceStats(t, srv)
		assert.Equal(t, batches*distinct/2, hits, "each distinct key read once, not once per record")
		assert.Equal(t, batches*distinct/2, misses)
		gets := h.store.Gets()
		require.Equal(t, batches, len(gets), "store calls")
		for _, g := range gets {
			assert.Equal(t, distinct, len(g), "a store call carries the batch's distinct keys")
		}

		// The same batches again: found and absent keys are both cached.
		for b := range batches {
			check(b, h.consumeTraces(batch(b)))
		}
		assert.Equal(t, batches, srv.CommandStats(t)["mget"], "warm batches make no round trip")
		hits2, misses2 := keyspaceStats(t, srv)
		assert.Equal(t, hits, hits2)
		assert.Equal(t, misses, misses2, "absent keys are negatively cached")
		half := int64(batches * perBatch / 2)
		assert.Equal(t, map[string]int64{"miss": half, "hit": half, "negative": 2 * half}, h.lookupCounts())
		assert.Equal(t, int64(batches), h.sumByAttr("otelcol_processor_kvcache_store_requests", "outcome")["success"])
	})

	t.Run("concurrent overlapping", func(t *testing.T) {
		// G batches arrive together while Redis is paused, so that all their fetches
		// are in flight at once. Batch g reads shared keys [50g, 50g+100), which it
		// shares with batches g-1 and g+1, and one key of its own (so that every
		// batch makes exactly one store call of its own).
		const g, stall = 6, 3 * time.Second
		srv := redistest.Start(t)
		kv := map[string]string{}
		for i := range 50*g + 50 {
			kv[fmt.Sprintf("o-%d", i)] = fmt.Sprintf("v-o-%d", i)
		}
		for b := range g {
			kv[fmt.Sprintf("own-%d", b)] = fmt.Sprintf("v-own-%d", b)
		}
		mset(t, srv, kv)
		cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
		cfg.Timeout = 15 * time.Second // batches wait for the paused server: enrichment is checked
		cfg.FetchTimeout = 15 * time.Second
		store := newRedisStore(t, rediskvConfig(srv.Addr()))
		h := newHarness(t, cfg, store)

		batchKeys := make([][]string, g)
		for b := range g {
			// Each key twice, interleaved, own key in the middle.
			var keys []string
			for range 2 {
				for i := 50 * b; i < 50*b+100; i++ {
					keys = append(keys, fmt.Sprintf("o-%d", i))
					if i == 50*b+50 {
						keys = append(keys, fmt.Sprintf("own-%d", b))
					}
				}
			}
			batchKeys[b] = keys
		}

		srv.ResetStats(t)
		begin := time.Now()
		srv.Pause(t, stall)
		outs := make([]ptrace.Traces, g)
		var wg sync.WaitGroup
		for b := range g {
			outs[b] = keySpans(batchKeys[b]...)
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.NoError(t, h.traces.ConsumeTraces(context.Background(), outs[b]))
			}()
		}
		require.Eventually(t, func() bool { return h.store.getCount() == g }, stall, 5*time.Millisecond,
			"every batch makes one store call")
		require.True(t, time.Now().Before(begin.Add(stall)), "all the batches' fetches were in flight together while Redis was paused")
		wg.Wait()

		for b := range g {
			var wrong []string
			for i, k := range batchKeys[b] {
				if got := spanAttrs(outs[b], i)["owner"]; got != "v-"+k {
					wrong = append(wrong, fmt.Sprintf("%d:%s=%v", i, k, got))
				}
			}
			assert.Empty(t, wrong, "batch %d: records not enriched", b)
		}

		fetched := map[string]int{}
		for _, keys := range h.store.Gets() {
			for _, k := range keys {
				fetched[k]++
			}
		}
		assert.Len(t, fetched, len(kv), "every key was fetched")
		for k, n := range fetched {
			assert.Equal(t, 1, n, "key %s fetched %d times by concurrent batches", k, n)
		}
		stats := srv.CommandStats(t)
		assert.Equal(t, g, stats["mget"], "one MGET per batch")
		hits, misses := keyspaceStats(t, srv)
		assert.Equal(t, len(kv), hits, "Redis read each key once, however many batches asked for it")
		assert.Zero(t, misses)
		t.Logf("%d concurrent batches, %d distinct keys, %d MGETs, %d keys read by Redis", g, len(kv), stats["mget"], hits)
	})
}

// TestRedisClusterChangeVisibleInTwoInstancesWithin1s is the invalidation test on a
// 3-master Redis Cluster: a value changed with redis-cli on any master shows in two
// processor instances (each with its own rediskv extension, as two collectors)
// within 1 s, their local cache TTL being an hour. It also counts a cold batch's
// round trips: one MGET per hash slot of its keys.
func TestRedisClusterChangeVisibleInTwoInstancesWithin1s(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	clusterStore := func() kvcache.Store {
		cfg := rediskvConfig(c.Addrs()...)
		cfg.Mode = rediskvext.ModeCluster
		return newRedisStore(t, cfg)
	}
	mk := func() *harness {
		cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
		cfg.Cache.TTL = time.Hour // only an invalidation can make a change visible
		cfg.Cache.RefreshAfter = 0
		cfg.Timeout = 5 * time.Second
		cfg.FetchTimeout = 10 * time.Second
		return newHarness(t, cfg, clusterStore())
	}

	// One key on each master.
	candidates := make([]string, 64)
	for i := range candidates {
		candidates[i] = fmt.Sprintf("svc-%d", i)
	}
	prefixed := make([]string, len(candidates))
	for i, k := range candidates {
		prefixed[i] = redisPrefix + k
	}
	slots := c.KeySlots(t, prefixed)
	owners := c.SlotOwners(t)
	var keys []string
	seen := map[*redistest.Server]bool{}
	for i, k := range candidates {
		if o := owners[slots[i]]; o != nil && !seen[o] {
			seen[o] = true
			keys = append(keys, k)
		}
	}
	require.Len(t, keys, 3, "keys on all three masters")
	for _, k := range keys {
		c.CLI(t, "SET", redisPrefix+k, "v1-"+k)
	}

	a, b := mk(), mk()
	owner := func(h *harness) []any {
		out := h.consumeTraces(keySpans(keys...))
		got := make([]any, len(keys))
		for i := range keys {
			got[i] = spanAttrs(out, i)["owner"]
		}
		return got
	}
	want := make([]any, len(keys))
	for i, k := range keys {
		want[i] = "v1-" + k
	}
	require.Equal(t, want, owner(a))
	require.Equal(t, want, owner(b))

	var slowest time.Duration
	for i, k := range keys {
		c.CLI(t, "SET", redisPrefix+k, "v2-"+k)
		changed := time.Now()
		want[i] = "v2-" + k
		require.Eventually(t, func() bool {
			return assert.ObjectsAreEqual(want, owner(a)) && assert.ObjectsAreEqual(want, owner(b))
		}, time.Second, 10*time.Millisecond, "a value changed with redis-cli on master %d shows in both instances within 1 s (and nothing else changes)", i)
		slowest = max(slowest, time.Since(changed))
	}
	t.Logf("cluster: a change on each master visible in both instances after at most %v", slowest.Round(time.Millisecond))

	// A key absent at first (negatively cached) is invalidated when it appears.
	assert.Nil(t, ownerOf(a.consumeTraces(one("later"))))
	c.CLI(t, "SET", redisPrefix+"later", "here")
	require.Eventually(t, func() bool { return ownerOf(a.consumeTraces(one("later"))) == "here" }, time.Second, 10*time.Millisecond)

	t.Run("one MGET per hash slot", func(t *testing.T) {
		cold := make([]string, 30)
		for i := range cold {
			cold[i] = fmt.Sprintf("cold-%d", i)
			if i%2 == 0 {
				c.CLI(t, "SET", redisPrefix+cold[i], "v-"+cold[i])
			}
		}
		coldPrefixed := make([]string, len(cold))
		for i, k := range cold {
			coldPrefixed[i] = redisPrefix + k
		}
		distinctSlots := map[int]bool{}
		for _, s := range c.KeySlots(t, coldPrefixed) {
			distinctSlots[s] = true
		}
		h := mk()
		c.ResetStats(t)
		// Every key three times in one batch.
		out := h.consumeTraces(keySpans(append(append(cold[:len(cold):len(cold)], cold...), cold...)...))
		for i := range 3 * len(cold) {
			k := cold[i%len(cold)]
			var want any
			if (i%len(cold))%2 == 0 {
				want = "v-" + k
			}
			require.Equal(t, want, spanAttrs(out, i)["owner"], "span %d", i)
		}
		stats := c.CommandStats(t)
		assert.Equal(t, len(distinctSlots), stats["mget"], "one MGET per hash slot the batch's keys fall in")
		assert.Zero(t, stats["get"])
		assert.Equal(t, 1, h.store.getCount(), "one store call for the batch")
	})
}

// TestRedisCorruptedValuesCountedAndSkipped stores bad values with redis-cli: each
// is counted by kind and skipped, the rest of the batch is enriched, and the key
// (never the value) is logged at debug, rate-limited.
func TestRedisCorruptedValuesCountedAndSkipped(t *testing.T) {
	withLogger := func(l *zap.Logger) harnessOpt { return func(h *harness) { h.p.tel.logger = l } }
	lookup := LookupConfig{
		Context:      ContextSpan,
		Key:          KeyConfig{Attributes: []string{"k"}},
		TargetPrefix: "owner.",
		Default:      map[string]any{"team": "unknown"},
	}
	const secret = "SECRET-VALUE"

	t.Run("kinds", func(t *testing.T) {
		srv := redistest.Start(t)
		mset(t, srv, map[string]string{
			"bad-json":    `{"team":"` + secret + `"`,
			"binary":      "\xff\xfe" + secret + "\x01",
			"wrong-shape": `["` + secret + `"]`,
			"scalar":      `42`,
			"too-large":   `{"team":"` + secret + strings.Repeat("x", 200) + `"}`,
			"good-1":      `{"team":"payments","tier":2,"paging":true,"oncall":{"primary":"alice"}}`,
			"good-2":      `{"team":"search","cost":1.5}`,
		})
		srv.CLI(t, "RPUSH", redisPrefix+"list-type", secret) // not a string: MGET answers nil
		cfg := baseConfig(lookup)
		cfg.MaxValueSize = 100
		core, logs := observer.New(zap.DebugLevel)
		h := newHarness(t, cfg, newRedisStore(t, rediskvConfig(srv.Addr())), withLogger(zap.New(core)))

		batchKeys := []string{"good-1", "bad-json", "good-2", "binary", "wrong-shape", "scalar", "too-large", "list-type", "absent", "good-1"}
		good1 := map[string]any{"k": "good-1", "owner.team": "payments", "owner.tier": int64(2), "owner.paging": true, "owner.oncall.primary": "alice"}
		wantAttrs := []map[string]any{
			good1,
			{"k": "bad-json"},
			{"k": "good-2", "owner.team": "search", "owner.cost": 1.5},
			{"k": "binary"},
			{"k": "wrong-shape"},
			{"k": "scalar"},
			{"k": "too-large"},
			{"k": "list-type", "owner.team": "unknown"}, // reported as not found: the default applies
			{"k": "absent", "owner.team": "unknown"},
			good1,
		}
		srv.ResetStats(t)
		for round := range 2 {
			out := h.consumeTraces(keySpans(batchKeys...))
			require.Equal(t, len(batchKeys), out.SpanCount(), "nothing dropped")
			for i := range batchKeys {
				assert.Equal(t, wantAttrs[i], spanAttrs(out, i), "round %d span %d (%s)", round, i, batchKeys[i])
			}
		}
		assert.Equal(t, map[string]int64{"invalid_json": 2, "wrong_shape": 2, "too_large": 1},
			h.sumByAttr("otelcol_processor_kvcache_invalid_values", "kind"), "counted once per fetched value, not per record or batch")
		assert.Equal(t, map[string]int64{"miss": 3, "hit": 3, "error": 10, "negative": 4}, h.lookupCounts())
		assert.Equal(t, 1, srv.CommandStats(t)["mget"], "bad values are cached like good ones: one round trip")

		logged := map[string]string{}
		for _, e := range logs.FilterMessage("kvcache value skipped").All() {
			assert.Equal(t, zap.DebugLevel, e.Level)
			ctx := e.ContextMap()
			logged[fmt.Sprint(ctx["key"])] = fmt.Sprint(ctx["kind"])
		}
		assert.Equal(t, map[string]string{
			"bad-json": "invalid_json", "binary": "invalid_json", "wrong-shape": "wrong_shape",
			"scalar": "wrong_shape", "too-large": "too_large",
		}, logged)
		for _, e := range logs.All() {
			assert.NotContains(t, fmt.Sprint(e.Message, e.ContextMap()), secret, "a stored value must never be logged")
		}
	})

	t.Run("log rate-limited, count exact", func(t *testing.T) {
		const n = 40
		srv := redistest.Start(t)
		kv := map[string]string{"ok": `{"team":"ok"}`}
		keys := []string{"ok"}
		for i := range n {
			k := fmt.Sprintf("junk-%d", i)
			kv[k] = "not json " + secret
			keys = append(keys, k)
		}
		mset(t, srv, kv)
		core, logs := observer.New(zap.DebugLevel)
		h := newHarness(t, baseConfig(lookup), newRedisStore(t, rediskvConfig(srv.Addr())), withLogger(zap.New(core)))
		start := time.Now()
		out := h.consumeTraces(keySpans(keys...))
		elapsed := time.Since(start)
		assert.Equal(t, "ok", spanAttrs(out, 0)["owner.team"])
		for i := 1; i <= n; i++ {
			assert.Equal(t, map[string]any{"k": keys[i]}, spanAttrs(out, i))
		}
		assert.Equal(t, map[string]int64{"invalid_json": n}, h.sumByAttr("otelcol_processor_kvcache_invalid_values", "kind"))
		// The limiter allows a burst of 10 and one more per second.
		allowed := 10 + int(elapsed/time.Second) + 1
		got := logs.FilterMessage("kvcache value skipped").Len()
		assert.Positive(t, got)
		assert.LessOrEqual(t, got, allowed, "%d bad values logged %d times in %v", n, got, elapsed)
	})
}

// TestRedisTTLExpiry: without invalidations (client_side_caching off) a value
// changed in Redis is served from the local cache, with no round trip, until
// cache::ttl, and fetched again after it. The processor's clock is fake; Redis is
// real.
func TestRedisTTLExpiry(t *testing.T) {
	srv := redistest.Start(t)
	srv.CLI(t, "SET", redisPrefix+"k", "v1")
	rcfg := rediskvConfig(srv.Addr())
	rcfg.ClientSideCaching = false
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.Cache.TTL = time.Minute
	cfg.Cache.RefreshAfter = 0
	cfg.Cache.MaxStale = 0
	clk := newFakeClock()
	h := newHarness(t, cfg, newRedisStore(t, rcfg), withClock(clk))

	srv.ResetStats(t)
	assert.Equal(t, "v1", ownerOf(h.consumeTraces(one("k"))))
	srv.CLI(t, "SET", redisPrefix+"k", "v2")
	clk.Advance(59 * time.Second)
	assert.Equal(t, "v1", ownerOf(h.consumeTraces(one("k"))), "cached until ttl")
	assert.Equal(t, 1, srv.CommandStats(t)["mget"], "a fresh entry costs no round trip")
	clk.Advance(2 * time.Second)
	assert.Equal(t, "v2", ownerOf(h.consumeTraces(one("k"))), "fetched again after ttl")
	assert.Equal(t, 2, srv.CommandStats(t)["mget"])
	assert.Equal(t, map[string]int64{"miss": 2, "hit": 1}, h.lookupCounts())
}

// TestRedisNegativeCache: a key Redis does not have is remembered as absent for
// cache::negative_ttl (no round trip), then asked again. client_side_caching is off
// so that only negative_ttl can end the absence (the invalidation of a negatively
// cached key is in TestRedisChangeVisibleInTwoInstancesWithin1s).
func TestRedisNegativeCache(t *testing.T) {
	srv := redistest.Start(t)
	rcfg := rediskvConfig(srv.Addr())
	rcfg.ClientSideCaching = false
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.Cache.NegativeTTL = 10 * time.Second
	clk := newFakeClock()
	h := newHarness(t, cfg, newRedisStore(t, rcfg), withClock(clk))

	srv.ResetStats(t)
	assert.Nil(t, ownerOf(h.consumeTraces(one("k"))))
	srv.CLI(t, "SET", redisPrefix+"k", "now-here")
	clk.Advance(9 * time.Second)
	assert.Nil(t, ownerOf(h.consumeTraces(one("k"))), "absence is remembered")
	assert.Equal(t, 1, srv.CommandStats(t)["mget"], "no round trip for a negatively cached key")
	clk.Advance(2 * time.Second)
	assert.Equal(t, "now-here", ownerOf(h.consumeTraces(one("k"))), "asked again after negative_ttl")
	assert.Equal(t, 2, srv.CommandStats(t)["mget"])
	_, misses := keyspaceStats(t, srv)
	assert.Equal(t, 1, misses)
	assert.Equal(t, map[string]int64{"negative": 2, "miss": 1}, h.lookupCounts())

	t.Run("disabled", func(t *testing.T) {
		cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
		cfg.Cache.NegativeTTL = 0
		h := newHarness(t, cfg, newRedisStore(t, rcfg))
		srv.ResetStats(t)
		h.consumeTraces(one("absent"))
		h.consumeTraces(one("absent"))
		assert.Equal(t, 2, srv.CommandStats(t)["mget"], "every batch asks again")
	})
}

// TestRedisWrittenTTLExpiresEverywhere: instance A writes a value with a write TTL
// (SET ... PX); instance B reads it from Redis. When Redis expires the key, both
// stop enriching with it: A because its written-through entry lives no longer than
// the write TTL, B (whose cache::ttl is an hour) because Redis reports the expiry
// as an invalidation.
func TestRedisWrittenTTLExpiresEverywhere(t *testing.T) {
	const writeTTL = 3 * time.Second
	srv := redistest.Start(t)
	mk := func() *harness {
		cfg := baseConfig(LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"session"}}, Target: "user.id", Action: ActionInsert})
		cfg.Writes = []WriteConfig{{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"session"}}, Attributes: []string{"user.id"}, TTL: writeTTL}}
		cfg.WriteQueue.FlushInterval = 5 * time.Millisecond
		cfg.Cache.TTL = time.Hour
		cfg.Cache.RefreshAfter = 0
		return newHarness(t, cfg, newRedisStore(t, rediskvConfig(srv.Addr())))
	}
	a, b := mk(), mk()
	userOf := func(h *harness) any {
		return spanAttrs(h.consumeTraces(spans(nil, map[string]any{"session": "s-1"})), 0)["user.id"]
	}

	a.consumeTraces(spans(nil, map[string]any{"session": "s-1", "user.id": "u-1"}))
	require.Eventually(t, func() bool { return srv.CLI(t, "EXISTS", redisPrefix+"s-1") == "1" }, 5*time.Second, 5*time.Millisecond)
	pttl, err := strconv.Atoi(srv.CLI(t, "PTTL", redisPrefix+"s-1"))
	require.NoError(t, err)
	assert.Positive(t, pttl, "written with a TTL")
	assert.LessOrEqual(t, pttl, int(writeTTL/time.Millisecond))
	assert.Equal(t, "u-1", userOf(b), "B reads A's write from Redis")
	assert.Equal(t, "u-1", userOf(a))

	// EXISTS also expires the key lazily, should the active expiry cycle be late.
	require.Eventually(t, func() bool { return srv.CLI(t, "EXISTS", redisPrefix+"s-1") == "0" }, writeTTL+5*time.Second, 20*time.Millisecond)
	expired := time.Now()
	require.Eventually(t, func() bool { return userOf(a) == nil && userOf(b) == nil }, time.Second, 10*time.Millisecond,
		"after Redis expired the key, neither instance enriches with it (within 1 s)")
	t.Logf("expiry in Redis visible in both instances after %v", time.Since(expired).Round(time.Millisecond))
}

// TestRedisEnrichesEverySignal: a JSON value stored with redis-cli, read with a
// composite, lowercased, prefixed key, enriches the resource of traces, logs and
// metrics with typed, flattened attributes; the three signals share one runtime,
// so the value is read from Redis once.
func TestRedisEnrichesEverySignal(t *testing.T) {
	srv := redistest.Start(t)
	srv.CLI(t, "SET", redisPrefix+"svc:checkout|eu",
		`{"team":"payments","tier":1,"cost":1.5,"paging":true,"oncall":{"primary":"alice"},"regions":["eu","us"],"gone":null}`)
	cfg := baseConfig(LookupConfig{
		Context:      ContextResource,
		Key:          KeyConfig{Attributes: []string{"service.name", "region"}, Separator: "|", Lowercase: true, Prefix: "svc:"},
		TargetPrefix: "owner.",
	})
	h := newHarness(t, cfg, newRedisStore(t, rediskvConfig(srv.Addr())))
	srv.ResetStats(t)

	res := map[string]any{"service.name": "Checkout", "region": "EU"}
	want := map[string]any{
		"service.name": "Checkout", "region": "EU",
		"owner.team": "payments", "owner.tier": int64(1), "owner.cost": 1.5, "owner.paging": true,
		"owner.oncall.primary": "alice", "owner.regions": `["eu","us"]`,
	}
	td := h.consumeTraces(spans(res, map[string]any{"x": 1}))
	assert.Equal(t, want, td.ResourceSpans().At(0).Resource().Attributes().AsRaw(), "traces")

	ld := logsWithResource("Checkout")
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("region", "EU")
	ld = h.consumeLogs(ld)
	assert.Equal(t, want, ld.ResourceLogs().At(0).Resource().Attributes().AsRaw(), "logs")

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	require.NoError(t, rm.Resource().Attributes().FromRaw(res))
	rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
	md = h.consumeMetrics(md)
	assert.Equal(t, want, md.ResourceMetrics().At(0).Resource().Attributes().AsRaw(), "metrics")

	assert.Equal(t, 1, srv.CommandStats(t)["mget"], "one round trip for the three signals")
	assert.Equal(t, map[string]int64{"miss": 1, "hit": 2}, h.lookupCounts())
}
