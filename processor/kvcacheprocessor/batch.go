package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"context"
	"strings"
	"time"

	"github.com/maypok86/otter/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
)

// memoSlot remembers the last key and entry of one lookup within a batch, so that runs
// of records with the same key skip the cache lookup.
type memoSlot struct {
	key string
	buf []byte
	e   *entry
}

func (m *memoSlot) set(key string, built bool, e *entry) {
	if built {
		m.buf = append(m.buf[:0], key...)
		key = unsafeString(m.buf)
	}
	m.key, m.e = key, e
}

// pendingRec is a record whose key was not in the local cache.
type pendingRec struct {
	attrs pcommon.Map
	l     *lookup
	key   string
}

// invalidation is a generation of the whole cache and when it began.
type invalidation struct {
	gen uint64
	at  int64
}

// batchState is the scratch space of one incoming batch (pooled).
type batchState struct {
	now         int64
	inv         invalidation // kvProcessor.inval when the batch began
	keyBuf      []byte
	memo        []memoSlot
	pending     []pendingRec
	missing     map[string]int32
	missingKeys []string
	refresh     []string
	counts      [numResults]int64
	queued      int64
	dropped     int64
}

func (p *kvProcessor) begin() *batchState {
	b := p.batches.Get().(*batchState)
	b.now = p.clock.NowNano()
	b.inv = *p.inval.Load()
	return b
}

func (p *kvProcessor) release(b *batchState) {
	for i := range b.memo {
		b.memo[i].key, b.memo[i].e = "", nil
	}
	clear(b.pending)
	b.pending = b.pending[:0]
	clear(b.missing)
	b.missingKeys = nil // owned by the fetch goroutine
	b.refresh = nil     // owned by otter
	b.counts = [numResults]int64{}
	b.queued, b.dropped = 0, 0
	p.batches.Put(b)
}

// record applies the rules of one level to one record.
func (p *kvProcessor) record(b *batchState, lv level, attrs pcommon.Map, tid pcommon.TraceID) {
	for _, w := range p.writesBy[lv] {
		p.write(b, w, attrs, tid)
	}
	for _, l := range p.byLevel[lv] {
		p.lookupOne(b, l, attrs, tid)
	}
}

func (p *kvProcessor) lookupOne(b *batchState, l *lookup, attrs pcommon.Map, tid pcommon.TraceID) {
	key, built, ok := l.key.build(&b.keyBuf, attrs, tid)
	if !ok {
		if l.missingKeyDf {
			l.apply(attrs, l.defaultOps)
		}
		return
	}
	m := &b.memo[l.idx]
	e := m.e
	if e == nil || m.key != key {
		e, _ = p.cache.GetIfPresent(key)
		if e == nil {
			p.addPending(b, l, attrs, key)
			return
		}
		m.set(key, built, e)
	}
	res := resultHit
	if softInvalid := e.gen < b.inv.gen; softInvalid || b.now >= e.refreshAt {
		if softInvalid && (e.negative || b.now >= b.inv.at+p.maxStale) {
			// Invalidated and not servable as stale: fetch it like a miss.
			p.dropEntry(key, e)
			m.e = nil
			p.addPending(b, l, attrs, key)
			return
		}
		p.claimRefresh(b, e, key)
		if softInvalid {
			res = resultStale
		}
	}
	if b.now >= e.staleAt {
		res = resultStale
	}
	p.serve(b, l, attrs, key, e, res)
}

// dropEntry removes key from the local cache if it still holds e.
func (p *kvProcessor) dropEntry(key string, e *entry) {
	p.cache.ComputeIfPresent(key, func(old *entry) (*entry, otter.ComputeOp) {
		if old == e {
			return nil, otter.InvalidateOp
		}
		return old, otter.CancelOp
	})
}

// serve applies a known entry to a record and counts the lookup.
func (p *kvProcessor) serve(b *batchState, l *lookup, attrs pcommon.Map, key string, e *entry, res result) {
	if e.negative {
		b.counts[resultNegative]++
		if l.hasDefault {
			l.apply(attrs, l.defaultOps)
		}
		return
	}
	ops, bad := p.opsFor(e, l, key)
	if bad != badNone {
		b.counts[resultError]++
		return
	}
	b.counts[res]++
	l.apply(attrs, ops)
}

// claimRefresh asks for a background refresh of e, once per refresh attempt.
func (p *kvProcessor) claimRefresh(b *batchState, e *entry, key string) {
	until := e.claimedUntil.Load()
	if b.now < until || !e.claimedUntil.CompareAndSwap(until, b.now+p.fetchTimeout) {
		return
	}
	b.refresh = append(b.refresh, strings.Clone(key))
}

