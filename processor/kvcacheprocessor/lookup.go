package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache"
)

// result is the outcome of one lookup of one record (the `result` metric attribute).
type result uint8

const (
	resultHit result = iota
	resultMiss
	resultStale
	resultError
	resultNegative
	numResults
)

var resultNames = [numResults]string{"hit", "miss", "stale", "error", "negative"}

// errReason says why a lookup ended in resultError (the `reason` attribute), so
// that a slow store can be told from a broken one.
type errReason uint8

const (
	reasonTimeout     errReason = iota // not back within timeout (or fetch_timeout)
	reasonStoreError                   // the store call failed
	reasonCircuitOpen                  // the circuit is open: no call made
	reasonBadValue                     // the value is unusable (invalid_values says why)
	reasonNoSlot                       // max_inflight_loads loads in flight
	reasonKeyTooLarge                  // the key is over max_key_size
	reasonClosing                      // the processor is shutting down
	reasonCanceled                     // the caller's context ended first
	numReasons
)

var reasonNames = [numReasons]string{"timeout", "store_error", "circuit_open", "bad_value", "no_slot", "key_too_large", "closing", "canceled"}

// outcomeReasons maps the Fetch outcomes that are errors to their reason.
var outcomeReasons = map[localcache.Outcome]errReason{
	localcache.Refused:  reasonCircuitOpen,
	localcache.Closing:  reasonClosing,
	localcache.TimedOut: reasonTimeout,
	localcache.Canceled: reasonCanceled,
	localcache.NoSlot:   reasonNoSlot,
}

// loadErrReason is the reason of a failed load.
func loadErrReason(err error) errReason {
	switch {
	case errors.Is(err, localcache.ErrCircuitOpen):
		return reasonCircuitOpen
	case errors.Is(err, context.DeadlineExceeded):
		return reasonTimeout
	default:
		return reasonStoreError
	}
}

type cacheEntry = localcache.Entry[*decoded]

// pendingRec is a record whose key was not in the local cache.
type pendingRec struct {
	attrs pcommon.Map
	l     *lookup
	key   string
}

// batchState is the scratch space of one incoming batch (pooled).
type batchState struct {
	c       localcache.Batch[*decoded]
	keyBuf  []byte
	pending []pendingRec
	counts  [numResults]int64
	errs    [numReasons]int64 // resultError by reason
	// rec is the record the walk is at, for rules with OTTL.
	rec recCtx
}

// fail counts n lookups ending in resultError for reason.
func (b *batchState) fail(reason errReason, n int64) {
	b.counts[resultError] += n
	b.errs[reason] += n
}

func (p *kvProcessor) begin() *batchState {
	b := p.batches.Get().(*batchState)
	p.cache.Begin(&b.c)
	return b
}

// maxPooledKeyBuf: a larger key buffer (grown by a huge attribute value) is not
// kept in the pool.
const maxPooledKeyBuf = 64 << 10

func (p *kvProcessor) release(b *batchState) {
	if cap(b.keyBuf) > maxPooledKeyBuf {
		b.keyBuf = nil
	}
	clear(b.pending)
	b.pending = b.pending[:0]
	b.c.Reset()
	b.counts = [numResults]int64{}
	b.errs = [numReasons]int64{}
	b.rec = recCtx{}
	p.batches.Put(b)
}

// record applies the rules of one level to one record.
func (p *kvProcessor) record(b *batchState, lv level, attrs pcommon.Map, tid pcommon.TraceID) {
	for _, w := range p.rule.writesBy[lv] {
		p.write(b, w, attrs, tid)
	}
	for _, l := range p.rule.byLevel[lv] {
		p.lookupOne(b, l, attrs, tid)
	}
}

func (p *kvProcessor) lookupOne(b *batchState, l *lookup, attrs pcommon.Map, tid pcommon.TraceID) {
	var key string
	var built, ok bool
	if l.prog == nil { // the fast path: no OTTL
		key, built, ok = l.key.build(&b.keyBuf, attrs, tid)
	} else {
		var match bool
		if key, built, ok, match = p.programKey(b, l.prog, &l.key, attrs, tid); !match {
			return
		}
	}
	if !ok {
		if l.missingKeyDf {
			l.apply(attrs, l.defaultOps)
		}
		return
	}
	e, st := p.cache.Lookup(&b.c, key, !built)
	res := resultHit
	switch st {
	case localcache.Missing:
		p.addPending(b, l, attrs, key)
		return
	case localcache.KeyTooLarge: // not looked up: passes un-enriched
		b.fail(reasonKeyTooLarge, 1)
		return
	case localcache.Stale:
		res = resultStale
	}
	p.serve(b, l, attrs, key, e, res)
}

func (p *kvProcessor) addPending(b *batchState, l *lookup, attrs pcommon.Map, key string) {
	b.pending = append(b.pending, pendingRec{attrs: attrs, l: l, key: b.c.Miss(key)})
}

