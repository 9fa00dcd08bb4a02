// Package authclienttest provides HTTP bases for tests and benchmarks of auth
// RoundTrippers: a real *http.Transport, which is what confighttp puts under
// the auth RoundTripper, with its network part replaced by a fixed response;
// and the refresh settings of client tests against a fake identity provider.
package authclienttest // import "github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// Token returns the i-th of distinct realistic opaque tokens for benchmarks:
// 44 characters, about the size of 32 random bytes in base64url (43).
func Token(i int) string { return fmt.Sprintf("k%05dQ7vXw2Lr9Tz4Hn8Ym3Bc6Df1Gj5Kp0Ns-Ua_Ve", i) }

// FastRefresh is a tokencache.Config for tests against a fake identity
// provider: retries within milliseconds, so failure tests run quickly, and
// 10s for the first token, so a slow machine does not fail them.
func FastRefresh() tokencache.Config {
	return tokencache.Config{
		BeforeExpiry:   5 * time.Minute,
		Interval:       time.Minute,
		InitialWait:    10 * time.Second,
		InitialBackoff: 50 * time.Millisecond,
		MaxBackoff:     300 * time.Millisecond,
	}
}

// NewTransport returns an *http.Transport that hands every http and https
// request to rt instead of the network. The Transport's own request handling
// (header validation, protocol dispatch) still runs; the dispatch goes to rt
// registered with RegisterProtocol, the hook net/http provides for
// alternative transports.
func NewTransport(rt http.RoundTripper) *http.Transport {
	t := &http.Transport{
		// A non-nil, empty TLSNextProto keeps the Transport from installing
		// its HTTP/2 support, which would register "https" itself.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	t.RegisterProtocol("http", rt)
	t.RegisterProtocol("https", rt)
	return t
}

// Responder answers every request with Response (the same value each time),
// without allocating. Used directly it is not an *http.Transport: it stands
// for any other base (a client middleware), about which an auth RoundTripper
// knows nothing; NewTransport(Responder{...}) is the Transport.
type Responder struct{ Response *http.Response }

// RoundTrip returns r.Response.
func (r Responder) RoundTrip(*http.Request) (*http.Response, error) { return r.Response, nil }

// Floor is the reference no auth RoundTripper can beat in a benchmark: Base
// alone, sending Prepared (a request already carrying the credential) whatever
// it is given.
type Floor struct {
	Base     http.RoundTripper
	Prepared *http.Request
}

// RoundTrip sends f.Prepared through f.Base.
func (f Floor) RoundTrip(*http.Request) (*http.Response, error) { return f.Base.RoundTrip(f.Prepared) }

// CopyFloor is the least a RoundTripper honouring the RoundTripper contract
// can do to add a header: one shallow copy of the caller's request carrying
// the prebuilt Header (no credential read, no header copy).
type CopyFloor struct {
	Base   http.RoundTripper
	Header http.Header
}

// RoundTrip sends a shallow copy of req with f.Header through f.Base.
func (f CopyFloor) RoundTrip(req *http.Request) (*http.Response, error) {
	r2 := new(http.Request)
	*r2 = *req
	r2.Header = f.Header
	return f.Base.RoundTrip(r2)
}

// Unauthorized answers every request 401: a server that keeps refusing the
// credential (revoked token, missing role assignment).
func Unauthorized(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) }

// RecordingServer starts a server that records the Authorization header of
// each request (empty when absent) and then lets h answer (nil: 200). seen
// returns the headers so far, oldest first.
func RecordingServer(t testing.TB, h http.HandlerFunc) (srv *httptest.Server, seen func() []string) {
	var mu sync.Mutex
	var got []string
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}
