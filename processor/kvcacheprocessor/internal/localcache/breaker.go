package localcache // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache"

import (
	"sync"
	"sync/atomic"
	"time"
)

// CircuitState is the state of the breaker; its value is the circuit_state metric's.
type CircuitState int32

const (
	CircuitClosed   CircuitState = 0
	CircuitOpen     CircuitState = 1
	CircuitHalfOpen CircuitState = 2
)

// breaker is a consecutive-failure circuit breaker: threshold failures in a row open
// it; while open no store call is made; after openFor one probe call is let through
// (half-open); its success closes the circuit, its failure opens it again for openFor.
//
// Hand-written: the logic is a few lines and the well-known libraries (sony/gobreaker)
// count in windows and wrap the call, while here the call runs inside otter's loader
// and the hot path only needs a lock-free "is it blocked" check.
type breaker struct {
	threshold int
	openFor   time.Duration
	now       func() time.Time
	onChange  func(state CircuitState, cause error)

	state     atomic.Int32
	openUntil atomic.Int64 // unix nanoseconds

	mu       sync.Mutex
	failures int
}

func newBreaker(threshold int, openFor time.Duration, now func() time.Time, onChange func(CircuitState, error)) *breaker {
	return &breaker{threshold: threshold, openFor: openFor, now: now, onChange: onChange}
}

// blocked reports, without side effects, whether a store call would be refused now.
func (b *breaker) blocked() bool {
	switch CircuitState(b.state.Load()) {
	case CircuitClosed:
		return false
	case CircuitHalfOpen:
		return true
	default:
		return b.now().UnixNano() < b.openUntil.Load()
	}
}

// allow reports whether a store call may be made now; when the circuit is open and
// its open duration has passed, the caller becomes the probe.
func (b *breaker) allow() bool {
	if b.threshold <= 0 || CircuitState(b.state.Load()) == CircuitClosed {
		return true
	}
	b.mu.Lock()
	st := CircuitState(b.state.Load())
	allowed := st == CircuitClosed
	if st == CircuitOpen && b.now().UnixNano() >= b.openUntil.Load() {
		b.state.Store(int32(CircuitHalfOpen))
		allowed = true
		st = CircuitHalfOpen
	} else {
		st = -1
	}
	b.mu.Unlock()
	if st == CircuitHalfOpen {
		b.onChange(CircuitHalfOpen, nil)
	}
	return allowed
}

// record reports the outcome of a store call.
func (b *breaker) record(err error) {
	if b.threshold <= 0 {
		return
	}
	b.mu.Lock()
	st := CircuitState(b.state.Load())
	changed := false
	if err == nil {
		b.failures = 0
		if st != CircuitClosed {
			b.state.Store(int32(CircuitClosed))
			changed, st = true, CircuitClosed
		}
	} else {
		b.failures++
		if st == CircuitHalfOpen || (st == CircuitClosed && b.failures >= b.threshold) {
			b.openUntil.Store(b.now().Add(b.openFor).UnixNano())
			b.state.Store(int32(CircuitOpen))
			changed, st = true, CircuitOpen
		}
	}
	b.mu.Unlock()
	if changed {
		b.onChange(st, err)
	}
}
