package rediskvext

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
	"github.com/otelcol-custom/otelcol-custom/extension/rediskvext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/redistest"
)

var testOwner = component.MustNewID("kvcache")

// newTestExt creates (but does not start) an extension; Shutdown runs at cleanup.
func newTestExt(t testing.TB, cfg *Config) *redisKV {
	t.Helper()
	e, err := newRedisKV(cfg, extensiontest.NewNopSettings(metadata.Type))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
	return e
}

// startExt validates cfg, creates and starts the extension with a host that
// records status events.
func startExt(t testing.TB, cfg *Config) (*redisKV, *kvcachetest.Host) {
	t.Helper()
	require.NoError(t, confmap.Validate(cfg))
	e := newTestExt(t, cfg)
	host := kvcachetest.NewHost(nil)
	require.NoError(t, e.Start(context.Background(), host))
	return e, host
}

// testConfig is the default config with generous call timeouts: the machines
// running the tests are shared and -race is slow, and the 1s defaults would make
// large conformance batches flaky. Tests about timeouts set their own.
func testConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.ReadTimeout, cfg.WriteTimeout = 20*time.Second, 20*time.Second
	return cfg
}

func standaloneConfig(s *redistest.Server, prefix string) *Config {
	cfg := testConfig()
	cfg.Endpoints = []string{s.Addr()}
	cfg.KeyPrefix = prefix
	return cfg
}

func clusterConfig(c *redistest.Cluster, prefix string) *Config {
	cfg := testConfig()
	cfg.Mode = ModeCluster
	cfg.Endpoints = c.Addrs()
	cfg.KeyPrefix = prefix
	return cfg
}

func storeOf(t testing.TB, e *redisKV) kvcache.Store {
	t.Helper()
	s, err := e.Store(context.Background(), testOwner)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recorder collects invalidations.
type recorder struct {
	mu    sync.Mutex
	keys  map[string]int
	flush int
}

func subscribe(t testing.TB, s kvcache.Store) *recorder {
	t.Helper()
	inv, ok := s.(kvcache.Invalidator)
	require.True(t, ok, "store must implement kvcache.Invalidator")
	r := &recorder{keys: map[string]int{}}
	unsub := inv.OnInvalidate(func(keys []string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if keys == nil {
			r.flush++
			return
		}
		for _, k := range keys {
			r.keys[k]++
		}
	})
	t.Cleanup(unsub)
	return r
}

func (r *recorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys[key]
}

func (r *recorder) flushes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flush
}

func (r *recorder) all() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.keys))
	for k, v := range r.keys {
		out[k] = v
	}
	return out
}

// within is the bound for invalidations to arrive.
const within = time.Second

// waitStatus waits for a status event with the given status and returns it.
func waitStatus(t testing.TB, host *kvcachetest.Host, want componentstatus.Status, timeout time.Duration) *componentstatus.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-host.Events():
			if ev.Status() == want {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %v status event within %v", want, timeout)
			return nil
		}
	}
}
