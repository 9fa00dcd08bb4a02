package azureidentityauthext

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/internal/fakeentra"
	"github.com/otelcol-custom/otelcol-custom/internal/statustest"
)

// load sends requests through the client extension (HTTP RoundTripper to a
// strictly validating backend, and gRPC metadata checked by the same
// validator) until stopped, counting every outcome.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	firstErr   string
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(t *testing.T, client, server *azureIdentityAuth, workers int) *load {
	t.Helper()
	b := newBackend(t, server)
	rt, err := client.RoundTripper(http.DefaultTransport)
	require.NoError(t, err)
	creds := mustPerRPC(t, client)
	l := &load{stop: make(chan struct{})}
	fail := func(msg string) {
		l.failed.Add(1)
		l.mu.Lock()
		if l.firstErr == "" {
			l.firstErr = msg
		}
		l.mu.Unlock()
	}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if (i+w)%2 == 0 {
					code, err := get(t, rt, b.srv.URL)
					switch {
					case err != nil:
						fail(err.Error())
					case code != http.StatusNoContent:
						b.mu.Lock()
						fail(b.lastErr)
						b.mu.Unlock()
					default:
						l.ok.Add(1)
					}
				} else {
					md, err := creds.GetRequestMetadata(context.Background())
					if err == nil {
						_, err = server.Authenticate(context.Background(), map[string][]string{"authorization": {md["authorization"]}})
					}
					if err != nil {
						fail(err.Error())
					} else {
						l.ok.Add(1)
					}
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *load) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	assert.Zero(t, l.failed.Load(), "failed requests (first: %s)", l.firstErr)
	assert.Positive(t, l.ok.Load())
}

// strictServer validates with no clock-skew allowance, so a request carrying
// an expired token fails.
func strictServer(t *testing.T, f *fakeentra.Server, ca string) *azureIdentityAuth {
	scfg := serverConfig(f, ca, monitorAud)
	scfg.Server.Get().ClockSkew = 0
	srv, _, _ := started(t, scfg)
	waitKeys(t, srv)
	return srv
}

func spClient(t *testing.T, f *fakeentra.Server, ca string, tune func(*Config)) *azureIdentityAuth {
	ext, _ := spClientLogs(t, f, ca, tune)
	return ext
}

func spClientLogs(t *testing.T, f *fakeentra.Server, ca string, tune func(*Config)) (*azureIdentityAuth, *observer.ObservedLogs) {
	f.AddClientSecret(tenantA, clientA, secretA)
	cfg := clientConfig(f, ca)
	cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{TenantID: tenantA, ClientID: clientA, ClientSecret: secretA})
	if tune != nil {
		tune(cfg)
	}
	ext, _, logs := started(t, cfg)
	_, err := ext.handle.Wait(context.Background())
	require.NoError(t, err)
	return ext, logs
}

// Short lifetimes: the refresher replaces the token ahead of expiry (half the
// lifetime when before_expiry is longer), and no request ever carries an
// expired token.
func TestRefreshBeforeExpiry(t *testing.T) {
	f, ca := testEntra(t)
	f.SetTokenLifetime(3 * time.Second)
	client := spClient(t, f, ca, nil)
	l := startLoad(t, client, strictServer(t, f, ca), 4)
	require.Eventually(t, func() bool { return f.Counts().TokenIssued >= 4 }, 20*time.Second, 10*time.Millisecond)
	l.finish(t)
	assert.Zero(t, f.Counts().Failed)
}

// refresh_in from Entra (azcore's RefreshOn) is honoured: with a 60s lifetime
// the refresh-ahead point would be 30s, refresh_in makes it 1s.
func TestRefreshHonoursRefreshOn(t *testing.T) {
	f, ca := testEntra(t)
	f.SetTokenLifetime(60 * time.Second)
	f.SetRefreshIn(time.Second)
	client := spClient(t, f, ca, nil)
	first := client.handle.Current()
	require.NotNil(t, first)
	assert.WithinDuration(t, time.Now().Add(time.Second), first.Token.RefreshAt, 2*time.Second)
	require.Eventually(t, func() bool { return f.Counts().TokenIssued >= 3 }, 15*time.Second, 10*time.Millisecond)
}

