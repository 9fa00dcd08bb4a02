package authclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testID = component.MustNewIDWithName("bearerauth", "client")

// rotatingSource serves the value set last; Set signals the refresher.
type rotatingSource struct {
	value   atomic.Value // string
	fetches atomic.Int64
	ch      chan struct{}
	// afterFirst, when set, is served from the second fetch on.
	afterFirst string
}

func newRotatingSource(v string) *rotatingSource {
	s := &rotatingSource{ch: make(chan struct{}, 1)}
	s.value.Store(v)
	return s
}

func (s *rotatingSource) Fetch(context.Context) (tokencache.Token, error) {
	n := s.fetches.Add(1)
	if n > 1 && s.afterFirst != "" {
		return tokencache.Token{Value: s.afterFirst}, nil
	}
	v := s.value.Load().(string)
	if v == "" {
		return tokencache.Token{}, errors.New("no token configured")
	}
	return tokencache.Token{Value: v}, nil
}

func (s *rotatingSource) Changes() <-chan struct{} { return s.ch }

func (s *rotatingSource) Set(v string) {
	s.value.Store(v)
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

func newHandle(t testing.TB, src tokencache.Source, mutate func(*tokencache.Config)) *tokencache.Handle {
	t.Helper()
	cfg := tokencache.NewDefaultConfig()
	cfg.InitialWait = 2 * time.Second
	cfg.MinInvalidateInterval = 0
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := tokencache.New(src, cfg, tokencache.Settings{
		ID: testID, Telemetry: componenttest.NewNopTelemetrySettings(), Kind: "static", Scheme: "Bearer",
	})
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return r.Handle()
}

func readyHandle(t testing.TB, src tokencache.Source) *tokencache.Handle {
	h := newHandle(t, src, nil)
	_, err := h.Wait(context.Background())
	require.NoError(t, err)
	return h
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func okResponse(r *http.Request) *http.Response {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}
}

func TestRoundTripperSetsHeaderWithoutTouchingCallerRequest(t *testing.T) {
	h := readyHandle(t, newRotatingSource("tok"))
	var seen *http.Request
	rt := NewRoundTripper(rtFunc(func(r *http.Request) (*http.Response, error) {
		seen = r
		return okResponse(r), nil
	}), h)

	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://127.0.0.1:1/v1/traces", strings.NewReader("x"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header["X-Multi"] = []string{"1", "2"}
	req.Header.Set("Authorization", "caller-value")
	before := *req
	headerBefore := req.Header.Clone()

	_, err = rt.RoundTrip(req)
	require.NoError(t, err)

	assert.NotSame(t, req, seen)
	assert.Equal(t, []string{"Bearer tok"}, seen.Header["Authorization"])
	assert.Equal(t, "application/x-protobuf", seen.Header.Get("Content-Type"))
	assert.Equal(t, []string{"1", "2"}, seen.Header["X-Multi"])
	assert.Equal(t, headerBefore, req.Header, "caller's header map unchanged")
	after := *req
	assert.True(t, reflect.ValueOf(before.Header).Pointer() == reflect.ValueOf(after.Header).Pointer())
	assert.Equal(t, reflect.ValueOf(before.GetBody).Pointer(), reflect.ValueOf(after.GetBody).Pointer())
	before.Header, after.Header = nil, nil
	before.GetBody, after.GetBody = nil, nil // funcs are never DeepEqual
	assert.Equal(t, before, after, "caller's request unchanged")
}

// Run with -race: any write to the caller's request, header map or value
// slices while other goroutines read them is reported as a data race.
func TestRoundTripperConcurrentCallerIsolation(t *testing.T) {
	src := newRotatingSource("tok-0")
	h := readyHandle(t, src)
	rt := NewRoundTripper(rtFunc(func(r *http.Request) (*http.Response, error) {
		// A downstream layer that edits its copy (Set and append).
		r.Header.Set("X-Downstream", "1")
		r.Header["X-Multi"] = append(r.Header["X-Multi"], "3")
		if v := r.Header.Get("Authorization"); !strings.HasPrefix(v, "Bearer tok-") {
			return nil, errors.New("bad credential " + v)
		}
		return okResponse(r), nil
	}), h)

	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://127.0.0.1:1/", http.NoBody)
	require.NoError(t, err)
	multi := make([]string, 2, 8) // spare capacity: an unclipped share would race on append
	multi[0], multi[1] = "1", "2"
	req.Header["X-Multi"] = multi
	req.Header.Set("User-Agent", "test")
	headerBefore := req.Header.Clone()

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				src.Set("tok-" + strings.Repeat("x", i%5))
				time.Sleep(100 * time.Microsecond)
			}
		}
	})
	var workers sync.WaitGroup
	for range 32 {
		workers.Go(func() {
			for range 200 {
				resp, err := rt.RoundTrip(req)
				if !assert.NoError(t, err) {
					return
				}
				_ = resp.Body.Close()
				_ = req.Header.Get("User-Agent") // caller reads concurrently
			}
		})
	}
	workers.Wait()
	close(stop)
	wg.Wait()
	assert.Equal(t, headerBefore, req.Header)
	assert.Equal(t, []string{"1", "2"}, multi[:2])
}

type trackingBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackingBody) Close() error { b.closed.Store(true); return nil }

