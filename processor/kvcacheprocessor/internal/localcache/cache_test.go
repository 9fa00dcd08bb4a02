package localcache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache/localcachetest"
)

// hooks records what the cache reports.
type hooks struct {
	mu       sync.Mutex
	calls    []Op
	failed   int
	states   []CircuitState
	wstates  []CircuitState
	invals   int
	tooLarge []string
	queued   int64
	dropped  map[DropReason]int64
	longKeys [2]int64
}

func (h *hooks) KeysTooLarge(_ context.Context, op Op, n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.longKeys[op] += n
}

func (h *hooks) StoreCall(_ context.Context, op Op, _ int, _ time.Duration, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, op)
	if err != nil {
		h.failed++
	}
}

func (h *hooks) CircuitChanged(s CircuitState, _ error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.states = append(h.states, s)
}

func (h *hooks) WriteCircuitChanged(s CircuitState, _ error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.wstates = append(h.wstates, s)
}

func (h *hooks) Invalidated() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.invals++
}

func (h *hooks) ValueTooLarge(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tooLarge = append(h.tooLarge, key)
}

func (h *hooks) WritesQueued(_ context.Context, n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.queued += n
}

func (h *hooks) WritesDropped(_ context.Context, r DropReason, n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dropped == nil {
		h.dropped = map[DropReason]int64{}
	}
	h.dropped[r] += n
}

func (h *hooks) droppedFor(r DropReason) func() int64 {
	return func() int64 {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.dropped[r]
	}
}

func (h *hooks) circuit() []CircuitState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.states)
}

type memo struct{ n int }

func testConfig() Config {
	return Config{
		MaxEntries:       100,
		TTL:              time.Minute,
		NegativeTTL:      10 * time.Second,
		RefreshAfter:     30 * time.Second,
		MaxStale:         time.Minute,
		FetchTimeout:     5 * time.Second,
		FailureThreshold: 2,
		OpenDuration:     10 * time.Second,
	}
}

type fixture struct {
	c     *Cache[*memo]
	store *kvcachetest.MemoryStore
	clk   *localcachetest.Clock
	hooks *hooks
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	f := &fixture{store: kvcachetest.NewMemoryStore(), clk: localcachetest.NewClock(), hooks: &hooks{}}
	c, err := New(cfg, Settings[*memo]{Store: f.store, Hooks: f.hooks, Logger: zap.NewNop(), Clock: f.clk,
		NewMemo: func() *memo { return &memo{} }})
	require.NoError(t, err)
	f.c = c
	t.Cleanup(func() { require.NoError(t, c.Close(context.Background())) })
	return f
}

// fetch loads keys as one batch's misses and waits for them.
func (f *fixture) fetch(t *testing.T, keys ...string) (map[string]*Entry[*memo], error) {
	t.Helper()
	var b Batch[*memo]
	f.c.Begin(&b)
	for _, k := range keys {
		b.Miss(k)
	}
	entries, outcome, err := f.c.Fetch(context.Background(), &b, 5*time.Second)
	require.Equal(t, Loaded, outcome)
	return entries, err
}

// check looks key up in a new batch; it returns the state and the keys the batch
// asked to reload.
func (f *fixture) check(key string) (State, []string) {
	var b Batch[*memo]
	f.c.Begin(&b)
	_, st := f.c.Lookup(&b, key, true)
	return st, b.refresh
}

func TestEntryLifecycle(t *testing.T) {
	f := newFixture(t, testConfig())
	f.store.Put("k", "v1")
	entries, err := f.fetch(t, "k", "k")
	require.NoError(t, err)
	require.Equal(t, "v1", entries["k"].Value())
	require.NotNil(t, entries["k"].Memo(), "a value gets a memo")
	assert.Equal(t, int64(1), f.store.Stats().GetCalls)
	assert.Equal(t, int64(1), f.store.Stats().KeysRead, "a batch's keys are asked for once")

	st, refresh := f.check("k")
	assert.Equal(t, Fresh, st)
	assert.Empty(t, refresh)

	f.clk.Advance(31 * time.Second) // past refresh_after
	st, refresh = f.check("k")
	assert.Equal(t, Fresh, st, "refresh-ahead serves the value as fresh")
	assert.Equal(t, []string{"k"}, refresh, "and claims a reload")
	_, refresh = f.check("k")
	assert.Empty(t, refresh, "once per fetch_timeout")
	f.clk.Advance(6 * time.Second)
	_, refresh = f.check("k")
	assert.Equal(t, []string{"k"}, refresh, "claimed again after fetch_timeout (the reload may have failed)")

	f.clk.Advance(30 * time.Second) // past ttl
	st, _ = f.check("k")
	assert.Equal(t, Stale, st)

	f.clk.Advance(time.Minute) // past ttl + max_stale
	st, _ = f.check("k")
	assert.Equal(t, Missing, st, "expired")
}

