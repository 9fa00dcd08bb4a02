package tokencache // import "github.com/otelcol-custom/otelcol-custom/internal/tokencache"

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-custom/otelcol-custom/internal/tokencache/internal/metadata"
)

// Settings identifies the credential a Refresher manages.
type Settings struct {
	// ID is the extension's ID; it names the credential in errors and logs.
	// Metrics need no ID attribute: the collector's TelemetrySettings already
	// add otelcol.component.id to every measurement of the extension.
	ID component.ID
	// Telemetry is the extension's TelemetrySettings (logger, meter provider).
	Telemetry component.TelemetrySettings
	// Kind names the credential kind in errors and logs: "static", "file",
	// "managed_identity", ...
	Kind string
	// Header is the header name; default "Authorization".
	Header string
	// Scheme prefixes the token ("Bearer"); empty sends the raw token.
	Scheme string
}

// Refresher owns all credential I/O of one extension. Start launches one
// goroutine that:
//
//   - fetches immediately (Start itself never waits for the Source);
//   - after a success, publishes a freshly rendered Entry (unless the token is
//     unchanged) and schedules the next fetch: at Token.RefreshAt when set and
//     in the future, else BeforeExpiry ahead of Token.Expiry (at most half the
//     remaining lifetime), else after Interval when the expiry is unknown. When
//     the Source is a Notifier, Interval also caps the delay (fallback re-read)
//     and each signal causes a prompt fetch;
//   - after a failure, keeps serving the last good Entry and retries with
//     exponential backoff and decorrelated jitter between InitialBackoff and
//     MaxBackoff; when the served Entry reaches its Expiry, it publishes nil
//     (from a timer in this goroutine, so the request path never reads the
//     clock);
//   - serves Invalidate requests, coalesced and rate-limited by
//     MinInvalidateInterval, doubling for consecutive ones up to the token's
//     lifetime (reset when a server accepts the credential again or another
//     fetch brings a new one); each request is answered when the fetch that
//     serves it ends, or at once when it is deferred;
//   - reports componentstatus (a recoverable error when fetching starts to
//     fail, OK when it recovers: once per state change, not per retry) and
//     logs each state change once;
//   - records the metrics described in documentation.md.
//
// State machine of the goroutine (the Entry served is independent of the
// state: it stays until replaced or expired):
//
//	Start                      -> Fetching
//	Fetching  --ok-->             Fresh    publish the Entry if the token changed;
//	                                       next = refresh-ahead; status OK if it was Failing
//	Fetching  --error-->          Failing  keep the Entry; next = now + backoff;
//	                                       status RecoverableError when entering
//	Fresh|Failing --timer at next, Notifier signal,
//	                Invalidate (rate-limited)--> Fetching
//	Fresh|Failing --timer at Entry expiry-->   same state, Entry = nil
//	any       --Shutdown-->       stopped  (the Fetch context is canceled)
type Refresher struct {
	src      Source
	notifier Notifier
	cfg      Config
	set      Settings
	header   string
	scheme   string
	h        *Handle
	logger   *zap.Logger
	tb       *metadata.TelemetryBuilder

	attrSuccess metric.MeasurementOption
	attrFailure metric.MeasurementOption

	// jitter returns a uniform value in [0, 1); replaced in tests.
	jitter func() float64

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// New creates a Refresher for src. cfg must be valid; set.Header defaults to
// "Authorization".
func New(src Source, cfg Config, set Settings) (*Refresher, error) {
	if src == nil {
		return nil, errors.New("tokencache: nil Source")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("refresh: %w", err) // as confmap.Validate prints it for the refresh block
	}
	header := set.Header
	if header == "" {
		header = "Authorization"
	}
	if err := ValidateHeader(header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if err := ValidateScheme(set.Scheme); err != nil {
		return nil, fmt.Errorf("scheme: %w", err)
	}
	logger := set.Telemetry.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	r := &Refresher{
		src:         src,
		cfg:         cfg,
		set:         set,
		header:      header,
		scheme:      set.Scheme,
		h:           newHandle(cfg.InitialWait, set.ID.String(), set.Kind),
		logger:      logger.With(zap.String("extension", set.ID.String()), zap.String("kind", set.Kind)),
		attrSuccess: metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "success"))),
		attrFailure: metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "failure"))),
		jitter:      rand.Float64,
	}
	r.notifier, _ = src.(Notifier)
	if set.Telemetry.MeterProvider != nil {
		tb, err := metadata.NewTelemetryBuilder(set.Telemetry)
		if err != nil {
			return nil, err
		}
		if err := tb.RegisterAuthTokenTimeUntilExpiryCallback(r.observeExpiry); err != nil {
			tb.Shutdown()
			return nil, err
		}
		r.tb = tb
	}
	return r, nil
}

