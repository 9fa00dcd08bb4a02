package rediskvext

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
	"github.com/otelcol-custom/otelcol-custom/extension/rediskvext/internal/metadatatest"
	"github.com/otelcol-custom/otelcol-custom/internal/redistest"
)

func TestConformanceStandalone(t *testing.T) {
	srv := redistest.Start(t)
	e, _ := startExt(t, standaloneConfig(srv, "conf:"))
	kvcachetest.RunStoreTests(t, func(t *testing.T) kvcache.Store { return storeOf(t, e) })
}

func TestConformanceStandaloneWithoutTracking(t *testing.T) {
	srv := redistest.Start(t)
	cfg := standaloneConfig(srv, "")
	cfg.ClientSideCaching = false
	e, _ := startExt(t, cfg)
	s := storeOf(t, e)
	_, isInvalidator := s.(kvcache.Invalidator)
	assert.False(t, isInvalidator, "without client_side_caching the store must not claim to report invalidations")
	kvcachetest.RunStoreTests(t, func(t *testing.T) kvcache.Store { return storeOf(t, e) })
}

// TestCluster runs every cluster test on one 3-master cluster (building one
// takes seconds). The node restart runs last.
func TestCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	t.Run("Conformance", func(t *testing.T) {
		e, _ := startExt(t, clusterConfig(c, "conf:"))
		kvcachetest.RunStoreTests(t, func(t *testing.T) kvcache.Store { return storeOf(t, e) })
	})
	t.Run("OneMGETPerSlotGroup", func(t *testing.T) { testOneMGETPerSlotGroup(t, c) })
	t.Run("HashSlotMatchesServer", func(t *testing.T) { testHashSlotMatchesServer(t, c) })
	t.Run("Invalidation", func(t *testing.T) {
		e, _ := startExt(t, clusterConfig(c, "inv:"))
		testInvalidation(t, e, func(args ...string) { c.CLI(t, args...) })
	})
	t.Run("RestartNode", func(t *testing.T) { testRestartClusterNode(t, c) })
}

func TestConformanceSentinel(t *testing.T) {
	sn := redistest.StartSentinel(t, "mymaster", redistest.WithPassword("app", "data-pass"))
	cfg := testConfig()
	cfg.Mode = ModeSentinel
	cfg.Endpoints = sn.Addrs()
	cfg.Sentinel.MasterSet = sn.MasterSet
	cfg.Username, cfg.Password = "app", "data-pass"
	cfg.KeyPrefix = "sn:"
	e, _ := startExt(t, cfg)
	kvcachetest.RunStoreTests(t, func(t *testing.T) kvcache.Store { return storeOf(t, e) })

	s := storeOf(t, e)
	require.NoError(t, s.Set(ctxT(t), []kvcache.Entry{{Key: "k", Value: []byte("through-sentinel")}}))
	assert.Equal(t, "through-sentinel", sn.Master.CLI(t, "GET", "sn:k"))
	r := subscribe(t, s)
	sn.Master.CLI(t, "SET", "sn:changed", "v")
	require.Eventually(t, func() bool { return r.count("changed") > 0 }, within, 5*time.Millisecond)
}

