package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// errCircuitOpen is returned instead of calling a store whose circuit is open.
var errCircuitOpen = errors.New("kvcache store circuit breaker is open")

type circuitState int32

const (
	circuitClosed   circuitState = 0
	circuitOpen     circuitState = 1
	circuitHalfOpen circuitState = 2
)

func (s circuitState) String() string {
	switch s {
	case circuitOpen:
		return "open"
	case circuitHalfOpen:
		return "half-open"
	}
	return "closed"
}

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
	onChange  func(state circuitState, cause error)

	state     atomic.Int32
	openUntil atomic.Int64 // unix nanoseconds

	mu       sync.Mutex
	failures int
}

func newBreaker(threshold int, openFor time.Duration, now func() time.Time, onChange func(circuitState, error)) *breaker {
	return &breaker{threshold: threshold, openFor: openFor, now: now, onChange: onChange}
}

// blocked reports, without side effects, whether a store call would be refused now.
func (b *breaker) blocked() bool {
	switch circuitState(b.state.Load()) {
	case circuitClosed:
		return false
	case circuitHalfOpen:
		return true
	default:
		return b.now().UnixNano() < b.openUntil.Load()
	}
}

// isOpen reports whether the circuit is not closed.
func (b *breaker) isOpen() bool {
	return circuitState(b.state.Load()) != circuitClosed
}

// allow reports whether a store call may be made now; when the circuit is open and
// its open duration has passed, the caller becomes the probe.
func (b *breaker) allow() bool {
	if b.threshold <= 0 || circuitState(b.state.Load()) == circuitClosed {
		return true
	}
	b.mu.Lock()
	st := circuitState(b.state.Load())
	allowed := st == circuitClosed
	if st == circuitOpen && b.now().UnixNano() >= b.openUntil.Load() {
		b.state.Store(int32(circuitHalfOpen))
		allowed = true
		st = circuitHalfOpen
	} else {
		st = -1
	}
	b.mu.Unlock()
	if st == circuitHalfOpen {
		b.onChange(circuitHalfOpen, nil)
	}
	return allowed
}

// record reports the outcome of a store call.
func (b *breaker) record(err error) {
	if b.threshold <= 0 {
		return
	}
	b.mu.Lock()
	st := circuitState(b.state.Load())
	changed := false
	if err == nil {
		b.failures = 0
		if st != circuitClosed {
			b.state.Store(int32(circuitClosed))
			changed, st = true, circuitClosed
		}
	} else {
		b.failures++
		if st == circuitHalfOpen || (st == circuitClosed && b.failures >= b.threshold) {
			b.openUntil.Store(b.now().Add(b.openFor).UnixNano())
			b.state.Store(int32(circuitOpen))
			changed, st = true, circuitOpen
		}
	}
	b.mu.Unlock()
	if changed {
		b.onChange(st, err)
	}
}