func TestRoundTripperNoCredentialFailsBoundedAndClosesBody(t *testing.T) {
	src := newRotatingSource("") // every fetch fails
	h := newHandle(t, src, func(c *tokencache.Config) { c.InitialWait = 50 * time.Millisecond })
	called := false
	rt := NewRoundTripper(rtFunc(func(r *http.Request) (*http.Response, error) {
		called = true
		return okResponse(r), nil
	}), h)
	body := &trackingBody{Reader: strings.NewReader("payload")}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://127.0.0.1:1/", body)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bearerauth/client")
	assert.Contains(t, err.Error(), "no token configured")
	assert.False(t, called)
	assert.True(t, body.closed.Load(), "RoundTrip must close the body on error")
}

// authServer accepts only "Bearer <want>" and records each request's body.
func authServer(t *testing.T, want string) (*httptest.Server, *[]string, *sync.Mutex) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.Header.Get("Authorization")+"|"+string(b))
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+want {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, &bodies, &mu
}

func newClient(t *testing.T, rt http.RoundTripper) *http.Client {
	c := &http.Client{Transport: rt}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestRoundTripper401RetriesOnceWithNewCredential(t *testing.T) {
	srv, bodies, mu := authServer(t, "new")
	src := newRotatingSource("old")
	src.afterFirst = "new" // the re-fetch after Invalidate sees the rotated value
	h := readyHandle(t, src)
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	client := newClient(t, NewRoundTripper(base, h))

	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, bytes.NewReader([]byte("spans")))
	require.NoError(t, err)
	require.NotNil(t, req.GetBody)
	resp, err := client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"Bearer old|spans", "Bearer new|spans"}, *bodies, "the body is replayed in full")
}

func TestRoundTripper401WithoutGetBodyIsReturned(t *testing.T) {
	srv, bodies, mu := authServer(t, "new")
	src := newRotatingSource("old")
	src.afterFirst = "new"
	h := readyHandle(t, src)
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	client := newClient(t, NewRoundTripper(base, h))

	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, io.NopCloser(strings.NewReader("spans")))
	require.NoError(t, err)
	require.Nil(t, req.GetBody)
	resp, err := client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	mu.Lock()
	assert.Len(t, *bodies, 1, "not retried")
	mu.Unlock()
	// But the 401 did trigger a refresh: the next request succeeds.
	require.Eventually(t, func() bool { return h.Current().HeaderValue() == "Bearer new" }, 5*time.Second, 5*time.Millisecond)
}

func TestRoundTripper401SameCredentialIsReturned(t *testing.T) {
	srv, bodies, mu := authServer(t, "other")
	h := newHandle(t, newRotatingSource("old"), func(c *tokencache.Config) { c.InitialWait = 100 * time.Millisecond })
	_, err := h.Wait(context.Background())
	require.NoError(t, err)
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	client := newClient(t, NewRoundTripper(base, h))

	resp, err := client.Post(srv.URL, "text/plain", strings.NewReader("spans"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	mu.Lock()
	assert.Len(t, *bodies, 1, "no retry with an unchanged credential")
	mu.Unlock()
}

func TestPerRPCCredentialsReadsHandleEveryCall(t *testing.T) {
	src := newRotatingSource("a")
	h := readyHandle(t, src)
	creds := NewPerRPCCredentials(h, true)
	assert.True(t, creds.RequireTransportSecurity())
	assert.False(t, NewPerRPCCredentials(h, false).RequireTransportSecurity())

	md, err := creds.GetRequestMetadata(context.Background(), "https://127.0.0.1/svc")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"authorization": "Bearer a"}, md)
	assert.Equal(t, reflect.ValueOf(h.Current().Metadata).Pointer(), reflect.ValueOf(md).Pointer(), "the prebuilt map itself")

	src.Set("b")
	require.Eventually(t, func() bool {
		md, err := creds.GetRequestMetadata(context.Background())
		return err == nil && md["authorization"] == "Bearer b"
	}, 5*time.Second, time.Millisecond)
}

func TestPerRPCCredentialsZeroAllocs(t *testing.T) {
	h := readyHandle(t, newRotatingSource("a"))
	creds := NewPerRPCCredentials(h, true)
	ctx := context.Background()
	aud := []string{"https://127.0.0.1/svc"}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := creds.GetRequestMetadata(ctx, aud...); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestPerRPCCredentialsNoCredential(t *testing.T) {
	h := newHandle(t, newRotatingSource(""), func(c *tokencache.Config) { c.InitialWait = 20 * time.Millisecond })
	md, err := NewPerRPCCredentials(h, true).GetRequestMetadata(context.Background())
	assert.Nil(t, md)
	require.Error(t, err)
	assert.Equal(t, codes.Unavailable, status.Code(err), "retryable by the exporter")
	assert.Contains(t, err.Error(), "bearerauth/client")
}

func TestRoundTripperNilHeaderAndAllocs(t *testing.T) {
	h := readyHandle(t, newRotatingSource("tok"))
	resp := &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}
	var got http.Header
	rt := NewRoundTripper(rtFunc(func(r *http.Request) (*http.Response, error) {
		got = r.Header
		return resp, nil
	}), h)
	u, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", http.NoBody)
	require.NoError(t, err)
	req := &http.Request{Method: http.MethodGet, URL: u.URL} // Header is nil
	_, err = rt.RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, http.Header{"Authorization": {"Bearer tok"}}, got)
	assert.Nil(t, req.Header)

	req = exporterRequest(t)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 3.0, "request copy, header map, its table")
}

// exporterRequest looks like what the otlphttp exporter sends.
func exporterRequest(tb testing.TB) *http.Request {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://127.0.0.1:4318/v1/traces", http.NoBody)
	require.NoError(tb, err)
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "otelcol-custom/0.1.0 (linux/amd64)")
	req.Header.Set("Content-Encoding", "gzip")
	return req
}