func TestReloadReplacesEntry(t *testing.T) {
	f := newFixture(t, testConfig())
	f.store.Put("k", "v1")
	_, err := f.fetch(t, "k")
	require.NoError(t, err)
	f.store.Put("k", "v2")
	f.clk.Advance(31 * time.Second)
	var b Batch[*memo]
	f.c.Begin(&b)
	f.c.Lookup(&b, "k", true)
	f.c.Finish(context.Background(), &b)
	require.Eventually(t, func() bool { return f.c.Get("k").Value() == "v2" }, 5*time.Second, 5*time.Millisecond)
	st, _ := f.check("k")
	assert.Equal(t, Fresh, st, "a reloaded entry is fresh again")
}

func TestNegativeEntries(t *testing.T) {
	f := newFixture(t, testConfig())
	entries, err := f.fetch(t, "absent")
	require.NoError(t, err)
	require.True(t, entries["absent"].Negative())
	f.clk.Advance(9 * time.Second)
	st, refresh := f.check("absent")
	assert.Equal(t, Fresh, st)
	assert.Empty(t, refresh, "a negative entry is never reloaded")
	f.clk.Advance(2 * time.Second)
	st, _ = f.check("absent")
	assert.Equal(t, Missing, st, "gone after negative_ttl")

	t.Run("negative_ttl 0", func(t *testing.T) {
		cfg := testConfig()
		cfg.NegativeTTL = 0
		f := newFixture(t, cfg)
		entries, err := f.fetch(t, "absent")
		require.NoError(t, err)
		assert.Empty(t, entries, "no entry, no error: absent")
	})
}

func TestInvalidate(t *testing.T) {
	f := newFixture(t, testConfig())
	f.store.Put("a", "1")
	f.store.Put("b", "2")
	_, err := f.fetch(t, "a", "b", "absent")
	require.NoError(t, err)

	f.store.Invalidate([]string{"a"})
	st, _ := f.check("a")
	assert.Equal(t, Missing, st, "an invalidated key is dropped")

	f.store.Invalidate(nil)
	st, refresh := f.check("b")
	assert.Equal(t, Stale, st, "invalidate all with max_stale: soft-invalid, served stale")
	assert.Equal(t, []string{"b"}, refresh, "and reloaded")
	st, _ = f.check("absent")
	assert.Equal(t, Missing, st, "a negative entry is never served after an invalidation")
	assert.Nil(t, f.c.Get("absent"))

	f.clk.Advance(61 * time.Second) // past the invalidation + max_stale
	st, _ = f.check("b")
	assert.Equal(t, Missing, st)
	assert.Nil(t, f.c.Get("b"), "dropped")
	assert.Equal(t, 2, f.hooks.invals)

	t.Run("without max_stale", func(t *testing.T) {
		cfg := testConfig()
		cfg.MaxStale = 0
		f := newFixture(t, cfg)
		f.store.Put("a", "1")
		_, err := f.fetch(t, "a")
		require.NoError(t, err)
		f.store.Invalidate(nil)
		assert.Nil(t, f.c.Get("a"), "invalidate all drops everything")
	})
	t.Run("loaded after the invalidation", func(t *testing.T) {
		f := newFixture(t, testConfig())
		f.store.Put("a", "1")
		f.store.Invalidate(nil)
		_, err := f.fetch(t, "a")
		require.NoError(t, err)
		st, _ := f.check("a")
		assert.Equal(t, Fresh, st)
	})
}

func TestValueTooLarge(t *testing.T) {
	cfg := testConfig()
	cfg.MaxValueSize = 3
	f := newFixture(t, cfg)
	f.store.Put("big", "1234")
	f.store.Put("ok", "123")
	entries, err := f.fetch(t, "big", "ok")
	require.NoError(t, err)
	assert.True(t, entries["big"].TooLarge())
	assert.Empty(t, entries["big"].Value(), "not kept")
	assert.False(t, entries["ok"].TooLarge())
	assert.Equal(t, []string{"big"}, f.hooks.tooLarge)
}