// An outage of the token endpoint longer than many refresh attempts but
// shorter than the token lifetime causes zero failed requests, and the
// refresher recovers within its backoff cap once Entra is back.
func TestOutageShorterThanLifetime(t *testing.T) {
	const (
		lifetime  = 6 * time.Second
		refreshIn = time.Second
		outage    = 3500 * time.Millisecond
	)
	for _, tc := range []struct {
		name string
		mode fakeentra.Failure
	}{
		{"http_500", fakeentra.Fail500},
		{"timeout", fakeentra.FailHang},
		{"connection_closed", fakeentra.FailClose},
		{"connection_refused", fakeentra.FailRefuse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // mostly waiting: the four outages overlap
			f, ca := testEntra(t)
			f.SetTokenLifetime(lifetime)
			f.SetRefreshIn(refreshIn)
			var requests sync.Map // arrival times of token requests
			f.OnTokenRequest(func(*http.Request) { requests.Store(time.Now(), true) })
			client, logs := spClientLogs(t, f, ca, func(c *Config) { c.Timeout = 300 * time.Millisecond })
			first := client.handle.Current()
			server := strictServer(t, f, ca)
			l := startLoad(t, client, server, 4)

			require.NoError(t, f.SetFailure(tc.mode, fakeentra.EndpointToken))
			start := time.Now()
			time.Sleep(outage) // the outage itself: what the test is about
			seenByFake := countSince(&requests, start)
			require.NoError(t, f.SetFailure(fakeentra.FailNone, 0))
			end := time.Now()

			require.Eventually(t, func() bool {
				c := client.handle.Current()
				return c != nil && c.Token.Value != first.Token.Value
			}, 5*time.Second, 5*time.Millisecond)
			recovery := firstSince(&requests, end).Sub(end)
			l.finish(t)

			// The refresher logs the first failure as a warning and each
			// further one at debug level. Counted from the outage's start: on a
			// loaded machine a refresh before it can time out (300 ms) and be
			// surfaced (and recovered from) on its own.
			failedAttempts := countLogsSince(logs, "Credential fetch failed", start)
			assert.GreaterOrEqual(t, failedAttempts, 5, "several refresh attempts failed during the outage")
			assert.Equal(t, 1, countLogsSince(logs, "Credential fetch failed;", start), "surfaced once")
			assert.Less(t, outage+time.Second, lifetime, "outage shorter than the lifetime")
			assert.LessOrEqual(t, recovery, clientConfig(f, ca).Refresh.MaxBackoff+500*time.Millisecond,
				"recovery within the backoff cap")
			t.Logf("%s: outage %s, %d failed refresh attempts (%d reached the fake), %d requests served with 0 failures, first retry %s after the outage ended",
				tc.name, outage, failedAttempts, seenByFake, l.ok.Load(), recovery.Round(time.Millisecond))
		})
	}
}

// countLogsSince counts the log entries containing snippet written at or after t0.
func countLogsSince(logs *observer.ObservedLogs, snippet string, t0 time.Time) int {
	n := 0
	for _, e := range logs.FilterMessageSnippet(snippet).All() {
		if !e.Time.Before(t0) {
			n++
		}
	}
	return n
}

func countSince(m *sync.Map, t0 time.Time) int {
	n := 0
	m.Range(func(k, _ any) bool {
		if k.(time.Time).After(t0) {
			n++
		}
		return true
	})
	return n
}

func firstSince(m *sync.Map, t0 time.Time) time.Time {
	var first time.Time
	m.Range(func(k, _ any) bool {
		ts := k.(time.Time)
		if ts.After(t0) && (first.IsZero() || ts.Before(first)) {
			first = ts
		}
		return true
	})
	return first
}

// While a refresh hangs at Entra, requests are served from the current token:
// they all complete while the fetch is still stuck.
func TestRequestsNeverWaitForRefresh(t *testing.T) {
	f, ca := testEntra(t)
	f.SetTokenLifetime(time.Minute)
	f.SetRefreshIn(time.Second)
	client := spClient(t, f, ca, func(c *Config) { c.Timeout = time.Minute })
	server := strictServer(t, f, ca)
	b := newBackend(t, server)
	require.NoError(t, f.SetFailure(fakeentra.FailHang, fakeentra.EndpointToken))
	require.Eventually(t, func() bool { return f.Counts().Hanging == 1 }, 10*time.Second, 5*time.Millisecond)

	rt, err := client.RoundTripper(http.DefaultTransport)
	require.NoError(t, err)
	creds := mustPerRPC(t, client)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if code, err := get(t, rt, b.srv.URL); err != nil || code != http.StatusNoContent {
					failed.Add(1)
				}
				if _, err := creds.GetRequestMetadata(context.Background()); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, failed.Load())
	assert.Equal(t, int64(1), f.Counts().Hanging, "the refresh is still hanging: no request waited for it")
	assert.Equal(t, int64(800), b.ok.Load())
	require.NoError(t, f.SetFailure(fakeentra.FailNone, 0))
}

// Shutdown ends a fetch hanging at Entra.
func TestShutdownDuringHangingFetch(t *testing.T) {
	f, ca := testEntra(t)
	f.AddClientSecret(tenantA, clientA, secretA)
	require.NoError(t, f.SetFailure(fakeentra.FailHang, fakeentra.EndpointToken))
	cfg := clientConfig(f, ca)
	cfg.Timeout = time.Hour
	cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{TenantID: tenantA, ClientID: clientA, ClientSecret: secretA})
	ext, err := newExtension(cfg, extensionSettings(t))
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), statustest.NewHost()))
	require.Eventually(t, func() bool { return f.Counts().Hanging == 1 }, 10*time.Second, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, ext.Shutdown(ctx))
}

// After an HTTP 401 the RoundTripper asks for an early refresh. azidentity
// would serve the same cached token for most of its lifetime; the Source gets
// a new one from Entra, and the request is retried with it.
func TestUnauthorizedForcesNewToken(t *testing.T) {
	f, ca := testEntra(t)
	f.SetTokenLifetime(time.Hour) // azidentity caches tokens living over 5 minutes
	client := spClient(t, f, ca, nil)
	revoked := client.handle.Current().HeaderValue()
	var seen sync.Map
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Authorization"), true)
		if r.Header.Get("Authorization") == revoked {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(backend.Close)
	rt, err := client.RoundTripper(http.DefaultTransport)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, backend.URL, strings.NewReader("payload"))
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, int64(2), f.Counts().TokenIssued)
	assert.NotEqual(t, revoked, client.handle.Current().HeaderValue())
	_, sentRevoked := seen.Load(revoked)
	assert.True(t, sentRevoked)
}
