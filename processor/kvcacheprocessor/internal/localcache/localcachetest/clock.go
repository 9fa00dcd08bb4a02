// Package localcachetest holds test helpers for the local cache and its users.
package localcachetest // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache/localcachetest"

import (
	"sync/atomic"
	"time"
)

// Clock is a settable localcache.Clock; it never ticks (no periodic clean-up).
type Clock struct{ now atomic.Int64 }

// NewClock returns a Clock at 2025-01-01T00:00:00Z.
func NewClock() *Clock {
	c := &Clock{}
	c.now.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *Clock) NowNano() int64                      { return c.now.Load() }
func (c *Clock) Tick(time.Duration) <-chan time.Time { return nil }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.now.Add(int64(d)) }