func TestFetchOutcomes(t *testing.T) {
	f := newFixture(t, testConfig())
	f.store.Put("k", "v")
	f.store.SetDelay(time.Second)
	var b Batch[*memo]
	f.c.Begin(&b)
	b.Miss("k")
	_, outcome, _ := f.c.Fetch(context.Background(), &b, 20*time.Millisecond)
	assert.Equal(t, TimedOut, outcome)
	require.Eventually(t, func() bool { return f.c.Get("k") != nil }, 5*time.Second, 5*time.Millisecond,
		"a late answer is cached")

	f.store.SetDelay(0)
	b.Reset()
	f.c.Begin(&b)
	b.Miss("other")
	_, outcome, _ = f.c.Fetch(context.Background(), &b, 0)
	assert.Equal(t, Started, outcome, "wait 0 does not wait")
	require.Eventually(t, func() bool { return f.c.Get("other") != nil }, 5*time.Second, 5*time.Millisecond)

	b.Reset()
	f.c.Begin(&b)
	b.Miss("x")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.store.SetDelay(time.Second)
	_, outcome, err := f.c.Fetch(ctx, &b, time.Second)
	assert.Equal(t, Canceled, outcome)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestCircuitBreaker(t *testing.T) {
	f := newFixture(t, testConfig())
	f.store.SetError(errors.New("down"))
	for _, k := range []string{"a", "b"} {
		_, err := f.fetch(t, k)
		require.Error(t, err)
	}
	assert.Equal(t, []CircuitState{CircuitOpen}, f.hooks.circuit(), "two failures in a row open it")

	var b Batch[*memo]
	f.c.Begin(&b)
	b.Miss("c")
	_, outcome, _ := f.c.Fetch(context.Background(), &b, time.Second)
	assert.Equal(t, Refused, outcome)
	assert.Equal(t, int64(2), f.store.Stats().GetCalls, "an open circuit makes no call")

	f.clk.Advance(11 * time.Second)
	_, err := f.fetch(t, "c")
	require.Error(t, err, "the probe fails")
	assert.Equal(t, []CircuitState{CircuitOpen, CircuitHalfOpen, CircuitOpen}, f.hooks.circuit())

	f.store.SetError(nil)
	f.store.Put("d", "v")
	f.clk.Advance(11 * time.Second)
	entries, err := f.fetch(t, "d")
	require.NoError(t, err)
	assert.Equal(t, "v", entries["d"].Value())
	assert.Equal(t, []CircuitState{CircuitOpen, CircuitHalfOpen, CircuitOpen, CircuitHalfOpen, CircuitClosed}, f.hooks.circuit())
}

func TestBreakerDisabled(t *testing.T) {
	br := newBreaker(0, time.Second, time.Now, func(CircuitState, error) { t.Fatal("no state change") })
	for range 10 {
		br.record(errors.New("x"))
	}
	assert.False(t, br.blocked())
	assert.True(t, br.allow())
}

// newWriteFixture is a fixture with a write queue and a batch begun.
func newWriteFixture(t *testing.T) (*fixture, *Batch[*memo]) {
	cfg := testConfig()
	cfg.WriteQueue = WriteQueue{Size: 10, BatchSize: 10, FlushInterval: time.Millisecond}
	f := newFixture(t, cfg)
	b := new(Batch[*memo])
	f.c.Begin(b)
	return f, b
}

func TestWrite(t *testing.T) {
	f, b := newWriteFixture(t)
	_, st := f.c.Lookup(b, "k", true)
	require.Equal(t, Missing, st)
	f.c.Write(b, "k", "v", time.Minute)
	e, st := f.c.Lookup(b, "k", true)
	require.Equal(t, Fresh, st, "later records of the batch see the write")
	require.Equal(t, "v", e.Value())
	f.c.Write(b, "k", "v", time.Minute)
	f.c.Finish(context.Background(), b)
	assert.Equal(t, int64(1), f.hooks.queued, "the second write is known to the store already")
	assert.Equal(t, "v", f.c.Get("k").Value(), "written through to the local cache")
	require.Eventually(t, func() bool { return f.store.Stats().KeysWritten == 1 }, 5*time.Second, time.Millisecond)

	f.clk.Advance(31 * time.Second) // past half the write's TTL
	b.Reset()
	f.c.Begin(b)
	f.c.Write(b, "k", "v", time.Minute)
	f.c.Write(b, "k", "w", time.Minute)
	f.c.Finish(context.Background(), b)
	assert.Equal(t, int64(3), f.hooks.queued, "written again when its TTL runs out, and when it changes")

	f.clk.Advance(61 * time.Second)
	assert.Nil(t, f.c.Get("k"), "a written entry lives no longer than its write TTL")
}

// TestWriteAfterInvalidateAll: after "everything changed" (a flush), an entry from
// before it does not prove the store still has the value: the write is sent again.
func TestWriteAfterInvalidateAll(t *testing.T) {
	f, b := newWriteFixture(t)
	f.c.Write(b, "k", "v", 0)
	f.c.Finish(context.Background(), b)
	require.Eventually(t, func() bool { return f.store.Stats().KeysWritten == 1 }, 5*time.Second, time.Millisecond)

	f.store.Invalidate(nil) // max_stale > 0: the entry is kept, soft-invalid
	require.NotNil(t, f.c.Get("k"))
	b.Reset()
	f.c.Begin(b)
	f.c.Write(b, "k", "v", 0)
	f.c.Finish(context.Background(), b)
	assert.Equal(t, int64(2), f.hooks.queued, "the store may have lost the value: written again")
	require.Eventually(t, func() bool { return f.store.Stats().KeysWritten == 2 }, 5*time.Second, time.Millisecond)
}

func TestWriteQueueFullAndClosing(t *testing.T) {
	cfg := testConfig()
	cfg.WriteQueue = WriteQueue{Size: 1, BatchSize: 1, FlushInterval: time.Hour}
	f := newFixture(t, cfg)
	f.store.SetDelay(200 * time.Millisecond) // the writer is busy with the first write
	var b Batch[*memo]
	f.c.Begin(&b)
	for _, k := range []string{"a", "b", "c"} {
		f.c.Write(&b, k, "v", 0)
	}
	f.c.Finish(context.Background(), &b)
	f.hooks.mu.Lock()
	queued, dropped := f.hooks.queued, f.hooks.dropped[DropQueueFull]
	f.hooks.mu.Unlock()
	assert.Equal(t, int64(3), queued+dropped)
	assert.Positive(t, dropped)
	require.NoError(t, f.c.Close(context.Background()))
	assert.Equal(t, queued, f.store.Stats().KeysWritten, "Close sends what is queued")
}

func TestWriteCircuitOpenDrops(t *testing.T) {
	cfg := testConfig()
	cfg.FailureThreshold = 1
	cfg.WriteQueue = WriteQueue{Size: 10, BatchSize: 1, FlushInterval: time.Millisecond}
	f := newFixture(t, cfg)
	f.store.SetError(errors.New("down"))
	var b Batch[*memo]
	f.c.Begin(&b)
	f.c.Write(&b, "a", "v", 0)
	storeErrors, circuitOpen := f.hooks.droppedFor(DropStoreError), f.hooks.droppedFor(DropCircuitOpen)
	require.Eventually(t, func() bool { return storeErrors() == 1 }, 5*time.Second, time.Millisecond)
	f.c.Write(&b, "b", "v", 0)
	require.Eventually(t, func() bool { return circuitOpen() == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, int64(1), f.store.Stats().SetCalls)
}

func TestMergedLoadsAcrossBatches(t *testing.T) {
	f := newFixture(t, testConfig())
	f.store.Put("a", "A")
	f.store.Put("b", "B")
	f.store.SetDelay(100 * time.Millisecond)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			entries, err := f.fetch(t, "a", "b")
			assert.NoError(t, err)
			assert.Equal(t, "A", entries["a"].Value())
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, f.store.Stats().KeysRead, int64(4))
	assert.Less(t, f.store.Stats().GetCalls, int64(4), "concurrent batches share loads")
}

func TestCloseClosedCache(t *testing.T) {
	f := newFixture(t, testConfig())
	assert.Equal(t, 1, f.store.Subscribers())
	require.NoError(t, f.c.Close(context.Background()))
	assert.Equal(t, 0, f.store.Subscribers())
	var b Batch[*memo]
	f.c.Begin(&b)
	b.Miss("k")
	_, outcome, _ := f.c.Fetch(context.Background(), &b, time.Second)
	assert.Equal(t, Closing, outcome)
}

func TestLookupCopiesUnstableKeys(t *testing.T) {
	f := newFixture(t, testConfig())
	f.store.Put("a", "A")
	_, err := f.fetch(t, "a")
	require.NoError(t, err)
	var b Batch[*memo]
	f.c.Begin(&b)
	buf := []byte("a")
	_, st := f.c.Lookup(&b, unsafe.String(&buf[0], len(buf)), false)
	require.Equal(t, Fresh, st)
	buf[0] = 'b' // the caller reuses its buffer
	for k := range b.seen {
		assert.Equal(t, "a", k, "the batch kept its own copy of the key")
	}
	e, st := f.c.Lookup(&b, "a", true)
	assert.Equal(t, Fresh, st)
	assert.Equal(t, "A", e.Value())
}

// enteringStore signals each Set as it starts (then delays it like its
// MemoryStore).
type enteringStore struct {
	*kvcachetest.MemoryStore
	entered chan struct{}
}

func (s *enteringStore) Set(ctx context.Context, entries []kvcache.Entry) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	return s.MemoryStore.Set(ctx, entries)
}

