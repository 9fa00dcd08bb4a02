package authclient

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"
)

// readOnlyFunc is an *http.Transport that hands requests to f instead of the
// network: the RoundTripper shares its header map over it.
func readOnlyFunc(f rtFunc) *http.Transport { return authclienttest.NewTransport(f) }

func mapPtr(h http.Header) uintptr { return reflect.ValueOf(h).Pointer() }

func TestReadsHeadersOnly(t *testing.T) {
	assert.True(t, readsHeadersOnly(http.DefaultTransport))
	assert.True(t, readsHeadersOnly(&http.Transport{}))
	assert.False(t, readsHeadersOnly(rtFunc(nil)), "an unknown base may edit its request")
	assert.True(t, NewRoundTripper(nil, nil).(*roundTripper).shareHeaders, "nil base is http.DefaultTransport")
}

func TestRoundTripperSharedHeaderFollowsCallerAndCredential(t *testing.T) {
	src := newRotatingSource("tok-1")
	h := readyHandle(t, src)
	var seen []http.Header
	rt := NewRoundTripper(readOnlyFunc(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, r.Header)
		return okResponse(r), nil
	}), h)
	req := exporterRequest(t)
	callerMap := mapPtr(req.Header)
	send := func() http.Header {
		t.Helper()
		before := req.Header.Clone()
		_, err := rt.RoundTrip(req)
		require.NoError(t, err)
		require.Equal(t, callerMap, mapPtr(req.Header))
		require.Equal(t, before, req.Header, "caller's map untouched")
		got := seen[len(seen)-1]
		require.NotEqual(t, callerMap, mapPtr(got), "the caller's map is never the one sent")
		return got
	}
	want := func(extra ...string) http.Header {
		w := req.Header.Clone()
		w.Set("Authorization", "Bearer "+strings.Join(extra, ""))
		return w
	}

	first := send()
	assert.Equal(t, want("tok-1"), first)
	second := send()
	assert.Equal(t, mapPtr(first), mapPtr(second), "same headers, same credential: shared map")

	// The caller adds a header, then edits a value in place (allowed once
	// RoundTrip has returned): both must show up on the next request.
	req.Header.Set("X-Tenant", "a")
	assert.Equal(t, want("tok-1"), send())
	req.Header["X-Tenant"][0] = "b"
	got := send()
	assert.Equal(t, []string{"b"}, got["X-Tenant"])
	assert.Equal(t, want("tok-1"), got)
	req.Header.Del("X-Tenant")
	assert.Equal(t, want("tok-1"), send())

	// A new credential is used by the very next request.
	src.Set("tok-2")
	require.Eventually(t, func() bool { return h.Current().HeaderValue() == "Bearer tok-2" }, 5*time.Second, time.Millisecond)
	assert.Equal(t, want("tok-2"), send())

	// A caller that sets the credential header itself is overridden, and its
	// own value is left alone.
	req.Header.Set("Authorization", "caller")
	got = send()
	assert.Equal(t, []string{"Bearer tok-2"}, got["Authorization"])
	assert.Equal(t, "caller", req.Header.Get("Authorization"))
	req.Header.Del("Authorization")

	// No header map at all.
	bare := &http.Request{Method: http.MethodGet, URL: req.URL}
	_, err := rt.RoundTrip(bare)
	require.NoError(t, err)
	assert.Equal(t, http.Header{"Authorization": {"Bearer tok-2"}}, seen[len(seen)-1])
	assert.Nil(t, bare.Header)
}

// Callers whose headers differ on every request still get exactly their
// headers; the shared map is only an optimisation.
func TestRoundTripperSharedHeaderPerRequestValues(t *testing.T) {
	h := readyHandle(t, newRotatingSource("tok"))
	var got http.Header
	rt := NewRoundTripper(readOnlyFunc(func(r *http.Request) (*http.Response, error) {
		got = r.Header
		return okResponse(r), nil
	}), h)
	req := exporterRequest(t)
	req.Header.Set("Traceparent", "")
	for i := range 3 * rebuildAfterMisses {
		req.Header["Traceparent"][0] = fmt.Sprint(i % 7)
		_, err := rt.RoundTrip(req)
		require.NoError(t, err)
		require.Equal(t, []string{fmt.Sprint(i % 7)}, got["Traceparent"], "request %d", i)
		require.Equal(t, []string{"Bearer tok"}, got["Authorization"])
		require.Len(t, got, len(req.Header)+1)
	}
}

