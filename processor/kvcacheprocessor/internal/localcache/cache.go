package localcache // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"go.uber.org/zap"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
)

// Config is the behaviour of a Cache (the processor's cache, fetch_timeout,
// circuit_breaker, write_queue and max_value_size settings).
type Config struct {
	// MaxEntries bounds the number of entries; 0 leaves only MaxBytes.
	MaxEntries int
	// MaxBytes, when not 0, bounds the approximate memory of the entries: key,
	// value and a per-entry overhead (see weight). With MaxEntries too, both hold.
	MaxBytes int64
	// MaxKeySize: longer keys are neither looked up nor written (KeyTooLarge,
	// counted); 0 means no limit. It keeps a hostile attribute value from being
	// copied, cached and sent to the store.
	MaxKeySize int
	// TTL, NegativeTTL, RefreshAfter and MaxStale: see the package doc.
	TTL, NegativeTTL, RefreshAfter, MaxStale time.Duration
	// FetchTimeout bounds every store call.
	FetchTimeout time.Duration
	// MaxInflightLoads bounds the loads (misses and reloads) in flight, each on a
	// goroutine of its own; a miss that finds no free slot is not loaded (NoSlot)
	// and a reload is left for a later hit. 0 means no limit.
	MaxInflightLoads int
	// MaxValueSize: larger values are kept as TooLarge entries; 0 means no limit.
	MaxValueSize int
	// FailureThreshold consecutive failures open the circuit for OpenDuration;
	// 0 disables the breaker.
	FailureThreshold int
	OpenDuration     time.Duration
	// WriteQueue enables Write when its Size is positive.
	WriteQueue WriteQueue
}

// WriteQueue bounds the asynchronous writes.
type WriteQueue struct {
	Size          int
	BatchSize     int
	FlushInterval time.Duration
}

// Op is a kind of store call.
type Op uint8

const (
	OpGet Op = iota
	OpSet
)

// DropReason says why a write was dropped.
type DropReason uint8

const (
	DropQueueFull DropReason = iota
	DropCircuitOpen
	DropStoreError
	// DropTooLarge: the value is larger than MaxValueSize; every collector would
	// skip it when reading it back, so it is neither queued nor cached.
	DropTooLarge
	// DropShutdown: Close's context ended before the write was sent.
	DropShutdown
	NumDropReasons // the number of reasons
)

// Hooks receive what the cache does; the processor turns it into telemetry, logs
// and component status. They are called synchronously and must not block.
type Hooks interface {
	// StoreCall reports one round trip to the store.
	StoreCall(ctx context.Context, op Op, keys int, elapsed time.Duration, err error)
	// CircuitChanged reports a new state of the read breaker (lookups and
	// reloads) and, when it opened, why.
	CircuitChanged(state CircuitState, cause error)
	// WriteCircuitChanged reports a new state of the write breaker: writes have a
	// breaker of their own, so that a store that refuses writes (a read-only user,
	// a replica) does not stop lookups.
	WriteCircuitChanged(state CircuitState, cause error)
	// Invalidated reports one invalidation notification from the store.
	Invalidated()
	// ValueTooLarge reports a value over MaxValueSize (its key, never its value).
	ValueTooLarge(key string)
	// WritesQueued and WritesDropped count writes accepted and refused.
	WritesQueued(ctx context.Context, n int64)
	WritesDropped(ctx context.Context, reason DropReason, n int64)
	// KeysTooLarge counts the lookups (OpGet) and writes (OpSet) of one batch
	// skipped because their key is longer than MaxKeySize.
	KeysTooLarge(ctx context.Context, op Op, n int64)
}

// Clock returns nanoseconds; tests pass a fake one that is then also otter's
// clock, so that expiry and freshness follow the same fake time.
type Clock interface {
	NowNano() int64
	Tick(d time.Duration) <-chan time.Time
}

// Settings are what a Cache works with.
type Settings[M any] struct {
	Store  kvcache.Store
	Hooks  Hooks
	Logger *zap.Logger
	// Clock is nil for the real clock.
	Clock Clock
	// NewMemo returns the memo of a new (not negative) entry.
	NewMemo func() M
}