func (p *kvProcessor) addPending(b *batchState, l *lookup, attrs pcommon.Map, key string) {
	i, ok := b.missing[key]
	if !ok {
		i = int32(len(b.missingKeys))
		k := strings.Clone(key)
		b.missing[k] = i
		b.missingKeys = append(b.missingKeys, k)
	}
	b.pending = append(b.pending, pendingRec{attrs: attrs, l: l, key: b.missingKeys[i]})
}

// write remembers a record's values under its key, unless the local cache shows the
// store already has them.
func (p *kvProcessor) write(b *batchState, w *writeRule, attrs pcommon.Map, tid pcommon.TraceID) {
	key, _, ok := w.key.build(&b.keyBuf, attrs, tid)
	if !ok {
		return
	}
	val, ok := w.value(attrs)
	if !ok {
		return
	}
	if e, _ := p.cache.GetIfPresent(key); e != nil && !e.negative && !e.tooLarge && e.raw == val &&
		(w.ttl == 0 || b.now-e.loadedAt < w.ttl/2) {
		return // the store has it (and its TTL is not close to running out)
	}
	k := strings.Clone(key)
	if !p.writer.enqueue(kvcache.Entry{Key: k, Value: []byte(val), TTL: time.Duration(w.ttl)}) {
		b.dropped++
		return
	}
	b.queued++
	e := p.newEntry(k, []byte(val), b.now, p.inval.Load().gen)
	e.writeTTL = w.ttl
	p.cache.Set(k, e)
}

// finish fetches what the batch missed, applies it, starts refreshes and counts.
func (p *kvProcessor) finish(ctx context.Context, b *batchState) {
	if len(b.refresh) > 0 {
		if !p.breaker.blocked() {
			p.cache.BulkRefresh(p.bgCtx, b.refresh, p.loader)
		}
		b.refresh = nil
	}
	if len(b.pending) > 0 {
		p.resolveMissing(ctx, b)
	}
	for r := range numResults {
		if n := b.counts[r]; n > 0 {
			p.tb.ProcessorKvcacheLookups.Add(ctx, n, p.optsResult[r])
		}
	}
	if b.queued > 0 {
		p.tb.ProcessorKvcacheWritesQueued.Add(ctx, b.queued)
	}
	if b.dropped > 0 {
		p.tb.ProcessorKvcacheWritesDropped.Add(ctx, b.dropped, p.optsDropped[dropQueueFull])
	}
}

type fetchResult struct {
	values map[string]*entry
	err    error
}

// resolveMissing fetches the batch's distinct missing keys in one BulkGet (otter merges
// keys that other batches are loading into their loads) on a goroutine of its own, and
// waits for it at most `timeout` (on_miss: wait) or not at all (on_miss: async). A late
// answer is still cached by otter for later records.
func (p *kvProcessor) resolveMissing(ctx context.Context, b *batchState) {
	if p.breaker.blocked() {
		b.counts[resultError] += int64(len(b.pending))
		return
	}
	keys := b.missingKeys
	b.missingKeys = nil
	ch := make(chan fetchResult, 1)
	started := p.goTracked(func() {
		fctx, cancel := context.WithTimeout(p.bgCtx, p.cfg.FetchTimeout)
		defer cancel()
		values, err := p.cache.BulkGet(fctx, keys, p.loader)
		ch <- fetchResult{values: values, err: err}
	})
	if !started {
		b.counts[resultError] += int64(len(b.pending))
		return
	}
	if p.cfg.OnMiss == OnMissAsync {
		b.counts[resultMiss] += int64(len(b.pending))
		return
	}
	timer := time.NewTimer(p.cfg.Timeout)
	defer timer.Stop()
	var r fetchResult
	select {
	case r = <-ch:
	case <-timer.C:
		b.counts[resultError] += int64(len(b.pending))
		return
	case <-ctx.Done():
		b.counts[resultError] += int64(len(b.pending))
		return
	}
	for i := range b.pending {
		pr := &b.pending[i]
		e := r.values[pr.key]
		switch {
		case e != nil:
			res := resultMiss
			if e.negative {
				res = resultNegative
			}
			p.serve(b, pr.l, pr.attrs, pr.key, e, res)
		case r.err == nil: // not found, negative caching off
			b.counts[resultNegative]++
			if pr.l.hasDefault {
				pr.l.apply(pr.attrs, pr.l.defaultOps)
			}
		default:
			b.counts[resultError]++
		}
	}
}
