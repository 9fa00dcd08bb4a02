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

	"github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"
)

// overTransport is an *http.Transport that hands requests to f instead of the
// network.
func overTransport(f rtFunc) *http.Transport { return authclienttest.NewTransport(f) }

func mapPtr(h http.Header) uintptr { return reflect.ValueOf(h).Pointer() }

// Over an *http.Transport (what confighttp gives an auth extension): the
// request carries the caller's current headers plus the current credential,
// and the caller's map is never the one sent nor modified.
func TestRoundTripperFollowsCallerAndCredential(t *testing.T) {
	src := newRotatingSource("tok-1")
	h := readyHandle(t, src)
	var seen []http.Header
	rt := NewRoundTripper(overTransport(func(r *http.Request) (*http.Response, error) {
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

	assert.Equal(t, want("tok-1"), send())
	assert.Equal(t, want("tok-1"), send())

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

// Callers whose headers differ on every request get exactly their headers.
func TestRoundTripperPerRequestValues(t *testing.T) {
	h := readyHandle(t, newRotatingSource("tok"))
	var got http.Header
	rt := NewRoundTripper(overTransport(func(r *http.Request) (*http.Response, error) {
		got = r.Header
		return okResponse(r), nil
	}), h)
	req := exporterRequest(t)
	req.Header.Set("Traceparent", "")
	for i := range 96 {
		req.Header["Traceparent"][0] = fmt.Sprint(i % 7)
		_, err := rt.RoundTrip(req)
		require.NoError(t, err)
		require.Equal(t, []string{fmt.Sprint(i % 7)}, got["Traceparent"], "request %d", i)
		require.Equal(t, []string{"Bearer tok"}, got["Authorization"])
		require.Len(t, got, len(req.Header)+1)
	}
}

// Run with -race. 32 goroutines with different header sets (some constant,
// some changing per request) share one RoundTripper over an *http.Transport
// while the credential rotates: every request carries exactly its caller's
// headers plus a current credential, and no caller's header map is written.
func TestRoundTripperConcurrentOverTransport(t *testing.T) {
	src := newRotatingSource("tok-0")
	h := readyHandle(t, src)
	rt := NewRoundTripper(overTransport(func(r *http.Request) (*http.Response, error) {
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
