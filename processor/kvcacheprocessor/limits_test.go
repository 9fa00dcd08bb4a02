package kvcacheprocessor

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
)

// Tests of the limits that keep hostile input and slow stores from hurting the
// collector (docs/security.md, kvcache cases).

// anyStore answers every key with a small value and keeps nothing: the memory a
// test measures is the processor's own.
type anyStore struct{ kvcache.Store }

func (anyStore) Get(_ context.Context, keys []string) ([]kvcache.Result, error) {
	out := make([]kvcache.Result, len(keys))
	for i := range out {
		out[i] = kvcache.Result{Value: []byte("v"), Found: true}
	}
	return out, nil
}

func (anyStore) Set(context.Context, []kvcache.Entry) error { return nil }
func (anyStore) Close(context.Context) error                { return nil }

func withoutGetRecording() harnessOpt { return func(h *harness) { h.store.noRecord = true } }

// heapInuse is the heap in use after a full collection.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestHostileKeysBoundedHeap sends 10,000 batches, each with a distinct 256 KiB
// service.name, through the default configuration (max_key_size raised so that
// the keys are looked up and cached): the heap must stay under cache::max_bytes
// plus a small constant. It checks along the way and stops at the first excess.
func TestHostileKeysBoundedHeap(t *testing.T) {
	const batches, keySize = 10000, 256 << 10
	const slack = 16 << 20 // pdata of a batch, otter's buffers, the race detector
	cfg := baseConfig(strLookup(ContextResource, "service.name", "owner"))
	cfg.MaxKeySize = 2 * keySize
	h := newHarness(t, cfg, anyStore{}, withoutGetRecording())
	limit := uint64(cfg.Cache.MaxBytes) + slack

	before := heapInuse()
	base := []byte(strings.Repeat("x", keySize))
	var peak uint64
	for i := range batches {
		copy(base, fmt.Sprintf("%08d", i))
		require.NoError(t, h.traces.ConsumeTraces(context.Background(), spans(map[string]any{"service.name": string(base)}, map[string]any{})))
		h.tSink.Reset() // the sink would keep every batch
		if i%500 == 499 || i == batches-1 {
			inuse := heapInuse()
			peak = max(peak, inuse)
			require.Lessf(t, inuse, before+limit, "after %d batches the heap grew by %d MiB (bound %d MiB + %d MiB)",
				i+1, (inuse-before)>>20, cfg.Cache.MaxBytes>>20, slack>>20)
		}
	}
	t.Logf("heap in use: before %d MiB, peak %d MiB, growth %d MiB over %d batches of %d KiB keys (max_bytes %d MiB)",
		before>>20, peak>>20, (peak-before)>>20, batches, keySize>>10, cfg.Cache.MaxBytes>>20)
	assert.Equal(t, int64(batches), h.lookupCounts()["miss"])
}

// TestMaxKeySize: a key longer than max_key_size is neither looked up nor written;
// the record passes un-enriched and the key is counted.
func TestMaxKeySize(t *testing.T) {
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.Writes = []WriteConfig{{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"k"}, Prefix: "w:"}, Attributes: []string{"v"}}}
	long := strings.Repeat("k", cfg.MaxKeySize+1)
	backing := memStore(map[string]string{"short": "s", long: "l"})
	h := newHarness(t, cfg, backing)

	out := h.consumeTraces(spans(nil, map[string]any{"k": long, "v": "x"}, map[string]any{"k": "short", "v": "y"}))
	assert.NotContains(t, spanAttrs(out, 0), "owner", "a long key is not looked up")
	assert.Equal(t, "s", spanAttrs(out, 1)["owner"])
	for _, keys := range h.store.Gets() {
		for _, k := range keys {
			assert.LessOrEqual(t, len(k), cfg.MaxKeySize, "a long key was sent to the store")
		}
	}
	assert.Equal(t, map[string]int64{"get": 1, "set": 1}, h.sumByAttr("otelcol_processor_kvcache_keys_too_large", "operation"))
	assert.Equal(t, int64(1), h.lookupCounts()["error"])
	h.shutdown()
	res, err := backing.Get(context.Background(), []string{"w:" + long, "w:short"})
	require.NoError(t, err)
	assert.False(t, res[0].Found, "a long key was written")
	assert.True(t, res[1].Found)
}

// TestLimitsValidate: the new limits are checked at config load, naming the key.
func TestLimitsValidate(t *testing.T) {
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.MaxKeySize = -1
	cfg.MaxInflightLoads = 0
	err := cfg.Validate()
	require.Error(t, err)
	assert.ErrorContains(t, err, "max_key_size: must not be negative")
	assert.ErrorContains(t, err, "max_inflight_loads: must be positive")
}

// TestWriteValueTooLarge: a value over max_value_size is not written (every
// collector would skip it when reading it back), nor kept in the local cache; it
// is counted as writes_dropped{reason="too_large"}.
func TestWriteValueTooLarge(t *testing.T) {
	cfg := baseConfig(strLookup(ContextSpan, "k", "owner"))
	cfg.Writes = []WriteConfig{{Context: ContextSpan, Key: KeyConfig{Attributes: []string{"k"}}, Attributes: []string{"v"}}}
	cfg.MaxValueSize = 16
	backing := memStore(nil)
	h := newHarness(t, cfg, backing)

	big := strings.Repeat("v", cfg.MaxValueSize+1)
	h.consumeTraces(spans(nil, map[string]any{"k": "big", "v": big}, map[string]any{"k": "small", "v": "ok"}))
	dropped := h.sumByAttr("otelcol_processor_kvcache_writes_dropped", "reason")
	assert.Equal(t, int64(1), dropped["too_large"])
	assert.Equal(t, map[string]int64{"too_large": 1}, dropped)
	h.shutdown() // flushes the queue
	assert.Equal(t, int64(1), backing.Stats().KeysWritten, "only the small value is written")
	res, err := backing.Get(context.Background(), []string{"big", "small"})
	require.NoError(t, err)
	assert.False(t, res[0].Found, "the oversized value was written")
	assert.True(t, res[1].Found)
}
