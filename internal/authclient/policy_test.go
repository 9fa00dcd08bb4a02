package authclient

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// Issue 9 case 1: a 401 that no new credential can fix (a static token) is
// returned once the refresh it asked for ends, or at once while that refresh
// is rate-limited; it used to wait initial_wait (5 s) every time.
func TestRoundTripperPersistent401FailsFast(t *testing.T) {
	srv, _, _ := authServer(t, "other")
	h := newHandle(t, staticSource("old"), func(c *tokencache.Config) {
		c.InitialWait = 5 * time.Second
		c.MinInvalidateInterval = 5 * time.Second
	})
	_, err := h.Wait(context.Background())
	require.NoError(t, err)
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	client := newClient(t, NewRoundTripper(base, h))
	for i := range 5 {
		t0 := time.Now()
		resp, err := client.Post(srv.URL, "text/plain", strings.NewReader("spans"))
		require.NoError(t, err)
		_ = resp.Body.Close()
		d := time.Since(t0)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		// A bound far below initial_wait (the figures are in the report).
		assert.Less(t, d, time.Second, "request %d took %s", i, d)
		t.Logf("request %d: 401 after %s", i, d)
	}
}

// recorder is a server that records the Authorization header it gets.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	auth []string
}

// newRecorder starts a recorder on addr ("" for 127.0.0.1:0), with TLS or
// not; h, when set, answers the requests.
func newRecorder(t *testing.T, addr string, tlsServer bool, h http.HandlerFunc) *recorder {
	r := &recorder{}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.auth = append(r.auth, req.Header.Get("Authorization"))
		r.mu.Unlock()
		if h != nil {
			h(w, req)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("cannot listen on %s: %v", addr, err)
		}
		_ = r.srv.Listener.Close()
		r.srv.Listener = ln
	}
	if tlsServer {
		r.srv.StartTLS()
	} else {
		r.srv.Start()
	}
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auth...)
}

// Issue 9 case 7: http.Client follows redirects above the RoundTripper, so
// its own Authorization stripping never sees our header. The credential goes
// along a redirect to the same host and port only, never to another host
// (127.0.0.2 vs 127.0.0.1), another port, or from https to http, unless the
// policy allows redirects.
func TestRoundTripperRedirects(t *testing.T) {
	h := readyHandle(t, staticSource("s3cr3t"))
	cases := []struct {
		name       string
		tls        bool
		targetAddr string // "" 127.0.0.1:0; "self": the origin itself
		targetTLS  bool
		allow      bool
		want       string // Authorization at the target
	}{
		{"same host and port", false, "self", false, false, "Bearer s3cr3t"},
		{"https same host and port", true, "self", true, false, "Bearer s3cr3t"},
		{"other port", false, "", false, false, ""},
		{"other host", false, "127.0.0.2:0", false, false, ""},
		{"https to http", true, "", false, false, ""},
		{"other port, opted in", false, "", false, true, "Bearer s3cr3t"},
		{"https to http, opted in", true, "", false, true, "Bearer s3cr3t"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var target *recorder
			var targetURL string
			origin := newRecorder(t, "", tc.tls, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/same" {
					w.WriteHeader(http.StatusOK)
					return
				}
				http.Redirect(w, r, targetURL, http.StatusPermanentRedirect)
			})
			if tc.targetAddr == "self" {
				target, targetURL = origin, origin.srv.URL+"/same"
			} else {
				target = newRecorder(t, tc.targetAddr, tc.targetTLS, nil)
				targetURL = target.srv.URL + "/x"
			}
			base := origin.srv.Client().Transport.(*http.Transport).Clone()
			t.Cleanup(base.CloseIdleConnections)
			core, logs := observer.New(zapcore.WarnLevel)
			client := newClient(t, NewRoundTripper(base, h, WithPolicy(NewPolicy(zap.New(core), tc.allow))))

			resp, err := client.Post(origin.srv.URL+"/start", "text/plain", strings.NewReader("spans"))
			require.NoError(t, err)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)

			got := origin.got()
			require.Equal(t, "Bearer s3cr3t", got[0], "the configured endpoint gets the credential")
			atTarget := target.got()
			assert.Equal(t, tc.want, atTarget[len(atTarget)-1])
			if tc.want == "" {
				assert.Equal(t, 1, logs.FilterMessageSnippet("Not sending the credential on a redirect").Len())
				for _, e := range logs.All() {
					for _, v := range e.ContextMap() {
						assert.NotContains(t, v, "s3cr3t")
					}
				}
			}
		})
	}
}

