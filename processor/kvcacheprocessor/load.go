package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
)

// newEntry decodes a fetched or written value.
func (p *kvProcessor) newEntry(key string, value []byte, now int64, gen uint64) *entry {
	e := &entry{gen: gen, loadedAt: now, staleAt: now + p.ttl, ops: make([]atomic.Pointer[opsResult], len(p.lookups))}
	if limit := p.cfg.MaxValueSize; limit > 0 && len(value) > limit {
		e.tooLarge = true
		p.logBadValue(key, badTooLarge)
	} else {
		e.raw = string(value)
	}
	e.refreshAt = e.staleAt
	if p.refreshAfter > 0 {
		e.refreshAt = now + p.refreshAfter
	}
	return e
}

// newNegative remembers that the store has no value for a key.
func newNegative(now int64, gen uint64) *entry {
	return &entry{negative: true, gen: gen, loadedAt: now, staleAt: math.MaxInt64, refreshAt: math.MaxInt64}
}

// hardTTL is how long otter keeps the entry: fresh for ttl, then servable as stale for
// max_stale. Negative entries live negative_ttl; written entries no longer than the
// TTL they were written with.
func (e *entry) hardTTL(p *kvProcessor) time.Duration {
	if e.negative {
		return time.Duration(p.negTTL)
	}
	if e.writeTTL > 0 {
		return time.Duration(min(e.writeTTL, p.ttl+p.maxStale))
	}
	return time.Duration(p.ttl + p.maxStale)
}

// opsFor returns the attributes e sets for lookup l, decoding them on first use.
func (p *kvProcessor) opsFor(e *entry, l *lookup, key string) ([]attrOp, badKind) {
	if r := e.ops[l.idx].Load(); r != nil {
		return r.ops, r.bad
	}
	r := &opsResult{}
	switch {
	case e.tooLarge:
		r.bad = badTooLarge
	case !l.json:
		r.ops = []attrOp{{name: l.target, kind: kindStr, str: e.raw}}
	default:
		fields, bad, first := e.parseJSON()
		if bad != badNone {
			if first {
				p.logBadValue(key, bad)
			}
			r.bad = bad
		} else {
			r.ops = l.opsFromFields(fields)
		}
	}
	e.ops[l.idx].Store(r)
	return r.ops, r.bad
}

// bulkLoader is otter's loader: one store Get for all the keys it is given.
type bulkLoader struct{ p *kvProcessor }

func (b bulkLoader) BulkLoad(ctx context.Context, keys []string) (map[string]*entry, error) {
	return b.p.load(ctx, keys)
}

func (b bulkLoader) BulkReload(ctx context.Context, keys []string, _ []*entry) (map[string]*entry, error) {
	return b.p.load(ctx, keys)
}

func (p *kvProcessor) load(ctx context.Context, keys []string) (map[string]*entry, error) {
	if !p.breaker.allow() {
		return nil, errCircuitOpen
	}
	// Refreshes come with a context that is never cancelled: bound every call by
	// fetch_timeout and by Shutdown.
	ctx, cancel := context.WithTimeout(ctx, p.cfg.FetchTimeout)
	defer cancel()
	stop := context.AfterFunc(p.bgCtx, cancel)
	defer stop()

	gen := p.inval.Load().gen // what is read from now on is newer than it
	start := time.Now()
	res, err := p.store.Get(ctx, keys)
	if err == nil && len(res) != len(keys) {
		err = fmt.Errorf("store returned %d results for %d keys", len(res), len(keys))
	}
	p.recordStoreCall(ctx, p.optsGet, p.optsKeysGet, start, len(keys), err)
	if err != nil && p.bgCtx.Err() != nil {
		return nil, err // shutting down: says nothing about the store
	}
	p.breaker.record(err)
	if err != nil {
		return nil, err
	}
	now := p.clock.NowNano()
	out := make(map[string]*entry, len(keys))
	for i, k := range keys {
		switch {
		case res[i].Found:
			out[k] = p.newEntry(k, res[i].Value, now, gen)
		case p.negTTL > 0:
			out[k] = newNegative(now, gen)
		}
	}
	return out, nil
}

func (p *kvProcessor) recordStoreCall(ctx context.Context, opts [2]metric.MeasurementOption, keysOpt metric.RecordOption, start time.Time, n int, err error) {
	i := 0
	if err != nil {
		i = 1
	}
	ctx = context.WithoutCancel(ctx)
	p.tb.ProcessorKvcacheStoreRequests.Add(ctx, 1, opts[i])
	p.tb.ProcessorKvcacheStoreDuration.Record(ctx, time.Since(start).Seconds(), opts[i])
	p.tb.ProcessorKvcacheStoreKeys.Record(ctx, int64(n), keysOpt)
}

// otterLogger sends otter's (swallowed) refresh errors to the debug log: they are
// already counted by the store metrics.
type otterLogger struct{ l *zap.Logger }

func (o otterLogger) Warn(_ context.Context, msg string, err error) {
	o.l.Debug("kvcache local cache: "+msg, zap.Error(err))
}

func (o otterLogger) Error(_ context.Context, msg string, err error) {
	o.l.Debug("kvcache local cache: "+msg, zap.Error(err))
}