func TestACL(t *testing.T) {
	const password = "correct-horse-battery"
	srv := redistest.Start(t, redistest.WithPassword("collector", password))

	t.Run("right password", func(t *testing.T) {
		cfg := standaloneConfig(srv, "acl:")
		cfg.Username, cfg.Password = "collector", password
		e, host := startExt(t, cfg)
		waitStatus(t, host, componentstatus.StatusOK, 5*time.Second)
		s := storeOf(t, e)
		require.NoError(t, s.Set(ctxT(t), []kvcache.Entry{{Key: "k", Value: []byte("v")}}))
		assert.Equal(t, "v", srv.CLI(t, "GET", "acl:k"))
	})

	t.Run("wrong password", func(t *testing.T) {
		const wrong = "wrong-password-value"
		cfg := standaloneConfig(srv, "acl:")
		cfg.Username, cfg.Password = "collector", wrong
		core, logs := observer.New(zap.DebugLevel)
		set := metadatatest.NewSettings(componenttest.NewTelemetry())
		set.Logger = zap.New(core)
		e, err := newRedisKV(cfg, set)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
		host := kvcachetest.NewHost(nil)
		require.NoError(t, e.Start(context.Background(), host), "a refused connection must not fail Start")

		ev := waitStatus(t, host, componentstatus.StatusRecoverableError, 5*time.Second)
		require.Error(t, ev.Err())
		assert.Contains(t, ev.Err().Error(), "WRONGPASS")
		assert.Contains(t, ev.Err().Error(), "username/password")
		assert.NotContains(t, ev.Err().Error(), wrong)

		s := storeOf(t, e)
		_, err = s.Get(ctxT(t), []string{"k"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not connected")
		assert.Contains(t, err.Error(), "WRONGPASS")
		assert.NotContains(t, err.Error(), wrong)
		for _, entry := range logs.All() {
			assert.NotContains(t, fmt.Sprint(entry.Message, entry.ContextMap()), wrong)
		}
	})
}

// TestACLMinimalPermissions checks the least privileges the README lists.
func TestACLMinimalPermissions(t *testing.T) {
	srv := redistest.Start(t, redistest.WithConfig("user",
		"minimal on >minimal-pass ~min:* resetchannels -@all +mget +set +del +hello +client|tracking +client|setname +ping"))
	cfg := standaloneConfig(srv, "min:")
	cfg.Username, cfg.Password = "minimal", "minimal-pass"
	e, host := startExt(t, cfg)
	waitStatus(t, host, componentstatus.StatusOK, 5*time.Second)
	kvcachetest.RunStoreTests(t, func(t *testing.T) kvcache.Store { return storeOf(t, e) })
	r := subscribe(t, storeOf(t, e))
	srv.CLI(t, "SET", "min:k", "v")
	require.Eventually(t, func() bool { return r.count("k") > 0 }, within, 5*time.Millisecond)
}

func TestTLS(t *testing.T) {
	srv := redistest.Start(t, redistest.WithTLS(true))
	files := srv.TLS()
	cfg := standaloneConfig(srv, "tls:")
	cfg.Endpoints = []string{srv.TLSAddr()}
	cfg.TLS = configtls.NewDefaultClientConfig()
	cfg.TLS.CAFile, cfg.TLS.CertFile, cfg.TLS.KeyFile = files.CAFile, files.ClientCertFile, files.ClientKeyFile

	t.Run("mutual TLS", func(t *testing.T) {
		e, _ := startExt(t, cfg)
		require.True(t, e.tlsUsed)
		s := storeOf(t, e)
		require.NoError(t, s.Set(ctxT(t), []kvcache.Entry{{Key: "k", Value: []byte("over-tls")}}))
		res, err := s.Get(ctxT(t), []string{"k"})
		require.NoError(t, err)
		assert.Equal(t, "over-tls", string(res[0].Value))
		// Invalidations work over TLS too.
		r := subscribe(t, s)
		srv.CLI(t, "SET", "tls:k", "changed")
		require.Eventually(t, func() bool { return r.count("k") > 0 }, within, 10*time.Millisecond)
	})

	t.Run("no client certificate", func(t *testing.T) {
		noCert := *cfg
		noCert.TLS.CertFile, noCert.TLS.KeyFile = "", ""
		noCert.DialTimeout = time.Second
		e, host := startExt(t, &noCert)
		waitStatus(t, host, componentstatus.StatusRecoverableError, 5*time.Second)
		_, err := storeOf(t, e).Get(ctxT(t), []string{"k"})
		require.ErrorContains(t, err, "not connected")
	})

	t.Run("plain TCP to the TLS port", func(t *testing.T) {
		plain := standaloneConfig(srv, "tls:")
		plain.Endpoints = []string{srv.TLSAddr()}
		plain.DialTimeout = 500 * time.Millisecond
		e, _ := startExt(t, plain)
		_, err := storeOf(t, e).Get(ctxT(t), []string{"k"})
		require.Error(t, err)
	})
}

func TestKeyPrefixIsolation(t *testing.T) {
	srv := redistest.Start(t)
	ea, _ := startExt(t, standaloneConfig(srv, "tenant-a:"))
	eb, _ := startExt(t, standaloneConfig(srv, "tenant-b:"))
	a, b := storeOf(t, ea), storeOf(t, eb)
	ra, rb := subscribe(t, a), subscribe(t, b)

	require.NoError(t, a.Set(ctxT(t), []kvcache.Entry{{Key: "k", Value: []byte("from-a")}}))
	res, err := b.Get(ctxT(t), []string{"k"})
	require.NoError(t, err)
	assert.False(t, res[0].Found, "b must not see a's key")
	assert.Equal(t, "from-a", srv.CLI(t, "GET", "tenant-a:k"))
	assert.Empty(t, srv.CLI(t, "GET", "k"), "the prefix is applied in Redis")

	require.NoError(t, b.Set(ctxT(t), []kvcache.Entry{{Key: "k", Value: []byte("from-b")}}))
	res, err = a.Get(ctxT(t), []string{"k"})
	require.NoError(t, err)
	assert.Equal(t, "from-a", string(res[0].Value))

	require.NoError(t, b.Delete(ctxT(t), []string{"k"}))
	assert.Equal(t, "from-a", srv.CLI(t, "GET", "tenant-a:k"), "b's delete must not touch a's key")

	// Each side is told about its own prefix only, with the prefix stripped.
	srv.CLI(t, "SET", "tenant-a:only-a", "x")
	require.Eventually(t, func() bool { return ra.count("only-a") > 0 }, within, 10*time.Millisecond)
	assert.Zero(t, rb.count("only-a"))
	for k := range rb.all() {
		assert.Equal(t, "k", k, "b saw an invalidation outside its prefix")
	}
}

func TestOneMGETPerBatchStandalone(t *testing.T) {
	srv := redistest.Start(t)
	e, _ := startExt(t, standaloneConfig(srv, "batch:"))
	s := storeOf(t, e)
	const n = 1000
	keys := make([]string, n)
	entries := make([]kvcache.Entry, n/2)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
		if i%2 == 0 {
			entries[i/2] = kvcache.Entry{Key: keys[i], Value: []byte("v" + strconv.Itoa(i)), TTL: time.Hour}
		}
	}
	srv.ResetStats(t)
	require.NoError(t, s.Set(ctxT(t), entries))
	stats := srv.CommandStats(t)
	assert.Equal(t, n/2, stats["set"], "one SET per entry, pipelined")

	srv.ResetStats(t)
	res, err := s.Get(ctxT(t), keys)
	require.NoError(t, err)
	stats = srv.CommandStats(t)
	assert.Equal(t, 1, stats["mget"], "exactly one MGET for the whole batch")
	assert.Zero(t, stats["get"])
	for i, r := range res {
		require.Equal(t, i%2 == 0, r.Found, "key %d", i)
		if r.Found {
			require.Equal(t, "v"+strconv.Itoa(i), string(r.Value))
		}
	}
	ttl, err := strconv.Atoi(srv.CLI(t, "PTTL", "batch:k0"))
	require.NoError(t, err)
	assert.Greater(t, ttl, 3_500_000, "SET carried PX of the entry's TTL")

	srv.ResetStats(t)
	require.NoError(t, s.Delete(ctxT(t), keys))
	assert.Equal(t, 1, srv.CommandStats(t)["del"], "exactly one DEL for the whole batch")
	assert.Equal(t, "0", srv.CLI(t, "DBSIZE"))
}

func TestSetWithoutTTLHasNoExpiry(t *testing.T) {
	srv := redistest.Start(t)
	e, _ := startExt(t, standaloneConfig(srv, "ttl:"))
	s := storeOf(t, e)
	require.NoError(t, s.Set(ctxT(t), []kvcache.Entry{
		{Key: "forever", Value: []byte("v")},
		{Key: "tiny", Value: []byte("v"), TTL: time.Microsecond},
	}))
	assert.Equal(t, "-1", srv.CLI(t, "PTTL", "ttl:forever"), "TTL 0 sends no PX")
	err := s.Set(ctxT(t), []kvcache.Entry{{Key: "neg", Value: []byte("v"), TTL: -time.Second}})
	require.ErrorContains(t, err, "negative TTL")
}

func testOneMGETPerSlotGroup(t *testing.T, c *redistest.Cluster) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := clusterConfig(c, "cl:")
	e, err := newRedisKV(cfg, metadatatest.NewSettings(tel))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
	require.NoError(t, e.Start(context.Background(), kvcachetest.NewHost(nil)))
	s := storeOf(t, e)

	// 40 keys: three share a hash tag, so they are one MGET.
	keys := []string{"{user}:1", "{user}:2", "{user}:3"}
	for i := range 37 {
		keys = append(keys, "key"+strconv.Itoa(i))
	}
	entries := make([]kvcache.Entry, len(keys))
	full := make([]string, len(keys))
	for i, k := range keys {
		entries[i] = kvcache.Entry{Key: k, Value: []byte("v-" + k)}
		full[i] = "cl:" + k
	}
	// The server's answers, not ours.
	owners := c.SlotOwners(t)
	slots := map[int]bool{}
	nodes := map[string]bool{}
	for _, slot := range c.KeySlots(t, append(full, "cl:missing")) {
		slots[slot] = true
		nodes[owners[slot].Addr()] = true
	}
	require.Len(t, nodes, 3, "the keys must span all three nodes")
	require.NoError(t, s.Set(ctxT(t), entries))

	c.ResetStats(t)
	res, err := s.Get(ctxT(t), append(keys, "missing"))
	require.NoError(t, err)
	for i, k := range keys {
		require.True(t, res[i].Found, k)
		require.Equal(t, "v-"+k, string(res[i].Value), k)
	}
	require.False(t, res[len(keys)].Found)
	stats := c.CommandStats(t)
	assert.Equal(t, len(slots), stats["mget"], "one MGET per hash slot group")
	assert.Less(t, len(slots), len(keys)+1, "the hash-tagged keys share one MGET")
	assert.Zero(t, stats["get"])

	c.ResetStats(t)
	require.NoError(t, s.Delete(ctxT(t), append(keys, "missing")))
	assert.Equal(t, len(slots), c.CommandStats(t)["del"], "one DEL per hash slot group")

	// Each call is one round trip in the metrics, with all its keys.
	metadatatest.AssertEqualRediskvRoundTrips(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("operation", "delete")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("operation", "get")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("operation", "set")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}

func testHashSlotMatchesServer(t *testing.T, c *redistest.Cluster) {
	e, _ := startExt(t, clusterConfig(c, ""))
	client, err := e.current()
	require.NoError(t, err)
	keys := []string{"", "foo", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "{", "}{a}", "ü✓", "kvcachetest:a:b/c{d}"}
	for i := range 200 {
		keys = append(keys, fmt.Sprintf("otel:%d:%x", i, i*7919))
	}
	serverSlots := c.KeySlots(t, keys)
	for i, k := range keys {
		// rueidis' cluster builder computes the slot of a keyed command.
		cmd := client.B().Get().Key(k).Build()
		assert.Equal(t, cmd.Slot(), hashSlot(k), "key %q", k)
		// And the server agrees.
		assert.Equal(t, serverSlots[i], int(hashSlot(k)), "key %q", k)
	}
}

func TestInvalidationStandalone(t *testing.T) {
	srv := redistest.Start(t)
	e, _ := startExt(t, standaloneConfig(srv, "inv:"))
	testInvalidation(t, e, func(args ...string) { srv.CLI(t, args...) })
}

// testInvalidation changes keys with redis-cli and expects the store's
// subscribers to hear about each, with the prefix stripped, within a second. The
// store never read those keys: broadcast tracking reports every key under the
// prefix.
func testInvalidation(t *testing.T, e *redisKV, cli func(args ...string)) {
	s, other := storeOf(t, e), storeOf(t, e)
	r, rOther := subscribe(t, s), subscribe(t, other)
	for i := range 6 { // spread over the cluster's nodes
		k := "user" + strconv.Itoa(i)
		cli("SET", "inv:"+k, "v1")
		require.Eventually(t, func() bool { return r.count(k) >= 1 }, within, 5*time.Millisecond, "SET %s", k)
		before := r.count(k)
		cli("DEL", "inv:"+k)
		require.Eventually(t, func() bool { return r.count(k) > before }, within, 5*time.Millisecond, "DEL %s", k)
	}
	cli("SET", "other:x", "v")
	cli("SET", "inv:last", "v")
	require.Eventually(t, func() bool { return r.count("last") >= 1 }, within, 5*time.Millisecond)
	for k := range r.all() {
		assert.NotContains(t, k, "inv:", "prefix must be stripped")
		assert.NotEqual(t, "x", k, "keys outside the prefix are not reported")
	}

	// After Close the store's subscribers hear nothing more. Every subscriber is
	// called in the same pass, so once the other store has heard of the key, a
	// wrongly kept subscription would have too.
	require.NoError(t, s.Close(context.Background()))
	cli("SET", "inv:after-close", "v")
	require.Eventually(t, func() bool { return rOther.count("after-close") > 0 }, within, 5*time.Millisecond)
	assert.Zero(t, r.count("after-close"))
}

func TestInvalidationFlushAll(t *testing.T) {
	srv := redistest.Start(t)
	e, _ := startExt(t, standaloneConfig(srv, "inv:"))
	r := subscribe(t, storeOf(t, e))
	srv.CLI(t, "FLUSHALL")
	require.Eventually(t, func() bool { return r.flushes() > 0 }, within, 5*time.Millisecond)
}

func TestInvalidationUnsubscribe(t *testing.T) {
	srv := redistest.Start(t)
	e, _ := startExt(t, standaloneConfig(srv, "inv:"))
	inv := storeOf(t, e).(kvcache.Invalidator)
	gotA, gotB := make(chan []string, 100), make(chan []string, 100)
	unsubA := inv.OnInvalidate(func(keys []string) { gotA <- keys })
	unsubB := inv.OnInvalidate(func(keys []string) { gotB <- keys })
	defer unsubB()
	unsubA()
	unsubA() // idempotent
	srv.CLI(t, "SET", "inv:k", "v")
	select {
	case keys := <-gotB:
		assert.Equal(t, []string{"k"}, keys)
	case <-time.After(within):
		t.Fatal("no invalidation within 1s")
	}
	assert.Empty(t, gotA)
}

// TestRestartStandalone stops Redis in the middle: calls fail with an error
// within their timeout, subscribers are told to drop everything, the status turns
// to a recoverable error, and after the restart calls succeed again within 5 s.
func TestRestartStandalone(t *testing.T) {
	srv := redistest.Start(t)
	cfg := standaloneConfig(srv, "rs:")
	cfg.ReadTimeout, cfg.WriteTimeout, cfg.DialTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	e, host := startExt(t, cfg)
	waitStatus(t, host, componentstatus.StatusOK, 5*time.Second)
	s := storeOf(t, e)
	r := subscribe(t, s)
	require.NoError(t, s.Set(ctxT(t), []kvcache.Entry{{Key: "k", Value: []byte("v")}}))

	srv.Stop()
	require.Eventually(t, func() bool { return r.flushes() > 0 }, within, 5*time.Millisecond,
		"a lost tracking connection must invalidate everything")
	for range 3 {
		start := time.Now()
		_, err := s.Get(context.Background(), []string{"k"})
		require.Error(t, err)
		// The bound is read_timeout; the margin absorbs a loaded machine.
		assert.Less(t, time.Since(start), cfg.ReadTimeout+time.Second, "a failing call is bounded by read_timeout")
		err = s.Set(context.Background(), []kvcache.Entry{{Key: "k", Value: []byte("v2")}})
		require.Error(t, err)
	}
	ev := waitStatus(t, host, componentstatus.StatusRecoverableError, 5*time.Second)
	require.Error(t, ev.Err())

	srv.Restart()
	restarted := time.Now()
	require.Eventually(t, func() bool {
		_, err := s.Get(ctxT(t), []string{"k"})
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "calls must succeed within 5s of the restart")
	t.Logf("first successful Get %v after the restart", time.Since(restarted))
	waitStatus(t, host, componentstatus.StatusOK, 5*time.Second)
	require.NoError(t, s.Set(ctxT(t), []kvcache.Entry{{Key: "k", Value: []byte("v3")}}))

	// Tracking is back on the new connection.
	n := r.count("after")
	srv.CLI(t, "SET", "rs:after", "x")
	require.Eventually(t, func() bool { return r.count("after") > n }, within, 5*time.Millisecond)
}

func testRestartClusterNode(t *testing.T, c *redistest.Cluster) {
	cfg := clusterConfig(c, "rc:")
	cfg.ReadTimeout, cfg.WriteTimeout, cfg.DialTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	e, _ := startExt(t, cfg)
	s := storeOf(t, e)
	keys := make([]string, 30)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	_, err := s.Get(ctxT(t), keys)
	require.NoError(t, err)

	c.Nodes[1].Stop()
	start := time.Now()
	_, err = s.Get(context.Background(), keys)
	require.Error(t, err, "a batch touching a stopped node fails")
	assert.Less(t, time.Since(start), cfg.ReadTimeout+time.Second)

	c.Nodes[1].Restart()
	require.Eventually(t, func() bool {
		_, err := s.Get(ctxT(t), keys)
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "calls must succeed within 5s of the restart")
}

// TestStartWithoutRedis: Redis is down when the collector starts. Start succeeds,
// calls fail with "not connected", and the extension connects on its own once
// Redis is up.
func TestStartWithoutRedis(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	cfg := standaloneConfig(srv, "late:")
	cfg.DialTimeout = 200 * time.Millisecond
	e, host := startExt(t, cfg)
	waitStatus(t, host, componentstatus.StatusRecoverableError, 5*time.Second)
	s := storeOf(t, e)
	_, err := s.Get(ctxT(t), []string{"k"})
	require.ErrorContains(t, err, "not connected")

	srv.Restart()
	require.Eventually(t, func() bool {
		_, err := s.Get(ctxT(t), []string{"k"})
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	waitStatus(t, host, componentstatus.StatusOK, 5*time.Second)
	r := subscribe(t, s)
	srv.CLI(t, "SET", "late:k", "v")
	require.Eventually(t, func() bool { return r.count("k") > 0 }, within, 5*time.Millisecond)
}

func TestSlowRedisBoundedByTimeout(t *testing.T) {
	srv := redistest.Start(t)
	cfg := standaloneConfig(srv, "slow:")
	cfg.ReadTimeout = 200 * time.Millisecond
	e, _ := startExt(t, cfg)
	s := storeOf(t, e)
	srv.Pause(t, 1500*time.Millisecond)
	start := time.Now()
	_, err := s.Get(context.Background(), []string{"k"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second, "read_timeout bounds a call to a stalled server")
}

// TestStallOnFreshConnections: Redis stalls (CLIENT PAUSE) right after the
// client connected, and again right after it reconnected to a restarted server.
// Concurrent Gets issued during the stall must wait for it like any call on an
// open connection (read_timeout is longer than the stall) and not fail at
// dial_timeout because they landed on a pipelined connection that rueidis had
// not dialed yet (it dials each one lazily, on the first command it carries).
func TestStallOnFreshConnections(t *testing.T) {
	const (
		stall       = time.Second
		dialTimeout = 300 * time.Millisecond // shorter than the stall
		concurrent  = 16
	)
	srv := redistest.Start(t)
	cfg := standaloneConfig(srv, "fresh:")
	cfg.DialTimeout = dialTimeout
	cfg.ReadTimeout = 10 * time.Second // longer than the stall
	e, host := startExt(t, cfg)
	waitStatus(t, host, componentstatus.StatusOK, 5*time.Second)
	s := storeOf(t, e)

	getsDuringStall := func(t *testing.T) {
		t.Helper()
		srv.Pause(t, stall)
		var wg sync.WaitGroup
		errs := make([]error, concurrent)
		lat := make([]time.Duration, concurrent)
		for i := range concurrent {
			wg.Go(func() {
				start := time.Now()
				_, errs[i] = s.Get(context.Background(), []string{"k" + strconv.Itoa(i)})
				lat[i] = time.Since(start)
			})
		}
		wg.Wait()
		for i, err := range errs {
			assert.NoError(t, err, "Get %d failed after %v (dial_timeout %v, stall %v)", i, lat[i], dialTimeout, stall)
		}
	}

	t.Run("FreshClient", getsDuringStall)

	t.Run("AfterRestart", func(t *testing.T) {
		srv.Restart()
		require.Eventually(t, func() bool {
			_, err := s.Get(ctxT(t), []string{"k"})
			return err == nil
		}, 5*time.Second, 20*time.Millisecond, "calls must succeed within 5s of the restart")
		getsDuringStall(t)
	})
}

func TestMetrics(t *testing.T) {
	srv := redistest.Start(t)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	e, err := newRedisKV(standaloneConfig(srv, "m:"), metadatatest.NewSettings(tel))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
	require.NoError(t, e.Start(context.Background(), kvcachetest.NewHost(nil)))
	s := storeOf(t, e)
	subscribe(t, s)

	require.NoError(t, s.Set(ctxT(t), []kvcache.Entry{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}))
	_, err = s.Get(ctxT(t), []string{"a", "b", "c"})
	require.NoError(t, err)
	_, err = s.Get(ctxT(t), []string{"a"})
	require.NoError(t, err)
	_, err = s.Get(ctxT(t), nil) // no round trip
	require.NoError(t, err)

	get := attribute.NewSet(attribute.String("operation", "get"))
	set := attribute.NewSet(attribute.String("operation", "set"))
	metadatatest.AssertEqualRediskvRoundTrips(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: get, Value: 2}, {Attributes: set, Value: 1},
	}, metricdatatest.IgnoreTimestamp())
	m, err := tel.GetMetric("otelcol_rediskv_keys_per_round_trip")
	require.NoError(t, err)
	sums := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Histogram[int64]).DataPoints {
		op, _ := dp.Attributes.Value("operation")
		sums[op.AsString()] = dp.Sum
	}
	assert.Equal(t, map[string]int64{"get": 4, "set": 2}, sums)
	_, err = tel.GetMetric("otelcol_rediskv_round_trip_duration")
	require.NoError(t, err)

	// Writes by another client are broadcast as invalidations of a and b (our
	// own are not: tracking uses NOLOOP).
	srv.CLI(t, "SET", "m:a", "3")
	srv.CLI(t, "SET", "m:b", "4")
	require.Eventually(t, func() bool {
		m, err := tel.GetMetric("otelcol_rediskv_invalidations")
		if err != nil {
			return false
		}
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			if v, _ := dp.Attributes.Value("scope"); v.AsString() == "key" && dp.Value >= 2 {
				return true
			}
		}
		return false
	}, within, 10*time.Millisecond)

	// An error is counted with its reason.
	srv.Stop()
	_, err = s.Get(context.Background(), []string{"a"})
	require.Error(t, err)
	m, err = tel.GetMetric("otelcol_rediskv_errors")
	require.NoError(t, err)
	dps := m.Data.(metricdata.Sum[int64]).DataPoints
	require.Len(t, dps, 1)
	op, _ := dps[0].Attributes.Value("operation")
	assert.Equal(t, "get", op.AsString())
}

func TestStoreLifecycle(t *testing.T) {
	srv := redistest.Start(t)
	e, _ := startExt(t, standaloneConfig(srv, "lc:"))
	s := storeOf(t, e)
	require.NoError(t, s.Close(context.Background()))
	require.NoError(t, s.Close(context.Background()), "Close is idempotent")
	_, err := s.Get(ctxT(t), []string{"k"})
	require.ErrorContains(t, err, "closed")
	assert.NotNil(t, s.(kvcache.Invalidator).OnInvalidate(func([]string) {}), "subscribing to a closed store is a no-op")

	// Two owners share the keyspace.
	s1, s2 := storeOf(t, e), storeOf(t, e)
	require.NoError(t, s1.Set(ctxT(t), []kvcache.Entry{{Key: "shared", Value: []byte("v")}}))
	res, err := s2.Get(ctxT(t), []string{"shared"})
	require.NoError(t, err)
	assert.True(t, res[0].Found)

	// Through the host, as the processor finds it.
	id := testOwner
	host := kvcachetest.NewHost(map[component.ID]component.Component{id: e})
	s3, err := kvcache.GetStore(context.Background(), host, id, testOwner)
	require.NoError(t, err)
	require.NoError(t, s3.Close(context.Background()))

	require.NoError(t, e.Shutdown(context.Background()))
	_, err = e.Store(context.Background(), testOwner)
	require.Error(t, err)
	_, err = s1.Get(ctxT(t), []string{"k"})
	require.ErrorContains(t, err, "shut down")
}
