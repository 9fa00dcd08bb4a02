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

	// accepted is set by the request path when a server accepted the
	// credential (ReportAccepted) and cleared by the Refresher when it counts
	// a rejection-driven fetch: a success in between ends the backoff streak.
	accepted atomic.Bool

	mu sync.Mutex
	// asked counts Invalidate calls; answered is the highest count the
	// Refresher has answered, either by finishing the fetch that served it or
	// by deferring it (rate limit, backoff). A waiter after a 401 waits only
	// until its call is answered: no wait when no fetch can change anything.
	asked, answered uint64
	// changed is closed and replaced on every publish, so waiters wake up
	// without polling. Only the slow path (Wait, InvalidateAndWait) touches it.
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

// Invalidate asks the Refresher for an early fetch, e.g. after an HTTP 401.
// It never waits for the fetch. Requests are coalesced (many calls before the
// fetch starts cause one fetch) and rate-limited: consecutive fetches caused
// by Invalidate are MinInvalidateInterval apart, doubling after each one up
// to the token's lifetime until a server accepts the credential again
// (ReportAccepted) or a fetch not caused by Invalidate brings a new one. A
// request inside that window is deferred to its end, not dropped.
func (h *Handle) Invalidate() { h.ask() }

func (h *Handle) ask() uint64 {
	h.mu.Lock()
	h.asked++
	n := h.asked
	h.mu.Unlock()
	select {
	case h.invalidate <- struct{}{}:
	default:
	}
	return n
}

// InvalidateAndWait calls Invalidate and then waits for a credential whose
// header value differs from old's. It waits only while a fetch that serves
// this request is in flight: it fails as soon as that fetch ends with the same
// credential, or at once when the request is deferred by the rate limit (a
// static token, an unchanged file or a cached token cannot change, so the
// caller gets its 401 back in microseconds, not after InitialWait). The wait
// is also bounded by InitialWait and ctx.
func (h *Handle) InvalidateAndWait(ctx context.Context, old *Entry) (*Entry, error) {
	n := h.ask()
	differs := func(e *Entry) bool {
		return e != nil && (old == nil || e.HeaderValues[0] != old.HeaderValues[0])
	}
	e, err := h.waitFor(ctx, func(e *Entry) bool { return differs(e) || h.answeredAtLeast(n) },
		"credential did not change after the server rejected it")
	if err != nil {
		return nil, err
	}
	if !differs(e) {
		return nil, fmt.Errorf("%s: credential did not change after the server rejected it (%s credential): the refresh it asked for returned the same credential or was deferred by the rate limit", h.id, h.kind)
	}
	return e, nil
}

// ReportAccepted tells the Refresher that a server accepted the credential,
// which resets the backoff of Invalidate-driven fetches. It is on the request
// path: one atomic load, and a store only on the first call after a
// rejection-driven fetch.
func (h *Handle) ReportAccepted() {
	if !h.accepted.Load() {
		h.accepted.Store(true)
	}
}

func (h *Handle) answeredAtLeast(n uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.answered >= n
}

// pending returns the number of Invalidate calls made so far; a fetch or a
// deferral decided now answers all of them.
func (h *Handle) pending() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.asked
}

// answer records that the Invalidate calls up to n are answered and wakes up
// waiters.
func (h *Handle) answer(n uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n <= h.answered {
		return
	}
	h.answered = n
	close(h.changed)
	h.changed = make(chan struct{})
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
