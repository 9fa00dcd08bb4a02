package rediskvext // import "github.com/otelcol-custom/otelcol-custom/extension/rediskvext"

import (
	"context"
	"fmt"
	"sync"
)

// clearer delivers "everything changed" invalidations to the subscribers on a
// goroutine of its own, not on rueidis' connection reader: a subscriber clears
// its whole local cache there (100k entries and more), and the reader would
// deliver no reply meanwhile, stalling every call on the connection.
//
// Requests are coalesced: while one delivery is running, any number of new
// requests lead to exactly one more, which is all a subscriber needs (it
// clears everything either way).
type clearer struct {
	subs    *subscribers
	pending chan struct{} // holds at most one request
	stopc   chan struct{}
	stopped sync.Once
	done    chan struct{}
}

func startClearer(subs *subscribers) *clearer {
	c := &clearer{
		subs:    subs,
		pending: make(chan struct{}, 1),
		stopc:   make(chan struct{}),
		done:    make(chan struct{}),
	}
	go c.run()
	return c
}

// request asks for one delivery; it never blocks.
func (c *clearer) request() {
	select {
	case c.pending <- struct{}{}:
	default: // one is already pending: it covers this one
	}
}

func (c *clearer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stopc:
			return
		case <-c.pending:
			c.subs.publish(nil)
		}
	}
}

// stop ends the goroutine, waiting for a delivery in progress until ctx is
// done. Safe to call more than once.
func (c *clearer) stop(ctx context.Context) error {
	c.stopped.Do(func() { close(c.stopc) })
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("rediskv: an invalidation subscriber is still clearing its cache: %w", ctx.Err())
	}
}
