package localcache // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache"

import (
	"math"
	"sync/atomic"
)

// Entry is a cached store value, or a remembered absence (Negative). M is the
// caller's memo: what it derives from the value, built once per entry by
// Settings.NewMemo and kept for every later record.
type Entry[M any] struct {
	raw      string
	negative bool
	tooLarge bool
	// gen is the invalidation generation the value was read in.
	gen uint64
	// loadedAt is when the value was fetched or written (clock nanoseconds).
	loadedAt int64
	// staleAt is when the value stops being fresh (loadedAt + ttl).
	staleAt int64
	// writeTTL is the TTL a locally written value was stored with (0: fetched).
	writeTTL int64
	// refreshAt is when hits start asking for a background reload.
	refreshAt int64
	// claimedUntil: a hit that asks for a reload moves it forward (by fetch_timeout)
	// so that concurrent and following hits do not all ask; a failed reload is asked
	// for again after it.
	claimedUntil atomic.Int64

	memo M
}

// Value is the stored value ("" when Negative or TooLarge).
func (e *Entry[M]) Value() string { return e.raw }

// Negative reports that the store has no value for the key.
func (e *Entry[M]) Negative() bool { return e.negative }

// TooLarge reports that the value was larger than Config.MaxValueSize (and not kept).
func (e *Entry[M]) TooLarge() bool { return e.tooLarge }

// Memo is the caller's memo of a value (the zero M for a negative entry).
func (e *Entry[M]) Memo() M { return e.memo }

// newEntry makes an entry of a value fetched or written at now.
func (c *Cache[M]) newEntry(key, value string, now int64, gen uint64) *Entry[M] {
	e := &Entry[M]{gen: gen, loadedAt: now, staleAt: now + c.ttl, memo: c.newMemo()}
	if limit := c.cfg.MaxValueSize; limit > 0 && len(value) > limit {
		e.tooLarge = true
		c.hooks.ValueTooLarge(key)
	} else {
		e.raw = value
	}
	e.refreshAt = e.staleAt
	if c.refreshAfter > 0 {
		e.refreshAt = now + c.refreshAfter
	}
	return e
}

// newNegative remembers that the store has no value for a key.
func newNegative[M any](now int64, gen uint64) *Entry[M] {
	return &Entry[M]{negative: true, gen: gen, loadedAt: now, staleAt: math.MaxInt64, refreshAt: math.MaxInt64}
}

// hardTTL is how long otter keeps the entry: fresh for ttl, then servable as stale
// for max_stale. Negative entries live negative_ttl; written entries no longer than
// the TTL they were written with.
func (c *Cache[M]) hardTTL(e *Entry[M]) int64 {
	if e.negative {
		return c.negTTL
	}
	if e.writeTTL > 0 {
		return min(e.writeTTL, c.ttl+c.maxStale)
	}
	return c.ttl + c.maxStale
}

// entryOverhead approximates what an entry costs besides its key and value: the
// Entry and its memo, otter's node and its share of otter's hash table.
const entryOverhead = 256

// weight is the approximate memory an entry and its key hold, for Config.MaxBytes:
// the value counts twice (as stored and as decoded into the memo).
func (e *Entry[M]) weight(key string) uint32 {
	w := entryOverhead + len(key) + 2*len(e.raw)
	if w > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(w)
}