// serve applies a known entry to a record and counts the lookup.
func (p *kvProcessor) serve(b *batchState, l *lookup, attrs pcommon.Map, key string, e *cacheEntry, res result) {
	if e.Negative() {
		notFound(b, l, attrs)
		return
	}
	ops, bad := p.opsFor(e, l, key)
	if bad != badNone {
		b.fail(reasonBadValue, 1)
		return
	}
	b.counts[res]++
	l.apply(attrs, ops)
}

// notFound counts a lookup of a key the store does not have and applies the default.
func notFound(b *batchState, l *lookup, attrs pcommon.Map) {
	b.counts[resultNegative]++
	if l.hasDefault {
		l.apply(attrs, l.defaultOps)
	}
}

// opsFor returns the attributes e sets for lookup l, decoding them on first use.
func (p *kvProcessor) opsFor(e *cacheEntry, l *lookup, key string) ([]attrOp, badKind) {
	d := e.Memo()
	if r := d.ops[l.idx].Load(); r != nil {
		return r.ops, r.bad
	}
	r := &opsResult{}
	switch {
	case e.TooLarge():
		r.bad = badTooLarge
	case !l.json:
		r.ops = []attrOp{{name: l.target, kind: kindStr, str: e.Value()}}
	default:
		fields, bad, first := d.parseJSON(e.Value())
		if bad != badNone {
			if first {
				p.tel.badValue(key, bad)
			}
			r.bad = bad
		} else {
			r.ops = l.opsFromFields(fields)
		}
	}
	d.ops[l.idx].Store(r)
	return r.ops, r.bad
}

// write remembers a record's values under its key.
func (p *kvProcessor) write(b *batchState, w *writeRule, attrs pcommon.Map, tid pcommon.TraceID) {
	var key string
	var ok bool
	if w.prog == nil {
		key, _, ok = w.key.build(&b.keyBuf, attrs, tid)
	} else {
		var match bool
		key, _, ok, match = p.programKey(b, w.prog, &w.key, attrs, tid)
		ok = ok && match
	}
	if !ok {
		return
	}
	if val, ok := w.value(attrs); ok {
		p.cache.Write(&b.c, key, val, w.ttl)
	}
}

// programKey evaluates a rule's OTTL on the current record (b.rec): match is false
// when the where condition does not hold (or fails to evaluate); the key comes from
// key::expression when the rule has one, else from the plain key spec. A key
// expression that fails to evaluate gives no key. Errors are logged at debug level.
func (p *kvProcessor) programKey(b *batchState, prog program, k *keySpec, attrs pcommon.Map, tid pcommon.TraceID) (key string, built, ok, match bool) {
	v, match, err := prog.eval(&b.rec)
	if err != nil && p.tel.logger.Core().Enabled(zap.DebugLevel) && p.tel.logLimiter.Allow() {
		p.tel.logger.Debug("kvcache OTTL evaluation failed: record left alone or without key", zap.Error(err))
	}
	if !match {
		return "", false, false, false
	}
	if !prog.hasExpression() {
		key, built, ok = k.build(&b.keyBuf, attrs, tid)
		return key, built, ok, true
	}
	if err != nil {
		return "", false, false, true
	}
	s, ok := keyString(v)
	if !ok {
		return "", false, false, true
	}
	if k.prefix == "" {
		// The value is the record's own string or a new one: it stays valid while
		// the batch is processed, as a simple attribute key does.
		return s, false, true, true
	}
	buf := append(append(b.keyBuf[:0], k.prefix...), s...)
	b.keyBuf = buf
	return unsafeString(buf), true, true, true
}

// finish starts the batch's reloads, fetches what it missed, applies it and counts.
func (p *kvProcessor) finish(ctx context.Context, b *batchState) {
	p.cache.Finish(ctx, &b.c)
	if len(b.pending) > 0 {
		p.resolveMissing(ctx, b)
	}
	p.tel.lookups(ctx, &b.counts, &b.errs)
}

// resolveMissing fetches the batch's missing keys, waiting at most `timeout`
// (on_miss: wait) or not at all (on_miss: async), and applies what came back.
func (p *kvProcessor) resolveMissing(ctx context.Context, b *batchState) {
	wait := p.cfg.Timeout
	if p.cfg.OnMiss == OnMissAsync {
		wait = 0
	}
	entries, outcome, err := p.cache.Fetch(ctx, &b.c, wait)
	switch outcome {
	case localcache.Loaded:
	case localcache.Started:
		b.counts[resultMiss] += int64(len(b.pending))
		return
	default: // refused, closing, timed out, canceled, no load slot
		b.fail(outcomeReasons[outcome], int64(len(b.pending)))
		return
	}
	for i := range b.pending {
		pr := &b.pending[i]
		e := entries[pr.key]
		switch {
		case e != nil:
			p.serve(b, pr.l, pr.attrs, pr.key, e, resultMiss)
		case err == nil: // not found, negative caching off
			notFound(b, pr.l, pr.attrs)
		default:
			b.fail(loadErrReason(err), 1)
		}
	}
}
