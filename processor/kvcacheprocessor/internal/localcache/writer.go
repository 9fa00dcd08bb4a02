package localcache // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache"

import (
	"context"
	"time"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
)

// writer sends queued writes to the store in batches, off the telemetry path. The
// queue is bounded: enqueue never blocks, a full queue drops the write.
type writer struct {
	// ctx is the cache's background context: Close cancels it, which ends a flush
	// in flight and the writer.
	ctx     context.Context
	store   kvcache.Store
	breaker *breaker
	hooks   Hooks
	cfg     WriteQueue
	timeout time.Duration
	queue   chan kvcache.Entry
	stopc   chan context.Context
	done    chan struct{}
}

func newWriter[M any](c *Cache[M]) *writer {
	return &writer{
		ctx:     c.bgCtx,
		store:   c.store,
		breaker: c.wbreak,
		hooks:   c.hooks,
		cfg:     c.cfg.WriteQueue,
		timeout: c.cfg.FetchTimeout,
		queue:   make(chan kvcache.Entry, c.cfg.WriteQueue.Size),
		stopc:   make(chan context.Context),
		done:    make(chan struct{}),
	}
}

// enqueue adds a write without blocking; false when the queue is full.
func (w *writer) enqueue(e kvcache.Entry) bool {
	select {
	case w.queue <- e:
		return true
	default:
		return false
	}
}

func (w *writer) run() {
	defer close(w.done)
	size := w.cfg.BatchSize
	ticker := time.NewTicker(w.cfg.FlushInterval)
	defer ticker.Stop()
	buf := make([]kvcache.Entry, 0, size)
	for {
		select {
		case e := <-w.queue:
			buf = append(buf, e)
			if len(buf) >= size {
				buf = w.flush(w.ctx, buf)
			}
		case <-ticker.C:
			if len(buf) > 0 {
				buf = w.flush(w.ctx, buf)
			}
		case <-w.ctx.Done(): // Close gave up waiting (its context ended)
			w.dropped(len(buf) + len(w.queue))
			return
		case ctx := <-w.stopc:
			// Close: send what is queued, bounded by Close's context.
			for {
				select {
				case e := <-w.queue:
					buf = append(buf, e)
					if len(buf) >= size {
						buf = w.flush(ctx, buf)
					}
					continue
				default:
				}
				break
			}
			if len(buf) > 0 {
				w.flush(ctx, buf)
			}
			return
		}
	}
}

// stop flushes the queue (bounded by ctx) and stops the writer. It returns when
// ctx ends even while a flush is in flight: Close then cancels that flush (w.ctx).
func (w *writer) stop(ctx context.Context) {
	select {
	case w.stopc <- ctx:
	case <-w.done:
		return
	case <-ctx.Done():
		return
	}
	select {
	case <-w.done:
	case <-ctx.Done():
	}
}

// flush sends buf in one store Set, the last write of each key winning, and returns
// buf emptied for reuse.
func (w *writer) flush(ctx context.Context, buf []kvcache.Entry) []kvcache.Entry {
	entries := dedupeEntries(buf)
	if ctx.Err() != nil {
		w.dropped(len(entries))
		clear(buf)
		return buf[:0]
	}
	if !w.breaker.allow() {
		w.hooks.WritesDropped(context.WithoutCancel(ctx), DropCircuitOpen, int64(len(entries)))
		return buf[:0]
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	start := time.Now()
	err := w.store.Set(ctx, entries)
	switch {
	case err != nil && parent.Err() != nil:
		// Shutdown ended the call: it says nothing about the store (no failure
		// counted, the breaker untouched).
		w.dropped(len(entries))
	default:
		w.hooks.StoreCall(context.WithoutCancel(ctx), OpSet, len(entries), time.Since(start), err)
		w.breaker.record(err)
		if err != nil {
			w.hooks.WritesDropped(context.WithoutCancel(ctx), DropStoreError, int64(len(entries)))
		}
	}
	clear(buf)
	return buf[:0]
}

// dropped counts n writes dropped by shutdown.
func (w *writer) dropped(n int) {
	if n > 0 {
		w.hooks.WritesDropped(context.Background(), DropShutdown, int64(n))
	}
}

// dedupeEntries keeps the last entry of each key, in order of last appearance.
func dedupeEntries(buf []kvcache.Entry) []kvcache.Entry {
	last := make(map[string]int, len(buf))
	for i, e := range buf {
		last[e.Key] = i
	}
	if len(last) == len(buf) {
		return append([]kvcache.Entry(nil), buf...)
	}
	out := make([]kvcache.Entry, 0, len(last))
	for i, e := range buf {
		if last[e.Key] == i {
			out = append(out, e)
		}
	}
	return out
}