// TestCloseDuringFlush closes the cache while the writer is in a flush that would
// last fetch_timeout: Close returns at its context's deadline, and the cancelled
// writes are counted as dropped by shutdown, not as store failures (the circuit
// stays closed).
func TestCloseDuringFlush(t *testing.T) {
	cfg := testConfig()
	cfg.FailureThreshold = 1
	cfg.FetchTimeout = 10 * time.Second
	cfg.WriteQueue = WriteQueue{Size: 10, BatchSize: 1, FlushInterval: time.Millisecond}
	mem := kvcachetest.NewMemoryStore()
	mem.SetDelay(time.Minute)
	store := &enteringStore{MemoryStore: mem, entered: make(chan struct{}, 1)}
	h := &hooks{}
	c, err := New(cfg, Settings[*memo]{Store: store, Hooks: h, Logger: zap.NewNop(), Clock: localcachetest.NewClock(),
		NewMemo: func() *memo { return &memo{} }})
	require.NoError(t, err)
	var b Batch[*memo]
	c.Begin(&b)
	c.Write(&b, "a", "v", 0)
	<-store.entered // the writer is in its flush
	c.Write(&b, "b", "v", 0)

	const deadline = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	_ = c.Close(ctx)
	elapsed := time.Since(start)
	t.Logf("Close with a %v deadline during a flush took %v", deadline, elapsed)
	assert.Less(t, elapsed, deadline+time.Second, "Close overran its deadline")
	require.Eventually(t, func() bool { return h.droppedFor(DropShutdown)() == 2 }, 5*time.Second, time.Millisecond)
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Zero(t, h.failed, "a cancelled call was counted as a store failure")
	assert.Empty(t, h.states)
	assert.Empty(t, h.wstates, "shutdown changed the write circuit")
	assert.Zero(t, h.dropped[DropStoreError])
}