// Handle returns the read handle; it is valid before Start and after Shutdown.
func (r *Refresher) Handle() *Handle { return r.h }

// Start launches the refresh goroutine and returns at once: it never waits for
// the Source. The goroutine outlives ctx (as the collector requires for
// Start's context) and ends at Shutdown. host receives status events.
func (r *Refresher) Start(ctx context.Context, host component.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("tokencache: Refresher started twice")
	}
	select {
	case <-r.h.stopped:
		return errors.New("tokencache: Refresher started after Shutdown")
	default:
	}
	r.started = true
	var changes <-chan struct{}
	if r.notifier != nil {
		changes = r.notifier.Changes()
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = cancel
	r.done = make(chan struct{})
	go r.run(runCtx, host, changes)
	return nil
}

// Shutdown stops the goroutine: it cancels the context of a Fetch in progress
// (so a hanging Fetch that honours its context ends at once) and waits for the
// goroutine to exit, or for ctx. Waiters on the Handle return an error.
// Shutdown without Start, or twice, is fine.
func (r *Refresher) Shutdown(ctx context.Context) error {
	r.h.stop()
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if r.tb != nil {
		defer r.tb.Shutdown()
	}
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: credential refresher did not stop: %w", r.set.ID, ctx.Err())
	}
}

// loopState is owned by the goroutine.
type loopState struct {
	host           component.Host
	nextFetch      time.Time
	failing        bool          // last fetch failed (status is RecoverableError)
	prevBackoff    time.Duration // 0 when not in backoff
	lastInvalidate time.Time     // start of the last fetch that served an Invalidate
	invalidateDue  bool          // the next fetch serves an Invalidate
	// streak counts consecutive Invalidate-driven fetches without a server
	// accepting the credential in between (Handle.ReportAccepted) and without
	// a new credential from another fetch; the window between two of them
	// doubles with each (invalidateWindow).
	streak int
	// lifetime is the served token's lifetime when it was fetched (0:
	// unknown); it caps the invalidation window.
	lifetime      time.Duration
	expiredLogged bool
}

func (r *Refresher) run(ctx context.Context, host component.Host, changes <-chan struct{}) {
	defer close(r.done)
	st := &loopState{host: host}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	fetchNow := true
	for {
		if fetchNow {
			fetchNow = false
			r.fetch(ctx, st, changes)
			if ctx.Err() != nil {
				return
			}
		}
		timer.Reset(time.Until(r.wakeAt(st)))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			now := time.Now()
			r.expireIfDue(now, st)
			fetchNow = !now.Before(st.nextFetch)
		case <-changes:
			fetchNow = true
		case <-r.h.invalidate:
			covered := r.h.pending()
			if fetchNow = r.onInvalidate(time.Now(), st); !fetchNow {
				// Deferred: no fetch is in flight for these requests, so
				// a waiting request gets its answer (the 401) now.
				r.h.answer(covered)
			}
		}
	}
}

// wakeAt is the next fetch time, or the served Entry's expiry when earlier.
func (r *Refresher) wakeAt(st *loopState) time.Time {
	wake := st.nextFetch
	if e := r.h.Current(); e != nil && !e.Token.Expiry.IsZero() && e.Token.Expiry.Before(wake) {
		wake = e.Token.Expiry
	}
	return wake
}

// onInvalidate applies the rate limit: fetch now if the last Invalidate-driven
// fetch is at least invalidateWindow ago, else bring the next fetch forward to
// the end of that window.
func (r *Refresher) onInvalidate(now time.Time, st *loopState) bool {
	if r.h.accepted.Load() {
		st.streak = 0 // a server accepted the credential since the last one
	}
	allowed := st.lastInvalidate.Add(r.invalidateWindow(st))
	if st.lastInvalidate.IsZero() || !now.Before(allowed) {
		st.invalidateDue = true
		return true
	}
	if allowed.Before(st.nextFetch) {
		st.nextFetch = allowed
		st.invalidateDue = true
	}
	return false
}