// Cache is a bounded local cache of one store. Its methods are safe for
// concurrent use.
type Cache[M any] struct {
	cfg     Config
	store   kvcache.Store
	hooks   Hooks
	now     func() int64
	newMemo func() M

	ttl, negTTL, refreshAfter, maxStale, fetchTimeout int64
	// minWeight is the weight of the smallest entry when both MaxBytes and
	// MaxEntries are set, so that MaxEntries entries fill MaxBytes.
	minWeight uint32

	otter   *otter.Cache[string, *Entry[M]]
	loader  bulkLoader[M]
	breaker *breaker // reads
	wbreak  *breaker // writes
	// slots holds one token per load in flight (nil: no limit).
	slots  chan struct{}
	writer *writer

	// inval is the last "everything changed" notification: entries loaded before
	// it (a lower generation) are soft-invalid.
	inval atomic.Pointer[invalidation]
	invMu sync.Mutex

	unsubscribe func()
	bgCtx       context.Context
	bgCancel    context.CancelFunc
	// closeMu guards closed and wg.Add against Close's wg.Wait.
	closeMu sync.RWMutex
	closed  bool
	wg      sync.WaitGroup
}

// invalidation is a generation of the whole cache and when it began.
type invalidation struct {
	gen uint64
	at  int64
}

// New starts a cache over set.Store and subscribes to its invalidations. Close
// stops it; the store itself stays the caller's.
func New[M any](cfg Config, set Settings[M]) (*Cache[M], error) {
	c := &Cache[M]{
		cfg:          cfg,
		store:        set.Store,
		hooks:        set.Hooks,
		newMemo:      set.NewMemo,
		now:          func() int64 { return time.Now().UnixNano() },
		ttl:          int64(cfg.TTL),
		negTTL:       int64(cfg.NegativeTTL),
		refreshAfter: int64(cfg.RefreshAfter),
		maxStale:     int64(cfg.MaxStale),
		fetchTimeout: int64(cfg.FetchTimeout),
	}
	if set.Clock != nil {
		c.now = set.Clock.NowNano
	}
	c.inval.Store(&invalidation{})
	if cfg.MaxInflightLoads > 0 {
		c.slots = make(chan struct{}, cfg.MaxInflightLoads)
	}
	c.bgCtx, c.bgCancel = context.WithCancel(context.Background())
	c.breaker = newBreaker(cfg.FailureThreshold, cfg.OpenDuration,
		func() time.Time { return time.Unix(0, c.now()) }, set.Hooks.CircuitChanged)
	c.wbreak = newBreaker(cfg.FailureThreshold, cfg.OpenDuration,
		func() time.Time { return time.Unix(0, c.now()) }, set.Hooks.WriteCircuitChanged)
	o := &otter.Options[string, *Entry[M]]{
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *Entry[M]]) time.Duration {
			return time.Duration(c.hardTTL(e.Value))
		}),
		// Reloads are asked for explicitly (BulkRefresh) by hits past refreshAt; this
		// calculator only enables them and keeps otter from starting its own.
		RefreshCalculator: otter.RefreshWriting[string, *Entry[M]](time.Duration(math.MaxInt64 / 4)),
		Executor:          c.execute,
		Logger:            otterLogger{set.Logger},
	}
	if set.Clock != nil {
		o.Clock = set.Clock
	}
	if cfg.MaxBytes > 0 {
		o.MaximumWeight = uint64(cfg.MaxBytes)
		if cfg.MaxEntries > 0 {
			c.minWeight = uint32(min((cfg.MaxBytes+int64(cfg.MaxEntries)-1)/int64(cfg.MaxEntries), math.MaxUint32))
		}
		o.Weigher = func(k string, v *Entry[M]) uint32 { return max(v.weight(k), c.minWeight) }
	} else {
		o.MaximumSize = cfg.MaxEntries
	}
	oc, err := otter.New(o)
	if err != nil {
		c.bgCancel()
		return nil, fmt.Errorf("kvcache local cache: %w", err)
	}
	c.otter = oc
	c.loader = bulkLoader[M]{c}
	if inv, ok := set.Store.(kvcache.Invalidator); ok {
		c.unsubscribe = inv.OnInvalidate(c.Invalidate)
	}
	if cfg.WriteQueue.Size > 0 {
		c.writer = newWriter(c)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.writer.run()
		}()
	}
	return c, nil
}

// Close unsubscribes, flushes the write queue and waits for the store calls in
// flight, all bounded by ctx.
func (c *Cache[M]) Close(ctx context.Context) error {
	if c.unsubscribe != nil {
		c.unsubscribe()
	}
	if c.writer != nil {
		c.writer.stop(ctx)
	}
	c.closeMu.Lock()
	c.closed = true
	c.closeMu.Unlock()
	c.bgCancel()
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("waiting for store calls: %w", ctx.Err())
	}
	c.otter.StopAllGoroutines()
	return err
}

// Get returns the entry of key, or nil when the local cache has none.
func (c *Cache[M]) Get(key string) *Entry[M] {
	e, _ := c.otter.GetIfPresent(key)
	return e
}

