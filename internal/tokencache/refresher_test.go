package tokencache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/internal/statustest"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache/internal/metadatatest"
)

// Tests run inside testing/synctest bubbles: time is virtual and
// synctest.Wait returns once the refresher goroutine is blocked, so schedules
// are asserted exactly and without sleeping for real.

const secret = "s3cr3t-t0ken-value"

var testID = component.MustNewIDWithName("bearerauth", "client")

type result struct {
	tok Token
	err error
}

// scriptSource returns its script in order and repeats the last result.
type scriptSource struct {
	mu     sync.Mutex
	script []result
	calls  []time.Time
}

func (s *scriptSource) Fetch(context.Context) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, time.Now())
	r := s.script[min(len(s.calls), len(s.script))-1]
	return r.tok, r.err
}

func (s *scriptSource) callTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.calls...)
}

func (s *scriptSource) count() int { return len(s.callTimes()) }

// offsets returns the call times relative to t0.
func (s *scriptSource) offsets(t0 time.Time) []time.Duration {
	var out []time.Duration
	for _, c := range s.callTimes() {
		out = append(out, c.Sub(t0))
	}
	return out
}

type notifySource struct {
	scriptSource
	ch chan struct{}
}

func (n *notifySource) Changes() <-chan struct{} { return n.ch }

type fixture struct {
	r    *Refresher
	host *statustest.Host
	logs *observer.ObservedLogs
}

type opts struct {
	cfg    func(*Config)
	set    func(*Settings)
	jitter func() float64
}

func start(t *testing.T, src Source, mutate func(*Config)) *fixture {
	t.Helper()
	return startWith(t, src, opts{cfg: mutate})
}

func startWith(t *testing.T, src Source, o opts) *fixture {
	t.Helper()
	cfg := NewDefaultConfig()
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	ts := componenttest.NewNopTelemetrySettings()
	ts.Logger = zap.New(core)
	s := Settings{ID: testID, Telemetry: ts, Kind: "file", Scheme: "Bearer"}
	if o.set != nil {
		o.set(&s)
	}
	r, err := New(src, cfg, s)
	require.NoError(t, err)
	if o.jitter != nil {
		r.jitter = o.jitter
	}
	host := statustest.NewHost()
	require.NoError(t, r.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return &fixture{r: r, host: host, logs: logs}
}

func ok(value string, expiry time.Time) result {
	return result{tok: Token{Value: value, Expiry: expiry}}
}

func fail(msg string) result { return result{err: errors.New(msg)} }

func TestStartFetchesImmediatelyAndRenders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &scriptSource{script: []result{ok(secret, time.Time{})}}
		f := startWith(t, src, opts{set: func(s *Settings) { s.Header = "x-api-key" }})
		synctest.Wait()
		e := f.r.Handle().Current()
		require.NotNil(t, e)
		assert.Equal(t, "X-Api-Key", e.HeaderName)
		assert.Equal(t, []string{"Bearer " + secret}, e.HeaderValues)
		assert.Equal(t, 1, cap(e.HeaderValues))
		assert.Equal(t, map[string]string{"x-api-key": "Bearer " + secret}, e.Metadata)
		assert.Equal(t, "Bearer "+secret, e.HeaderValue())
	})
}

func TestStartDoesNotWaitForSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		src := SourceFunc(func(ctx context.Context) (Token, error) {
			<-release
			return Token{Value: secret}, nil
		})
		f := start(t, src, nil) // would deadlock the bubble if Start waited
		assert.Nil(t, f.r.Handle().Current())
		close(release)
		synctest.Wait()
		assert.NotNil(t, f.r.Handle().Current())
	})
}

func TestNewEntryRawScheme(t *testing.T) {
	e := NewEntry(Token{Value: "abc"}, "authorization", "")
	assert.Equal(t, "Authorization", e.HeaderName)
	assert.Equal(t, []string{"abc"}, e.HeaderValues)
	assert.Equal(t, map[string]string{"authorization": "abc"}, e.Metadata)
}