// Issue 9 case 9: one warning per Policy (extension) at the first request
// that sends the credential over http:// to a host that is not loopback;
// none for loopback or https.
func TestPolicyPlaintextWarning(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	p := NewPolicy(zap.New(core), false)
	for _, u := range []string{"https://collector.example:4318", "http://127.0.0.1:4318", "http://localhost:4318", "http://[::1]:4318", "http://otel.localhost"} {
		pu, err := url.Parse(u)
		require.NoError(t, err)
		p.checkPlaintext(pu)
		p.checkPlaintext(pu)
	}
	assert.Zero(t, logs.Len(), "https and loopback do not warn")

	h := readyHandle(t, staticSource("s3cr3t"))
	sent := 0
	rt := NewRoundTripper(rtFunc(func(r *http.Request) (*http.Response, error) {
		sent++
		return okResponse(r), nil
	}), h, WithPolicy(p))
	rt2 := NewRoundTripper(rtFunc(okResponseErr), h, WithPolicy(p)) // a second exporter of the same extension
	for _, target := range []string{"http://10.1.2.3:4318/v1/traces", "http://collector.example/v1/logs"} {
		req, err := http.NewRequest(http.MethodPost, target, http.NoBody)
		require.NoError(t, err)
		for _, r := range []http.RoundTripper{rt, rt2} {
			resp, err := r.RoundTrip(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
		}
	}
	require.Equal(t, 2, sent)
	require.Equal(t, 1, logs.Len(), "once per extension")
	e := logs.All()[0]
	assert.Contains(t, e.Message, "plaintext http://")
	assert.Equal(t, "http://10.1.2.3:4318", e.ContextMap()["endpoint"])

	// gRPC: require_transport_security false warns once when the
	// credentials are built; true does not.
	core2, logs2 := observer.New(zapcore.WarnLevel)
	p2 := NewPolicy(zap.New(core2), false)
	NewPerRPCCredentials(h, true, WithPolicy(p2))
	assert.Zero(t, logs2.Len())
	NewPerRPCCredentials(h, false, WithPolicy(p2))
	NewPerRPCCredentials(h, false, WithPolicy(p2))
	assert.Equal(t, 1, logs2.FilterMessageSnippet("require_transport_security is false").Len())
}

func okResponseErr(r *http.Request) (*http.Response, error) { return okResponse(r), nil }

// Issue 9 case 2, request side: any status other than 401 tells the handle
// the credential was accepted, which ends the 401 backoff. Virtual time: the
// base answers without a network.
func TestRoundTripperAcceptedResetsRejectedBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fetches atomic.Int64
		src := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
			n := fetches.Add(1)
			return tokencache.Token{Value: fmt.Sprintf("tok-%d", n)}, nil // a new token each time, refused too
		})
		h := newHandle(t, src, func(c *tokencache.Config) {
			c.MinInvalidateInterval = time.Second
			c.Interval = time.Hour
		})
		synctest.Wait()
		var status atomic.Int64
		status.Store(http.StatusUnauthorized)
		rt := NewRoundTripper(rtFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: int(status.Load()), Body: http.NoBody, Request: r}, nil
		}), h)
		send := func() int {
			req, err := http.NewRequest(http.MethodGet, "https://backend.example/v1/traces", http.NoBody)
			require.NoError(t, err)
			resp, err := rt.RoundTrip(req)
			require.NoError(t, err)
			return resp.StatusCode
		}
		t0 := time.Now()
		for time.Since(t0) < 8*time.Second { // 401s: fetches at 0, 1, 3, 7 s
			send()
			time.Sleep(100 * time.Millisecond)
		}
		synctest.Wait()
		require.Equal(t, int64(1+4), fetches.Load())

		status.Store(http.StatusOK)
		send() // accepted: the backoff ends
		status.Store(http.StatusUnauthorized)
		send() // 8 s: 1 s after the last rejection-driven fetch, not 8 s
		synctest.Wait()
		assert.Equal(t, int64(1+5), fetches.Load())
	})
}
