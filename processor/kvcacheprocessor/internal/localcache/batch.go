package localcache // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache"

import (
	"context"
	"strings"
	"time"
)

// Batch is the cache's scratch space for one incoming batch of records: its
// time, the keys it looked up, its missing keys, the reloads its hits claimed and
// its write counts. Begin starts it, Finish and Fetch end it, Reset makes it
// reusable.
type Batch[M any] struct {
	now         int64
	inv         invalidation // Cache.inval when the batch began
	seen        map[string]seen[M]
	missing     map[string]int32
	missingKeys []string
	refresh     []string
	queued      int64
	dropped     int64
	tooLarge    int64    // writes of values over MaxValueSize
	longKeys    [2]int64 // [Op]: keys over MaxKeySize
}

// seen is a key's answer within a batch.
type seen[M any] struct {
	e  *Entry[M]
	st State
}

// Begin starts a batch: every record of it is judged at the same time.
func (c *Cache[M]) Begin(b *Batch[M]) {
	b.now = c.now()
	b.inv = *c.inval.Load()
}

// Reset forgets the batch's keys and counts.
func (b *Batch[M]) Reset() {
	clear(b.seen)
	clear(b.missing)
	b.missingKeys = nil // owned by the fetch goroutine
	b.refresh = nil     // owned by otter
	b.queued, b.dropped, b.tooLarge = 0, 0, 0
	b.longKeys = [2]int64{}
}

// Miss adds key to the batch's missing keys and returns the batch's own copy of
// it (key may alias a buffer of the caller's), the key of the entry Fetch returns.
func (b *Batch[M]) Miss(key string) string {
	if i, ok := b.missing[key]; ok {
		return b.missingKeys[i]
	}
	if b.missing == nil {
		b.missing = map[string]int32{}
	}
	k := strings.Clone(key)
	b.missing[k] = int32(len(b.missingKeys))
	b.missingKeys = append(b.missingKeys, k)
	return k
}

// Finish starts the reloads the batch's hits claimed (unless the circuit is
// open) and reports its writes.
func (c *Cache[M]) Finish(ctx context.Context, b *Batch[M]) {
	if len(b.refresh) > 0 {
		if !c.breaker.blocked() && !c.slotsFull() {
			c.otter.BulkRefresh(c.bgCtx, b.refresh, c.loader)
		}
		b.refresh = nil
	}
	if b.queued > 0 {
		c.hooks.WritesQueued(ctx, b.queued)
	}
	if b.dropped > 0 {
		c.hooks.WritesDropped(ctx, DropQueueFull, b.dropped)
	}
	if b.tooLarge > 0 {
		c.hooks.WritesDropped(ctx, DropTooLarge, b.tooLarge)
	}
	for op, n := range b.longKeys {
		if n > 0 {
			c.hooks.KeysTooLarge(ctx, Op(op), n)
		}
	}
}

// Outcome says how Fetch ended.
type Outcome uint8

const (
	// Loaded: the answer is in. Keys with an entry were found (or are known
	// absent, Negative); a key without one is absent (negative caching off) when
	// the error is nil, and failed otherwise.
	Loaded Outcome = iota
	// Started: the load runs in the background (wait 0); its entries are cached
	// for later records.
	Started
	// Refused: the circuit is open, no store call was made.
	Refused
	// Closing: the cache is closing.
	Closing
	// TimedOut: not back within wait; a late answer is still cached.
	TimedOut
	// Canceled: the caller's context ended first.
	Canceled
	// NoSlot: Config.MaxInflightLoads loads are in flight; no store call was made.
	NoSlot
)

type fetchResult[M any] struct {
	entries map[string]*Entry[M]
	err     error
}

// Fetch loads the batch's missing keys in one bulk load (otter merges the keys
// that other batches are loading into their loads) on a goroutine of its own,
// bounded by fetch_timeout and by MaxInflightLoads, and waits for it at most wait
// (0: not at all).
func (c *Cache[M]) Fetch(ctx context.Context, b *Batch[M], wait time.Duration) (map[string]*Entry[M], Outcome, error) {
	if c.breaker.blocked() {
		return nil, Refused, nil
	}
	if !c.acquireSlot() {
		return nil, NoSlot, nil
	}
	keys := b.missingKeys
	b.missingKeys = nil
	ch := make(chan fetchResult[M], 1)
	started := c.goTracked(func() {
		defer c.releaseSlot()
		fctx, cancel := context.WithTimeout(c.bgCtx, c.cfg.FetchTimeout)
		defer cancel()
		entries, err := c.otter.BulkGet(fctx, keys, c.loader)
		ch <- fetchResult[M]{entries: entries, err: err}
	})
	if !started {
		c.releaseSlot()
		return nil, Closing, nil
	}
	if wait <= 0 {
		return nil, Started, nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r.entries, Loaded, r.err
	case <-timer.C:
		return nil, TimedOut, nil
	case <-ctx.Done():
		return nil, Canceled, ctx.Err()
	}
}