// Run with -race. 32 goroutines with different header sets (some constant,
// some changing per request) share one RoundTripper over a read-only base
// while the credential rotates: every request carries exactly its caller's
// headers plus a current credential, and no caller's header map is written.
func TestRoundTripperSharedHeaderConcurrent(t *testing.T) {
	src := newRotatingSource("tok-0")
	h := readyHandle(t, src)
	rt := NewRoundTripper(readOnlyFunc(func(r *http.Request) (*http.Response, error) {
		if v := r.Header.Get("Authorization"); !strings.HasPrefix(v, "Bearer tok-") {
			return nil, fmt.Errorf("bad credential %q", v)
		}
		want := r.Header.Get("X-Want")
		if got := r.Header.Get("X-Worker") + "/" + r.Header.Get("X-Seq"); got != want {
			return nil, fmt.Errorf("headers %q, want %q", got, want)
		}
		return okResponse(r), nil
	}), h)

	stop := make(chan struct{})
	var rotator sync.WaitGroup
	rotator.Go(func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
				src.Set(fmt.Sprintf("tok-%d", i))
			}
		}
	})
	// One request shared by every worker, as well as one of its own each.
	shared := exporterRequest(t)
	shared.Header.Set("X-Worker", "s")
	shared.Header.Set("X-Seq", "0")
	shared.Header.Set("X-Want", "s/0")
	sharedBefore := shared.Header.Clone()
	var workers sync.WaitGroup
	for w := range 32 {
		workers.Go(func() {
			req := exporterRequest(t)
			for i := range 300 {
				if resp, err := rt.RoundTrip(shared); assert.NoError(t, err) {
					_ = resp.Body.Close()
				}
				seq := "0"
				if w%2 == 1 { // odd workers change a header on every request
					seq = fmt.Sprint(i)
				}
				req.Header.Set("X-Worker", fmt.Sprint(w%4)) // workers share header sets
				req.Header.Set("X-Seq", seq)
				req.Header.Set("X-Want", fmt.Sprintf("%d/%s", w%4, seq))
				before := req.Header.Clone()
				resp, err := rt.RoundTrip(req)
				if !assert.NoError(t, err) {
					return
				}
				_ = resp.Body.Close()
				if !assert.Equal(t, before, req.Header) {
					return
				}
			}
		})
	}
	workers.Wait()
	close(stop)
	rotator.Wait()
	assert.Equal(t, sharedBefore, shared.Header)
}

// Through a real *http.Transport to a real server: what arrives is the
// caller's headers plus the current credential, across a rotation and a
// header change.
func TestRoundTripperHTTPTransportEndToEnd(t *testing.T) {
	type got struct{ auth, tenant, ua string }
	var mu sync.Mutex
	var received []got
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received = append(received, got{r.Header.Get("Authorization"), r.Header.Get("X-Tenant"), r.Header.Get("User-Agent")})
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	src := newRotatingSource("one")
	h := readyHandle(t, src)
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	rt := NewRoundTripper(base, h)
	require.True(t, rt.(*roundTripper).shareHeaders)

	send := func(tenant string) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, http.NoBody)
		require.NoError(t, err)
		req.Header.Set("User-Agent", "test")
		req.Header.Set("X-Tenant", tenant)
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	send("a")
	send("a")
	send("b")
	src.Set("two")
	require.Eventually(t, func() bool { return h.Current().HeaderValue() == "Bearer two" }, 5*time.Second, time.Millisecond)
	send("b")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []got{
		{"Bearer one", "a", "test"},
		{"Bearer one", "a", "test"},
		{"Bearer one", "b", "test"},
		{"Bearer two", "b", "test"},
	}, received)
}

func TestRoundTripperSharedHeaderAllocs(t *testing.T) {
	h := readyHandle(t, newRotatingSource("tok"))
	resp := &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}
	rt := NewRoundTripper(readOnlyFunc(func(*http.Request) (*http.Response, error) { return resp, nil }), h)
	req := exporterRequest(t)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	})
	assert.Equal(t, 1.0, allocs, "only the request copy")
}

// The shared map holds copies of the values it was built from: a caller that
// edits its own value array after its request returned (allowed) does not
// change what other requests, possibly still in flight, carry.
func TestRoundTripperSharedHeaderOwnsItsValues(t *testing.T) {
	h := readyHandle(t, newRotatingSource("tok"))
	var got []http.Header
	rt := NewRoundTripper(readOnlyFunc(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.Header)
		return okResponse(r), nil
	}), h)
	a, b := exporterRequest(t), exporterRequest(t)
	a.Header.Set("X-Tenant", "one")
	b.Header.Set("X-Tenant", "one")
	for _, req := range []*http.Request{a, b} {
		_, err := rt.RoundTrip(req)
		require.NoError(t, err)
	}
	require.Equal(t, mapPtr(got[0]), mapPtr(got[1]), "b shares the map built from a")
	a.Header["X-Tenant"][0] = "two" // a reuses its array for its next request
	assert.Equal(t, []string{"one"}, got[1]["X-Tenant"], "b's request is unchanged")
	_, err := rt.RoundTrip(a)
	require.NoError(t, err)
	assert.Equal(t, []string{"two"}, got[2]["X-Tenant"])
}

// baseRecorder is an auth extension that records the base confighttp gives it.
type baseRecorder struct {
	component.StartFunc
	component.ShutdownFunc
	base http.RoundTripper
}

func (r *baseRecorder) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	r.base = base
	return base, nil
}

// The shared header map is only used over an *http.Transport. This checks
// that confighttp, at the collector release this distribution pins, gives an
// auth extension exactly that when no client middleware is configured, so
// the fast path is the one exporters take. If a release changes it, this
// fails and the benchmark figures need a second look.
func TestConfigHTTPGivesAuthExtensionATransport(t *testing.T) {
	id := component.MustNewID("recorder")
	rec := &baseRecorder{}
	cfg := confighttp.NewDefaultClientConfig()
	cfg.Endpoint = "http://127.0.0.1:1"
	cfg.Auth = configoptional.Some(configauth.Config{AuthenticatorID: id})
	client, err := cfg.ToClient(context.Background(), map[component.ID]component.Component{id: rec}, componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	require.NotNil(t, client)
	assert.IsType(t, &http.Transport{}, rec.base)
	assert.True(t, readsHeadersOnly(rec.base))
}