// State is what a record gets from the local cache.
type State uint8

const (
	// Fresh: serve the entry.
	Fresh State = iota
	// Stale: serve the entry, counted stale (past ttl, or soft-invalid).
	Stale
	// Missing: no entry, or one that was dropped because it is soft-invalid and not
	// servable: load the key (Batch.Miss).
	Missing
	// KeyTooLarge: the key is longer than Config.MaxKeySize; it was not looked up
	// and must not be loaded (counted by Finish).
	KeyTooLarge
)

// Lookup returns the entry of key and what a record gets from it, judged by the
// freshness rules at the batch's time; it may claim a background reload (started
// by Finish) or drop the entry. Each key is looked up in the local cache once per
// batch: later records of the batch get the same answer. stable says that key
// stays valid (it does not alias a buffer of the caller's) and need not be copied.
func (c *Cache[M]) Lookup(b *Batch[M], key string, stable bool) (*Entry[M], State) {
	if s, ok := b.seen[key]; ok {
		return s.e, s.st
	}
	if c.keyTooLarge(key) {
		b.longKeys[OpGet]++
		return nil, KeyTooLarge
	}
	e := c.Get(key)
	st := Missing
	if e != nil {
		st = c.check(b, key, e)
		if st == Missing {
			e = nil
		}
	}
	if !stable {
		key = strings.Clone(key)
	}
	if b.seen == nil {
		b.seen = map[string]seen[M]{}
	}
	b.seen[key] = seen[M]{e, st}
	return e, st
}

func (c *Cache[M]) check(b *Batch[M], key string, e *Entry[M]) State {
	st := Fresh
	if softInvalid := e.gen < b.inv.gen; softInvalid || b.now >= e.refreshAt {
		if softInvalid && (e.negative || b.now >= b.inv.at+c.maxStale) {
			c.drop(key, e)
			return Missing
		}
		c.claimRefresh(b, e, key)
		if softInvalid {
			st = Stale
		}
	}
	if b.now >= e.staleAt {
		st = Stale
	}
	return st
}

// keyTooLarge reports whether key is over Config.MaxKeySize.
func (c *Cache[M]) keyTooLarge(key string) bool {
	return c.cfg.MaxKeySize > 0 && len(key) > c.cfg.MaxKeySize
}

// drop removes key from the local cache if it still holds e.
func (c *Cache[M]) drop(key string, e *Entry[M]) {
	c.otter.ComputeIfPresent(key, func(old *Entry[M]) (*Entry[M], otter.ComputeOp) {
		if old == e {
			return nil, otter.InvalidateOp
		}
		return old, otter.CancelOp
	})
}

// claimRefresh asks for a background reload of e, once per reload attempt.
func (c *Cache[M]) claimRefresh(b *Batch[M], e *Entry[M], key string) {
	until := e.claimedUntil.Load()
	if b.now < until || !e.claimedUntil.CompareAndSwap(until, b.now+c.fetchTimeout) {
		return
	}
	b.refresh = append(b.refresh, strings.Clone(key))
}

// Invalidate drops keys, or with nil every entry (with max_stale, marks them
// soft-invalid instead). It is the store's invalidation callback.
func (c *Cache[M]) Invalidate(keys []string) {
	c.hooks.Invalidated()
	if keys == nil {
		// Everything may have changed (a flush, a reloaded file, or a provider that
		// lost its invalidation channel, as Redis does while it is down).
		if c.maxStale > 0 {
			c.invMu.Lock()
			c.inval.Store(&invalidation{gen: c.inval.Load().gen + 1, at: c.now()})
			c.invMu.Unlock()
		} else {
			c.otter.InvalidateAll()
		}
		return
	}
	for _, k := range keys {
		c.otter.Invalidate(k)
	}
}

// Write stores value under key with ttl (0: the store's default): in the local
// cache at once, in the store through the write queue, unless the local cache
// shows the store already has it (and its TTL is not close to running out; an
// entry from before the last "invalidates all" shows nothing). A
// key over MaxKeySize or a value over MaxValueSize is skipped (counted by Finish).
// Config.WriteQueue.Size must be positive.
func (c *Cache[M]) Write(b *Batch[M], key, value string, ttl time.Duration) {
	if c.keyTooLarge(key) {
		b.longKeys[OpSet]++
		return
	}
	if limit := c.cfg.MaxValueSize; limit > 0 && len(value) > limit {
		b.tooLarge++
		return
	}
	wttl := int64(ttl)
	if e := c.Get(key); e != nil && !e.negative && !e.tooLarge && e.raw == value &&
		e.gen >= b.inv.gen && (wttl == 0 || b.now-e.loadedAt < wttl/2) {
		return
	}
	k := strings.Clone(key)
	if !c.writer.enqueue(kvcache.Entry{Key: k, Value: []byte(value), TTL: ttl}) {
		b.dropped++
		return
	}
	b.queued++
	e := c.newEntry(k, value, b.now, c.inval.Load().gen)
	e.writeTTL = wttl
	c.otter.Set(k, e)
	if _, ok := b.seen[k]; ok {
		b.seen[k] = seen[M]{e, Fresh} // later records of the batch see the write
	}
}

