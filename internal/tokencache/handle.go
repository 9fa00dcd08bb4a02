package tokencache // import "github.com/otelcol-custom/otelcol-custom/internal/tokencache"

import (
	"context"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Handle is the read side of a Refresher. All methods are safe for concurrent
// use. The request path only calls Current, which is a single atomic load: no
// lock, no allocation, no clock read, no I/O.
type Handle struct {
	cur atomic.Pointer[Entry]

	// invalidate carries coalesced Invalidate requests to the Refresher
	// goroutine (buffer 1: a send never blocks; extra requests are dropped
	// because one pending request already asks for the same fetch).
	invalidate chan struct{}

	initialWait time.Duration
	id          string
	kind        string

	lastErr atomic.Pointer[fetchError]

	mu sync.Mutex
	// changed is closed and replaced on every publish, so waiters wake up
	// without polling. Only the slow path (Wait, WaitChanged) touches it.
	changed chan struct{}
	// stopped is closed by Refresher.Shutdown so waiters return promptly.
	stopped  chan struct{}
	stopOnce sync.Once
}

type fetchError struct{ err error }

func newHandle(initialWait time.Duration, id, kind string) *Handle {
	return &Handle{
		invalidate:  make(chan struct{}, 1),
		initialWait: initialWait,
		id:          id,
		kind:        kind,
		changed:     make(chan struct{}),
		stopped:     make(chan struct{}),
	}
}

// Current returns the Entry being served, or nil before the first successful
// fetch and after the last good token expired without a replacement. It is an
// atomic load and never blocks. The returned Entry is shared and immutable.
func (h *Handle) Current() *Entry { return h.cur.Load() }

// Wait returns Current() when it is set. Otherwise it waits for the first
// Entry at most InitialWait (or until ctx is done, or the Refresher shuts
// down) and then fails with an error naming the extension ID, the credential
// kind and the last fetch error. The error never contains the secret.
func (h *Handle) Wait(ctx context.Context) (*Entry, error) {
	if e := h.cur.Load(); e != nil {
		return e, nil
	}
	return h.waitFor(ctx, func(e *Entry) bool { return e != nil }, "no credential available")
}

// WaitChanged waits, bounded by InitialWait and ctx, until an Entry is served
// whose header value differs from old's (old may be nil, then it behaves like
// Wait). It returns immediately when that is already the case. Used after an
// HTTP 401 together with Invalidate, so a request is retried only with a
// credential that is actually different.
func (h *Handle) WaitChanged(ctx context.Context, old *Entry) (*Entry, error) {
	differs := func(e *Entry) bool {
		return e != nil && (old == nil || e.HeaderValues[0] != old.HeaderValues[0])
	}
	if e := h.cur.Load(); differs(e) {
		return e, nil
	}
	return h.waitFor(ctx, differs, "credential did not change after the server rejected it")
}

// Invalidate asks the Refresher for an early fetch, e.g. after an HTTP 401.
// It never blocks. Requests are coalesced (many calls before the fetch starts
// cause one fetch) and rate-limited: at most one fetch caused by Invalidate
// per MinInvalidateInterval; a request inside that window is deferred to its
// end, not dropped.
func (h *Handle) Invalidate() {
	select {
	case h.invalidate <- struct{}{}:
	default:
	}
}

func (h *Handle) waitFor(ctx context.Context, ok func(*Entry) bool, what string) (*Entry, error) {
	var timeout <-chan time.Time
	if h.initialWait > 0 {
		t := time.NewTimer(h.initialWait)
		defer t.Stop()
		timeout = t.C
	} else {
		closed := make(chan time.Time)
		close(closed)
		timeout = closed
	}
	for {
		// Take the channel before loading the pointer: a publish between
		// the two closes this channel, so no wake-up is lost.
		h.mu.Lock()
		ch := h.changed
		h.mu.Unlock()
		if e := h.cur.Load(); ok(e) {
			return e, nil
		}
		select {
		case <-ch:
		case <-timeout:
			return nil, h.waitError(what, fmt.Errorf("waited %s", h.initialWait))
		case <-ctx.Done():
			return nil, h.waitError(what, ctx.Err())
		case <-h.stopped:
			return nil, h.waitError(what, errors.New("extension is shut down"))
		}
	}
}

// waitError builds the error returned by Wait: extension ID, kind, why the
// wait ended and the last fetch error. Fetch errors come from the Source,
// which must not put the secret into them; this package never does.
func (h *Handle) waitError(what string, why error) error {
	msg := fmt.Sprintf("%s: %s (%s credential): %v", h.id, what, h.kind, why)
	if fe := h.lastErr.Load(); fe != nil {
		return fmt.Errorf("%s; last fetch error: %w", msg, fe.err)
	}
	return errors.New(msg + "; the first fetch has not completed yet")
}

// publish stores e (nil withdraws the credential) and wakes up waiters.
func (h *Handle) publish(e *Entry) {
	h.cur.Store(e)
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

func (h *Handle) setLastErr(err error) {
	if err == nil {
		h.lastErr.Store(nil)
		return
	}
	h.lastErr.Store(&fetchError{err: err})
}

func (h *Handle) stop() { h.stopOnce.Do(func() { close(h.stopped) }) }

// NewEntry renders tok for the given header and scheme, exactly as the
// Refresher does at publish time: canonical header name, a header value slice
// with len == cap == 1, and a gRPC metadata map keyed by the lowercased header
// name. An empty scheme sends the raw token. Exposed for tests and benchmarks
// of code that consumes a Handle.
func NewEntry(tok Token, header, scheme string) *Entry {
	value := tok.Value
	if scheme != "" {
		value = scheme + " " + tok.Value
	}
	name := textproto.CanonicalMIMEHeaderKey(header)
	return &Entry{
		Token:        tok,
		HeaderName:   name,
		HeaderValues: []string{value},
		Metadata:     map[string]string{strings.ToLower(name): value},
	}
}
