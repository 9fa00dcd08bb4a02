package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"context"
	"time"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
)

// Reasons a write is dropped (the `reason` metric attribute).
const (
	dropQueueFull   = "queue_full"
	dropCircuitOpen = "circuit_open"
	dropStoreError  = "store_error"
)

// writer sends queued writes to the store in batches, off the telemetry path. The
// queue is bounded: enqueue never blocks, a full queue drops the write.
type writer struct {
	p     *kvProcessor
	queue chan kvcache.Entry
	stopc chan context.Context
	done  chan struct{}
}

func newWriter(p *kvProcessor) *writer {
	return &writer{
		p:     p,
		queue: make(chan kvcache.Entry, p.cfg.WriteQueue.Size),
		stopc: make(chan context.Context),
		done:  make(chan struct{}),
	}
}

// enqueue adds a write without blocking; false when the queue is full.
func (w *writer) enqueue(e kvcache.Entry) bool {
	if w == nil {
		return false
	}
	select {
	case w.queue <- e:
		return true
	default:
		return false
	}
}

func (w *writer) run() {
	defer close(w.done)
	size := w.p.cfg.WriteQueue.BatchSize
	ticker := time.NewTicker(w.p.cfg.WriteQueue.FlushInterval)
	defer ticker.Stop()
	buf := make([]kvcache.Entry, 0, size)
	for {
		select {
		case e := <-w.queue:
			buf = append(buf, e)
			if len(buf) >= size {
				buf = w.flush(context.Background(), buf)
			}
		case <-ticker.C:
			if len(buf) > 0 {
				buf = w.flush(context.Background(), buf)
			}
		case ctx := <-w.stopc:
			// Shutdown: send what is queued, bounded by Shutdown's context.
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

// stop flushes the queue (bounded by ctx) and stops the writer.
func (w *writer) stop(ctx context.Context) {
	select {
	case w.stopc <- ctx:
	case <-w.done:
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
	p := w.p
	entries := dedupeEntries(buf)
	if !p.breaker.allow() {
		p.tb.ProcessorKvcacheWritesDropped.Add(ctx, int64(len(entries)), p.optsDropped[dropCircuitOpen])
		return buf[:0]
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.FetchTimeout)
	defer cancel()
	start := time.Now()
	err := p.store.Set(ctx, entries)
	p.recordStoreCall(ctx, p.optsSet, p.optsKeysSet, start, len(entries), err)
	p.breaker.record(err)
	if err != nil {
		p.tb.ProcessorKvcacheWritesDropped.Add(ctx, int64(len(entries)), p.optsDropped[dropStoreError])
	}
	clear(buf)
	return buf[:0]
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