// invalidateWindow is the minimum time between two Invalidate-driven fetches:
// MinInvalidateInterval after the first, doubling with each consecutive one
// (a persistent 401 must not make the identity provider issue a token every
// few seconds forever), capped at the token's lifetime, or at Interval when
// the lifetime is unknown (the token is re-read that often anyway), and never
// below MinInvalidateInterval. Hand-written: it is a shift and two bounds.
func (r *Refresher) invalidateWindow(st *loopState) time.Duration {
	base := r.cfg.MinInvalidateInterval
	if st.streak <= 1 || base <= 0 {
		return base
	}
	limit := st.lifetime
	if limit <= 0 {
		limit = r.cfg.Interval
	}
	limit = max(limit, base)
	d := base
	for i := 1; i < st.streak && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func (r *Refresher) expireIfDue(now time.Time, st *loopState) {
	e := r.h.Current()
	if e == nil || e.Token.Expiry.IsZero() || now.Before(e.Token.Expiry) {
		return
	}
	r.h.publish(nil)
	if !st.expiredLogged {
		st.expiredLogged = true
		r.logger.Warn("Credential expired and no fresh one could be fetched; requests fail until a fetch succeeds")
	}
}

// fetch performs one Fetch and updates the handle, status, logs, metrics and
// st.nextFetch.
func (r *Refresher) fetch(ctx context.Context, st *loopState, changes <-chan struct{}) {
	start := time.Now()
	// This fetch satisfies every request made before it starts, and answers
	// the requests waiting for it when it ends (whatever its outcome).
	// Drain before reading the count: Invalidate counts before it signals,
	// so every request counted here either was drained or is still signalled.
	invalidated := drain(r.h.invalidate) || st.invalidateDue
	covered := r.h.pending()
	defer r.h.answer(covered)
	if invalidated {
		st.lastInvalidate = start
		st.invalidateDue = false
		if r.h.accepted.Swap(false) {
			st.streak = 0
		}
		st.streak++
		if r.tb != nil {
			r.tb.AuthTokenRejectedRefreshes.Add(ctx, 1)
		}
	}
	drain(changes)

	tok, err := r.src.Fetch(ctx)
	end := time.Now()
	if ctx.Err() != nil {
		return // shutting down: not an outcome worth recording
	}
	if err == nil {
		err = validateToken(tok, end)
	}
	r.record(ctx, end.Sub(start), err)
	if err != nil {
		r.onFailure(err, end, st)
		return
	}
	r.onSuccess(tok, end, st, invalidated)
}

func (r *Refresher) onFailure(err error, now time.Time, st *loopState) {
	r.h.setLastErr(err)
	st.prevBackoff = r.nextBackoff(st.prevBackoff)
	st.nextFetch = now.Add(st.prevBackoff)
	if st.failing {
		r.logger.Debug("Credential fetch failed again", zap.Error(err), zap.Duration("retry_in", st.prevBackoff))
		return
	}
	st.failing = true
	r.logger.Warn("Credential fetch failed; serving the last good credential until it expires and retrying with backoff",
		zap.Error(err), zap.Duration("retry_in", st.prevBackoff))
	componentstatus.ReportStatus(st.host, componentstatus.NewRecoverableErrorEvent(
		fmt.Errorf("%s: %s credential fetch failed: %w", r.set.ID, r.set.Kind, err)))
}

func (r *Refresher) onSuccess(tok Token, now time.Time, st *loopState, invalidated bool) {
	r.h.setLastErr(nil)
	st.prevBackoff = 0
	st.expiredLogged = false
	if cur := r.h.Current(); cur == nil || !sameToken(cur.Token, tok) {
		r.h.publish(NewEntry(tok, r.header, r.scheme))
		st.lifetime = 0
		if !tok.Expiry.IsZero() {
			st.lifetime = tok.Expiry.Sub(now)
		}
		if !invalidated {
			// A new credential that a 401 did not ask for (a rotated
			// file, a scheduled refresh) deserves a prompt retry.
			st.streak = 0
		}
	}
	st.nextFetch = r.nextRefresh(tok, now)
	if st.failing {
		st.failing = false
		r.logger.Info("Credential fetch recovered")
		componentstatus.ReportStatus(st.host, componentstatus.NewEvent(componentstatus.StatusOK))
	}
}

// nextRefresh schedules the fetch after a successful one (see Refresher).
func (r *Refresher) nextRefresh(tok Token, now time.Time) time.Time {
	var next time.Time
	switch {
	case !tok.RefreshAt.IsZero() && tok.RefreshAt.After(now) &&
		(tok.Expiry.IsZero() || tok.RefreshAt.Before(tok.Expiry)):
		next = tok.RefreshAt
	case !tok.Expiry.IsZero():
		lead := min(r.cfg.BeforeExpiry, tok.Expiry.Sub(now)/2)
		next = tok.Expiry.Add(-lead)
	default:
		return now.Add(r.cfg.Interval)
	}
	if r.notifier != nil {
		if fallback := now.Add(r.cfg.Interval); fallback.Before(next) {
			next = fallback
		}
	}
	return next
}

// nextBackoff implements "decorrelated jitter" (AWS Architecture Blog,
// "Exponential Backoff And Jitter"): uniform in [InitialBackoff, 3*prev],
// capped at MaxBackoff. Hand-written because the libraries at hand
// (cenkalti/backoff, x/time/rate) offer only proportional jitter, and this is
// a few lines that need the injectable random source for tests anyway.
func (r *Refresher) nextBackoff(prev time.Duration) time.Duration {
	lo, hi := r.cfg.InitialBackoff, r.cfg.MaxBackoff
	if prev <= 0 {
		return lo
	}
	upper := min(hi, 3*prev)
	if upper <= lo {
		return lo
	}
	return lo + time.Duration(r.jitter()*float64(upper-lo))
}

func (r *Refresher) record(ctx context.Context, d time.Duration, err error) {
	if r.tb == nil {
		return
	}
	attrs := r.attrSuccess
	if err != nil {
		attrs = r.attrFailure
	}
	r.tb.AuthTokenRefreshAttempts.Add(ctx, 1, attrs)
	r.tb.AuthTokenRefreshDuration.Record(ctx, d.Seconds(), attrs)
}

// observeExpiry runs on the metric reader's goroutine, not the request path.
func (r *Refresher) observeExpiry(_ context.Context, o metric.Float64Observer) error {
	e := r.h.Current()
	if e == nil || e.Token.Expiry.IsZero() {
		return nil
	}
	o.Observe(max(0, time.Until(e.Token.Expiry).Seconds()))
	return nil
}

// maxTokenLength bounds a token from any Source (a token endpoint's body may
// be 1 MiB). Real access tokens are a few KiB; many servers refuse header
// lines above 8-16 KiB (this project's own at 16 KiB), with a status exporters
// do not retry, while a fetch failure keeps the data queued until a usable
// token comes.
const maxTokenLength = 64 << 10

// validateToken rejects what would break or be useless on the wire. The
// errors never contain the token.
func validateToken(tok Token, now time.Time) error {
	if tok.Value == "" {
		return errors.New("source returned an empty token")
	}
	if len(tok.Value) > maxTokenLength {
		return fmt.Errorf("source returned a token of %d bytes; the limit is %d", len(tok.Value), maxTokenLength)
	}
	for i := 0; i < len(tok.Value); i++ {
		// Visible ASCII and space: valid in an HTTP header value and in
		// gRPC metadata (which refuses anything else).
		if c := tok.Value[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("token contains a byte not allowed in a header value at offset %d", i)
		}
	}
	if !tok.Expiry.IsZero() && !tok.Expiry.After(now) {
		return fmt.Errorf("source returned a token that already expired at %s", tok.Expiry.UTC().Format(time.RFC3339))
	}
	return nil
}

func sameToken(a, b Token) bool {
	return a.Value == b.Value && a.Expiry.Equal(b.Expiry) && a.RefreshAt.Equal(b.RefreshAt)
}

func drain(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