func TestNextRefresh(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := NewDefaultConfig() // before_expiry 5m, interval 1m
	tests := []struct {
		name     string
		tok      Token
		notifier bool
		want     time.Duration
	}{
		{name: "unknown expiry uses interval", tok: Token{Value: "x"}, want: time.Minute},
		{name: "long lifetime: before_expiry ahead", tok: Token{Value: "x", Expiry: now.Add(time.Hour)}, want: 55 * time.Minute},
		{name: "short lifetime: capped at half", tok: Token{Value: "x", Expiry: now.Add(4 * time.Minute)}, want: 2 * time.Minute},
		{
			name: "refresh_at wins", want: 10 * time.Minute,
			tok: Token{Value: "x", Expiry: now.Add(time.Hour), RefreshAt: now.Add(10 * time.Minute)},
		},
		{
			name: "refresh_at in the past ignored", want: 55 * time.Minute,
			tok: Token{Value: "x", Expiry: now.Add(time.Hour), RefreshAt: now.Add(-time.Minute)},
		},
		{
			name: "refresh_at after expiry ignored", want: 55 * time.Minute,
			tok: Token{Value: "x", Expiry: now.Add(time.Hour), RefreshAt: now.Add(2 * time.Hour)},
		},
		{name: "notifier: interval caps as fallback re-read", tok: Token{Value: "x", Expiry: now.Add(time.Hour)}, notifier: true, want: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Refresher{cfg: cfg}
			if tt.notifier {
				r.notifier = &notifySource{}
			}
			assert.Equal(t, tt.want, r.nextRefresh(tt.tok, now).Sub(now))
		})
	}
}

func TestRefreshAtHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		src := &scriptSource{script: []result{
			{tok: Token{Value: "a", Expiry: t0.Add(time.Hour), RefreshAt: t0.Add(7 * time.Minute)}},
			ok("b", t0.Add(2*time.Hour)),
		}}
		f := start(t, src, nil)
		time.Sleep(7*time.Minute - time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, 1, src.count())
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, []time.Duration{0, 7 * time.Minute}, src.offsets(t0))
		assert.Equal(t, "Bearer b", f.r.Handle().Current().HeaderValue())
	})
}

func TestRefreshAheadOfExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		src := &scriptSource{script: []result{ok("a", t0.Add(time.Hour)), ok("b", t0.Add(62*time.Minute))}}
		start(t, src, nil)
		time.Sleep(58*time.Minute + 30*time.Second)
		synctest.Wait()
		// 55m: 5m before the first expiry; then the second token has 7m
		// left, so the lead is capped at half of it: 3m30s.
		assert.Equal(t, []time.Duration{0, 55 * time.Minute, 58*time.Minute + 30*time.Second}, src.offsets(t0))
	})
}

func TestBackoffBounds(t *testing.T) {
	cfg := NewDefaultConfig()
	r := &Refresher{cfg: cfg, jitter: rand.Float64}
	for range 200 {
		prev := time.Duration(0)
		for range 20 {
			d := r.nextBackoff(prev)
			require.GreaterOrEqual(t, d, cfg.InitialBackoff)
			require.LessOrEqual(t, d, cfg.MaxBackoff)
			if prev > 0 {
				require.LessOrEqual(t, d, 3*prev)
			}
			prev = d
		}
	}
}

func TestBackoffJitterExtremes(t *testing.T) {
	cfg := NewDefaultConfig() // 1s .. 1m
	upper := &Refresher{cfg: cfg, jitter: func() float64 { return 1 }}
	lower := &Refresher{cfg: cfg, jitter: func() float64 { return 0 }}
	var gotUpper, gotLower []time.Duration
	pu, pl := time.Duration(0), time.Duration(0)
	for range 6 {
		pu, pl = upper.nextBackoff(pu), lower.nextBackoff(pl)
		gotUpper, gotLower = append(gotUpper, pu), append(gotLower, pl)
	}
	s := time.Second
	assert.Equal(t, []time.Duration{s, 3 * s, 9 * s, 27 * s, time.Minute, time.Minute}, gotUpper)
	assert.Equal(t, []time.Duration{s, s, s, s, s, s}, gotLower)
}