// execute runs otter's asynchronous tasks (reloads, maintenance) on goroutines
// that Close waits for (once Close began, they still run, untracked).
func (c *Cache[M]) execute(fn func()) {
	if !c.goTracked(fn) {
		go fn()
	}
}

// goTracked runs fn on a goroutine Close waits for; false once Close began.
func (c *Cache[M]) goTracked(fn func()) bool {
	c.closeMu.RLock()
	defer c.closeMu.RUnlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

// ErrCircuitOpen is returned instead of calling a store whose circuit is open.
var ErrCircuitOpen = errors.New("kvcache store circuit breaker is open")

// bulkLoader is otter's loader: one store Get for all the keys it is given.
type bulkLoader[M any] struct{ c *Cache[M] }

// BulkLoad runs on Fetch's goroutine, which holds a load slot.
func (l bulkLoader[M]) BulkLoad(ctx context.Context, keys []string) (map[string]*Entry[M], error) {
	return l.c.load(ctx, keys)
}

// BulkReload runs on a goroutine of otter's (execute): it takes a load slot of its
// own, or gives up (the claim is retried after fetch_timeout).
func (l bulkLoader[M]) BulkReload(ctx context.Context, keys []string, _ []*Entry[M]) (map[string]*Entry[M], error) {
	if !l.c.acquireSlot() {
		return nil, errNoSlot
	}
	defer l.c.releaseSlot()
	return l.c.load(ctx, keys)
}

// errNoSlot: MaxInflightLoads loads are in flight.
var errNoSlot = errors.New("kvcache: too many store loads in flight")

// acquireSlot takes a load slot without waiting; false when none is free.
func (c *Cache[M]) acquireSlot() bool {
	if c.slots == nil {
		return true
	}
	select {
	case c.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (c *Cache[M]) releaseSlot() {
	if c.slots != nil {
		<-c.slots
	}
}

// slotsFull reports that no load slot is free now.
func (c *Cache[M]) slotsFull() bool { return c.slots != nil && len(c.slots) == cap(c.slots) }

func (c *Cache[M]) load(ctx context.Context, keys []string) (map[string]*Entry[M], error) {
	if !c.breaker.allow() {
		return nil, ErrCircuitOpen
	}
	// Reloads come with a context that is never cancelled: bound every call by
	// fetch_timeout and by Close.
	ctx, cancel := context.WithTimeout(ctx, c.cfg.FetchTimeout)
	defer cancel()
	stop := context.AfterFunc(c.bgCtx, cancel)
	defer stop()

	gen := c.inval.Load().gen // what is read from now on is newer than it
	start := time.Now()
	res, err := c.store.Get(ctx, keys)
	if err == nil && len(res) != len(keys) {
		err = fmt.Errorf("store returned %d results for %d keys", len(res), len(keys))
	}
	if err != nil && c.bgCtx.Err() != nil {
		return nil, err // closing: says nothing about the store
	}
	c.hooks.StoreCall(context.WithoutCancel(ctx), OpGet, len(keys), time.Since(start), err)
	c.breaker.record(err)
	if err != nil {
		return nil, err
	}
	now := c.now()
	out := make(map[string]*Entry[M], len(keys))
	for i, k := range keys {
		switch {
		case res[i].Found:
			out[k] = c.newEntry(k, string(res[i].Value), now, gen)
		case c.negTTL > 0:
			out[k] = newNegative[M](now, gen)
		}
	}
	return out, nil
}

// otterLogger sends otter's (swallowed) reload errors to the debug log: they are
// already counted by the store-call hook.
type otterLogger struct{ l *zap.Logger }

func (o otterLogger) Warn(_ context.Context, msg string, err error) {
	o.l.Debug("kvcache local cache: "+msg, zap.Error(err))
}

func (o otterLogger) Error(_ context.Context, msg string, err error) {
	o.l.Debug("kvcache local cache: "+msg, zap.Error(err))
}