// TestBothBounds: with max_bytes and max_entries set, both hold, for small
// entries (max_entries is the tighter) and large ones (max_bytes is).
func TestBothBounds(t *testing.T) {
	cfg := testConfig()
	cfg.MaxEntries, cfg.MaxBytes = 10, 64<<10
	f := newFixture(t, cfg)
	for i := range 100 {
		var b Batch[*memo]
		f.c.Begin(&b)
		b.Miss(fmt.Sprintf("small-%d", i))
		_, outcome, err := f.c.Fetch(context.Background(), &b, 5*time.Second)
		require.Equal(t, Loaded, outcome)
		require.NoError(t, err)
	}
	f.c.otter.CleanUp()
	assert.LessOrEqual(t, f.c.otter.EstimatedSize(), 10, "max_entries does not hold")
	big := strings.Repeat("k", 16<<10)
	for i := range 20 {
		var b Batch[*memo]
		f.c.Begin(&b)
		b.Miss(fmt.Sprintf("%s-%d", big, i))
		_, _, err := f.c.Fetch(context.Background(), &b, 5*time.Second)
		require.NoError(t, err)
	}
	f.c.otter.CleanUp()
	assert.LessOrEqual(t, f.c.otter.WeightedSize(), uint64(cfg.MaxBytes), "max_bytes does not hold")
	assert.LessOrEqual(t, f.c.otter.EstimatedSize(), 10, "max_entries does not hold")
}
