package kvcacheprocessor

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// errorReasons returns lookups{result="error"} by reason.
func (h *harness) errorReasons() map[string]int64 {
	out := h.sumByAttr("otelcol_processor_kvcache_lookups", "reason")
	delete(out, "") // the other results have no reason
	return out
}

// TestLookupErrorReasons: every way a lookup fails is counted under its own
// reason, so that a slow store (timeout, no_slot) can be told from a broken one
// (store_error, circuit_open) and from bad data (bad_value, key_too_large).
func TestLookupErrorReasons(t *testing.T) {
	t.Run("store_error then circuit_open", func(t *testing.T) {
		cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
		cfg.CircuitBreaker = CircuitBreakerConfig{FailureThreshold: 1, OpenDuration: time.Hour}
		backing := memStore(nil)
		backing.SetError(errors.New("store down"))
		h := newHarness(t, cfg, backing)
		h.consumeTraces(keySpans("a"))
		h.consumeTraces(keySpans("b", "c"))
		assert.Equal(t, map[string]int64{"store_error": 1, "circuit_open": 2}, h.errorReasons())
		assert.Equal(t, int64(3), h.lookupCounts()["error"])
	})
	t.Run("timeout", func(t *testing.T) {
		cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
		cfg.Timeout = 20 * time.Millisecond
		backing := memStore(map[string]string{"a": "x"})
		backing.SetDelay(time.Second)
		h := newHarness(t, cfg, backing)
		h.consumeTraces(keySpans("a"))
		assert.Equal(t, map[string]int64{"timeout": 1}, h.errorReasons())
	})
	t.Run("bad_value", func(t *testing.T) {
		cfg := baseConfig(LookupConfig{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"k"}}, Format: FormatJSON})
		h := newHarness(t, cfg, memStore(map[string]string{"a": "not json"}))
		h.consumeTraces(keySpans("a", "a"))
		assert.Equal(t, map[string]int64{"bad_value": 2}, h.errorReasons())
	})
	t.Run("no_slot", func(t *testing.T) {
		cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
		cfg.OnMiss = OnMissAsync
		cfg.MaxInflightLoads = 1
		h := newHarness(t, cfg, memStore(nil))
		gate, entered := make(chan struct{}), make(chan struct{}, 1)
		h.store.setGate(gate, entered)
		defer close(gate)
		h.consumeTraces(keySpans("a")) // its load holds the only slot
		<-entered
		h.consumeTraces(keySpans("b"))
		assert.Equal(t, map[string]int64{"no_slot": 1}, h.errorReasons())
	})
	t.Run("key_too_large", func(t *testing.T) {
		cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
		h := newHarness(t, cfg, memStore(nil))
		h.consumeTraces(keySpans(strings.Repeat("k", cfg.MaxKeySize+1)))
		assert.Equal(t, map[string]int64{"key_too_large": 1}, h.errorReasons())
	})
}
