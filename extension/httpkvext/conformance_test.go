package httpkvext

import (
	"testing"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
)

// TestConformance runs the kvcache conformance suite in read-only mode against a
// real HTTP server, in both request shapes: the suite's data is put into the
// API's backend, and every read-side rule (order and repeats, binary keys, large
// batches and values, concurrency, done contexts, rejected writes) is checked
// over HTTP. Per-key bodies carry arbitrary bytes; bulk values are JSON strings,
// hence TextValues.
func TestConformance(t *testing.T) {
	t.Run("per_key", func(t *testing.T) {
		srv := newAPIServer(t)
		cfg := perKeyConfig(srv)
		cfg.PerKey.MaxConcurrency = 32
		kvcachetest.RunStoreTests(t, func(t *testing.T) kvcache.Store { return newStore(t, cfg) },
			kvcachetest.ReadOnly(srv.seed, srv.remove))
	})
	t.Run("bulk", func(t *testing.T) {
		srv := newAPIServer(t)
		cfg := bulkConfig(srv)
		cfg.MaxResponseSize = 16 << 20 // the suite's 10,000-key Get
		kvcachetest.RunStoreTests(t, func(t *testing.T) kvcache.Store { return newStore(t, cfg) },
			kvcachetest.ReadOnly(srv.seed, srv.remove), kvcachetest.TextValues())
	})
}