func TestBackoffScheduleAndServeLastGood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		src := &scriptSource{script: []result{ok(secret, t0.Add(10*time.Minute)), fail("connection refused")}}
		f := startWith(t, src, opts{
			cfg:    func(c *Config) { c.BeforeExpiry = 2 * time.Minute },
			jitter: func() float64 { return 1 },
		})
		synctest.Wait()
		first := f.r.Handle().Current()
		require.NotNil(t, first)

		time.Sleep(10*time.Minute - time.Nanosecond)
		synctest.Wait()
		// Refresh at 8m, then backoff 1s, 3s, 9s, 27s, 60s, 60s... all failing.
		m8 := 8 * time.Minute
		s := time.Second
		want := []time.Duration{0, m8, m8 + s, m8 + 4*s, m8 + 13*s, m8 + 40*s, m8 + 100*s}
		assert.Equal(t, want, src.offsets(t0))
		assert.Same(t, first, f.r.Handle().Current(), "last good entry is served while fetches fail")

		time.Sleep(time.Nanosecond) // reach the expiry
		synctest.Wait()
		assert.Nil(t, f.r.Handle().Current(), "expired entry is withdrawn")
		assert.Len(t, src.callTimes(), len(want), "expiry itself causes no fetch")

		// One warning for the failure, one for the expiry: not one per retry.
		assert.Equal(t, 1, f.logs.FilterMessageSnippet("fetch failed;").Len())
		assert.Equal(t, 1, f.logs.FilterMessageSnippet("expired").Len())
		for _, l := range f.logs.All() {
			assert.NotContains(t, l.Message, secret)
			for _, fld := range l.Context {
				assert.NotContains(t, fld.String, secret)
				if e, ok := fld.Interface.(error); ok {
					assert.NotContains(t, e.Error(), secret)
				}
			}
		}
		warn := f.logs.FilterMessageSnippet("fetch failed;").All()[0].ContextMap()
		assert.Equal(t, "file", warn["kind"])
		assert.Equal(t, testID.String(), warn["extension"])
	})
}

func TestSameTokenKeepsEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &scriptSource{script: []result{ok("a", time.Time{}), ok("a", time.Time{}), ok("b", time.Time{})}}
		f := start(t, src, nil)
		synctest.Wait()
		e1 := f.r.Handle().Current()
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Same(t, e1, f.r.Handle().Current(), "unchanged token: no new entry")
		time.Sleep(time.Minute)
		synctest.Wait()
		e3 := f.r.Handle().Current()
		assert.NotSame(t, e1, e3)
		assert.Equal(t, "Bearer a", e1.HeaderValue(), "a published entry is never modified")
		assert.Equal(t, map[string]string{"authorization": "Bearer a"}, e1.Metadata)
		assert.Equal(t, "Bearer b", e3.HeaderValue())
	})
}

func TestInvalidTokensAreFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		for _, bad := range []result{
			ok("", time.Time{}),
			ok(secret+"\r\nX-Evil: 1", time.Time{}),
			ok(secret+"\x7f", time.Time{}),
			ok(strings.Repeat("a", maxTokenLength+1), time.Time{}),
			ok(secret, t0.Add(-time.Second)),
		} {
			src := &scriptSource{script: []result{bad}}
			r, err := New(src, NewDefaultConfig(), Settings{ID: testID, Telemetry: componenttest.NewNopTelemetrySettings(), Kind: "file"})
			require.NoError(t, err)
			require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
			synctest.Wait()
			assert.Nil(t, r.Handle().Current())
			_, werr := r.Handle().Wait(context.Background())
			require.Error(t, werr)
			assert.NotContains(t, werr.Error(), secret)
			assert.Contains(t, werr.Error(), "last fetch error")
			require.NoError(t, r.Shutdown(context.Background()))
		}
	})
}

func TestNotifierTriggersFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		src := &notifySource{ch: make(chan struct{}, 1), scriptSource: scriptSource{script: []result{ok("a", time.Time{}), ok("b", time.Time{})}}}
		f := start(t, src, nil)
		synctest.Wait()
		time.Sleep(10 * time.Second)
		src.ch <- struct{}{}
		synctest.Wait()
		assert.Equal(t, []time.Duration{0, 10 * time.Second}, src.offsets(t0))
		assert.Equal(t, "Bearer b", f.r.Handle().Current().HeaderValue())
		// The periodic re-read continues as a fallback.
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, []time.Duration{0, 10 * time.Second, 70 * time.Second}, src.offsets(t0))
	})
}

func TestNotifierCutsBackoffShort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &notifySource{ch: make(chan struct{}, 1), scriptSource: scriptSource{script: []result{fail("no such file"), ok("a", time.Time{})}}}
		f := start(t, src, func(c *Config) { c.InitialBackoff = time.Hour; c.MaxBackoff = time.Hour })
		synctest.Wait()
		assert.Nil(t, f.r.Handle().Current())
		src.ch <- struct{}{}
		synctest.Wait()
		assert.NotNil(t, f.r.Handle().Current(), "a file change is fetched at once, not after the backoff")
	})
}

func TestInvalidateRateLimitAndCoalescing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		src := &scriptSource{script: []result{ok("a", time.Time{})}}
		f := start(t, src, func(c *Config) { c.MinInvalidateInterval = 5 * time.Second })
		h := f.r.Handle()
		synctest.Wait()
		require.Equal(t, 1, src.count())

		h.Invalidate() // first one: served at once
		synctest.Wait()
		assert.Equal(t, []time.Duration{0, 0}, src.offsets(t0))

		for range 100 { // a 401 storm: never blocks, coalesced, deferred to the window's end
			h.Invalidate()
		}
		synctest.Wait()
		time.Sleep(5*time.Second - time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, 2, src.count())
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, []time.Duration{0, 0, 5 * time.Second}, src.offsets(t0))

		// Nothing pending: the next fetch is the periodic one.
		time.Sleep(time.Minute - time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, 3, src.count())

		// A later Invalidate, outside the window, is again served at once.
		h.Invalidate()
		synctest.Wait()
		assert.Equal(t, 4, src.count())
	})
}

func TestInvalidateBeforeStartIsCoalescedIntoFirstFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &scriptSource{script: []result{ok("a", time.Time{})}}
		r, err := New(src, NewDefaultConfig(), Settings{ID: testID, Telemetry: componenttest.NewNopTelemetrySettings(), Kind: "static"})
		require.NoError(t, err)
		for range 10 {
			r.Handle().Invalidate()
		}
		require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
		synctest.Wait()
		assert.Equal(t, 1, src.count())
		require.NoError(t, r.Shutdown(context.Background()))
	})
}

func TestWaitTimeoutError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &scriptSource{script: []result{fail("open /var/run/token: permission denied")}}
		f := start(t, src, func(c *Config) { c.InitialWait = 3 * time.Second })
		t0 := time.Now()
		e, err := f.r.Handle().Wait(context.Background())
		assert.Nil(t, e)
		require.Error(t, err)
		assert.Equal(t, 3*time.Second, time.Since(t0), "waits exactly initial_wait")
		msg := err.Error()
		assert.Contains(t, msg, "bearerauth/client")
		assert.Contains(t, msg, "file credential")
		assert.Contains(t, msg, "waited 3s")
		assert.Contains(t, msg, "open /var/run/token: permission denied")
		assert.NotContains(t, msg, secret)
	})
}

func TestWaitFirstFetchPendingAndContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := SourceFunc(func(ctx context.Context) (Token, error) {
			<-ctx.Done()
			return Token{}, ctx.Err()
		})
		f := start(t, src, nil)
		_, err := f.r.Handle().Wait(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "first fetch has not completed yet")

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		t0 := time.Now()
		_, err = f.r.Handle().Wait(ctx)
		require.ErrorContains(t, err, context.DeadlineExceeded.Error())
		assert.Equal(t, time.Second, time.Since(t0))
	})
}

func TestWaitReturnsOnFirstPublish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		src := SourceFunc(func(context.Context) (Token, error) {
			<-release
			return Token{Value: "a"}, nil
		})
		f := start(t, src, nil)
		done := make(chan *Entry)
		for range 3 {
			go func() {
				e, err := f.r.Handle().Wait(context.Background())
				assert.NoError(t, err)
				done <- e
			}()
		}
		synctest.Wait()
		close(release)
		for range 3 {
			assert.Equal(t, "Bearer a", (<-done).HeaderValue())
		}
	})
}

// Issue 9 case 1: after a 401, a request waits only for the fetch that its
// Invalidate starts, not for InitialWait.
func TestInvalidateAndWaitEndsWithTheRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var value atomicString
		value.Store("a")
		src := SourceFunc(func(context.Context) (Token, error) {
			time.Sleep(300 * time.Millisecond) // one refresh's duration
			return Token{Value: value.Load()}, nil
		})
		f := start(t, src, func(c *Config) {
			c.InitialWait = 5 * time.Second
			c.MinInvalidateInterval = 5 * time.Second
		})
		h := f.r.Handle()
		old, err := h.Wait(context.Background())
		require.NoError(t, err)

		// The refresh it asks for ends with the same credential: answered then.
		t0 := time.Now()
		_, err = h.InvalidateAndWait(context.Background(), old)
		require.ErrorContains(t, err, "did not change")
		assert.Equal(t, 300*time.Millisecond, time.Since(t0))

		// Inside the rate-limit window no fetch starts: answered at once.
		t0 = time.Now()
		_, err = h.InvalidateAndWait(context.Background(), old)
		require.ErrorContains(t, err, "deferred")
		assert.Zero(t, time.Since(t0))

		// The deferred fetch brings "b": the next request after a 401 gets it.
		value.Store("b")
		time.Sleep(5 * time.Second)
		synctest.Wait()
		e, err := h.InvalidateAndWait(context.Background(), old)
		require.NoError(t, err)
		assert.Equal(t, "Bearer b", e.HeaderValue())
	})
}

type atomicString struct {
	mu sync.Mutex
	v  string
}

func (a *atomicString) Store(v string) { a.mu.Lock(); a.v = v; a.mu.Unlock() }
func (a *atomicString) Load() string   { a.mu.Lock(); defer a.mu.Unlock(); return a.v }

// Issue 9 case 2: a minute of persistent 401s against a source that returns a
// new token on every fetch (azidentity with the credential rebuilt) costs
// fetches at 0, 5, 15 and 35 s (the window doubling), not one every 5 s; a
// server accepting the credential again resets the window.
func TestRejectedRefreshesBackOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := componenttest.NewTelemetry()
		defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
		var n int
		var calls []time.Time
		src := SourceFunc(func(context.Context) (Token, error) {
			n++
			calls = append(calls, time.Now())
			return Token{Value: fmt.Sprintf("tok-%d", n), Expiry: time.Now().Add(time.Hour)}, nil
		})
		f := startWith(t, src, opts{
			cfg: func(c *Config) { c.MinInvalidateInterval = 5 * time.Second },
			set: func(s *Settings) { s.Telemetry = tt.NewTelemetrySettings() },
		})
		h := f.r.Handle()
		synctest.Wait()
		h.ReportAccepted() // the first token worked
		t0 := time.Now()
		for time.Since(t0) < time.Minute { // a request every 100 ms, each refused
			if _, err := h.InvalidateAndWait(context.Background(), h.Current()); err == nil {
				continue
			}
			time.Sleep(100 * time.Millisecond)
		}
		synctest.Wait()
		var offsets []time.Duration
		for _, c := range calls[1:] {
			offsets = append(offsets, c.Sub(t0).Round(time.Second))
		}
		assert.Equal(t, []time.Duration{0, 5 * time.Second, 15 * time.Second, 35 * time.Second}, offsets)
		metadatatest.AssertEqualAuthTokenRejectedRefreshes(t, tt,
			[]metricdata.DataPoint[int64]{{Value: 4}}, metricdatatest.IgnoreTimestamp())

		// The server accepts a token again: the backoff is over, so a 401 at
		// 60 s is served at once (the 40 s window after 35 s has not ended).
		h.ReportAccepted()
		before := len(calls)
		h.Invalidate()
		synctest.Wait()
		require.Equal(t, before+1, len(calls))
		h.Invalidate() // second rejection in a row: 5 s window again
		time.Sleep(5 * time.Second)
		synctest.Wait()
		assert.Equal(t, before+2, len(calls))
	})
}

func TestShutdownDuringHangingFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		entered := make(chan struct{})
		src := SourceFunc(func(ctx context.Context) (Token, error) {
			close(entered)
			<-ctx.Done()
			return Token{}, ctx.Err()
		})
		r, err := New(src, NewDefaultConfig(), Settings{ID: testID, Telemetry: componenttest.NewNopTelemetrySettings(), Kind: "managed_identity"})
		require.NoError(t, err)
		host := statustest.NewHost()
		require.NoError(t, r.Start(context.Background(), host))
		<-entered
		require.NoError(t, r.Shutdown(context.Background()))
		assert.Empty(t, host.Statuses(), "a canceled fetch is not reported as a failure")
		_, err = r.Handle().Wait(context.Background())
		assert.ErrorContains(t, err, "shut down")
		require.NoError(t, r.Shutdown(context.Background()), "second Shutdown is a no-op")
	})
}

func TestShutdownSourceIgnoringContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		src := SourceFunc(func(context.Context) (Token, error) {
			<-release
			return Token{}, errors.New("late")
		})
		r, err := New(src, NewDefaultConfig(), Settings{ID: testID, Telemetry: componenttest.NewNopTelemetrySettings()})
		require.NoError(t, err)
		require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		require.ErrorIs(t, r.Shutdown(ctx), context.DeadlineExceeded)
		close(release)
		require.NoError(t, r.Shutdown(context.Background()))
	})
}

func TestLifecycleErrors(t *testing.T) {
	src := SourceFunc(func(context.Context) (Token, error) { return Token{Value: "a"}, nil })
	set := Settings{ID: testID, Telemetry: componenttest.NewNopTelemetrySettings()}
	r, err := New(src, NewDefaultConfig(), set)
	require.NoError(t, err)
	require.NoError(t, r.Shutdown(context.Background()), "Shutdown without Start")

	r, err = New(src, NewDefaultConfig(), set)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	require.Error(t, r.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, r.Shutdown(context.Background()))

	_, err = New(nil, NewDefaultConfig(), set)
	require.Error(t, err)
	_, err = New(src, Config{}, set)
	require.EqualError(t, err, "refresh: interval must be positive, got 0s; initial_backoff must be positive, got 0s")
	_, err = New(src, NewDefaultConfig(), Settings{Header: "Bad Header"})
	require.ErrorContains(t, err, "header")
	_, err = New(src, NewDefaultConfig(), Settings{Scheme: "Bearer x"})
	require.ErrorContains(t, err, "scheme")
}

func TestStatusEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &scriptSource{script: []result{
			fail("e1"), fail("e2"), fail("e3"), ok("a", time.Time{}), fail("e4"), fail("e5"), ok("b", time.Time{}),
		}}
		f := start(t, src, func(c *Config) {
			c.InitialBackoff = time.Second
			c.MaxBackoff = time.Second
			c.Interval = time.Second
		})
		time.Sleep(6 * time.Second)
		synctest.Wait()
		require.Equal(t, 7, src.count())
		assert.Equal(t, []componentstatus.Status{
			componentstatus.StatusRecoverableError, componentstatus.StatusOK,
			componentstatus.StatusRecoverableError, componentstatus.StatusOK,
		}, f.host.Statuses())
		events := f.host.Events()
		first, third := events[0].Err(), events[2].Err()
		assert.ErrorContains(t, first, "bearerauth/client: file credential fetch failed: e1")
		assert.ErrorContains(t, third, "e4")
		assert.Equal(t, 2, f.logs.FilterMessageSnippet("fetch failed;").Len(), "logged once per state change")
		assert.Equal(t, 2, f.logs.FilterMessageSnippet("recovered").Len())
		assert.Equal(t, 3, f.logs.FilterMessageSnippet("failed again").Len(), "retries only at debug level")
	})
}

func TestConfigValidate(t *testing.T) {
	valid := NewDefaultConfig()
	require.NoError(t, valid.Validate())
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"negative before_expiry", func(c *Config) { c.BeforeExpiry = -time.Second }, "before_expiry must not be negative, got -1s"},
		{"zero interval", func(c *Config) { c.Interval = 0 }, "interval must be positive, got 0s"},
		{"negative initial_wait", func(c *Config) { c.InitialWait = -time.Second }, "initial_wait must not be negative, got -1s"},
		{"zero initial_backoff", func(c *Config) { c.InitialBackoff = 0 }, "initial_backoff must be positive, got 0s"},
		{"max below initial", func(c *Config) { c.MaxBackoff = c.InitialBackoff / 2 }, "max_backoff (500ms) must not be less than initial_backoff (1s)"},
		{"negative min_invalidate_interval", func(c *Config) { c.MinInvalidateInterval = -time.Second }, "min_invalidate_interval must not be negative, got -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewDefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			require.Error(t, err)
			// The block's own Validate names keys relative to the block;
			// confmap.Validate adds "refresh: " (TestConfigValidateThroughConfmap).
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tt := componenttest.NewTelemetry()
		defer func() { require.NoError(t, tt.Shutdown(context.Background())) }()
		t0 := time.Now()
		src := &scriptSource{script: []result{
			{tok: Token{Value: "a", Expiry: t0.Add(time.Hour), RefreshAt: t0.Add(10 * time.Minute)}},
			fail("boom"),
			ok("b", time.Time{}),
		}}
		f := startWith(t, src, opts{set: func(s *Settings) { s.Telemetry = tt.NewTelemetrySettings() }})
		synctest.Wait()
		metadatatest.AssertEqualAuthTokenTimeUntilExpiry(t, tt,
			[]metricdata.DataPoint[float64]{{Value: 3600}}, metricdatatest.IgnoreTimestamp())

		time.Sleep(10*time.Minute + time.Second) // refresh at 10m fails, retry 1s later succeeds
		synctest.Wait()
		require.Equal(t, 3, src.count())
		success := attribute.NewSet(attribute.String("outcome", "success"))
		failure := attribute.NewSet(attribute.String("outcome", "failure"))
		metadatatest.AssertEqualAuthTokenRefreshAttempts(t, tt, []metricdata.DataPoint[int64]{
			{Attributes: success, Value: 2}, {Attributes: failure, Value: 1},
		}, metricdatatest.IgnoreTimestamp())
		metadatatest.AssertEqualAuthTokenRefreshDuration(t, tt, []metricdata.HistogramDataPoint[float64]{
			{Attributes: success, Count: 2}, {Attributes: failure, Count: 1},
		}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreValue())

		// "b" has no expiry: the gauge has no data point.
		require.Equal(t, "Bearer b", f.r.Handle().Current().HeaderValue())
		m, err := tt.GetMetric("otelcol_auth_token_time_until_expiry")
		if err != nil {
			assert.ErrorContains(t, err, "not found")
		} else {
			assert.Empty(t, m.Data.(metricdata.Gauge[float64]).DataPoints)
		}
	})
}
