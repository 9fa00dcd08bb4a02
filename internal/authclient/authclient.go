// Package authclient adapts a tokencache.Handle to HTTP and gRPC clients. Both
// adapters read the handle on every request (one atomic load), so a refreshed
// credential is used by the very next request; nothing is captured once.
package authclient // import "github.com/otelcol-custom/otelcol-custom/internal/authclient"

import (
	"context"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// maxDrain bounds how much of a 401 body is read so the connection can be reused.
const maxDrain = 64 << 10

// NewRoundTripper returns an http.RoundTripper that sends each request through
// base with the handle's header set.
//
// It honours the RoundTripper contract: the caller's *http.Request and its
// Header map are never modified. The request is copied shallowly (one
// allocation) and given a header map holding the caller's entries plus the
// credential. It is cheaper than req.Clone, which also deep-copies the URL,
// trailers and values. Where that map comes from depends on base:
//
//   - base is an *http.Transport, which only reads a request's header map
//     (confighttp puts the auth RoundTripper directly over it when no client
//     middleware is configured): the map is built once per credential and
//     caller header set and shared, read-only, by every request whose header
//     map has the same contents. Exporters send the same few headers on every
//     request, so the hot path is a comparison and no map allocation.
//   - any other base (a middleware might edit its request in place): each
//     request gets a map of its own (see headerWith).
//
// Before the first credential exists the request waits at most the handle's
// InitialWait (or its context), then fails with an error: the exporter's retry
// and queue keep the data.
//
// On 401 Unauthorized it calls Invalidate. When the body can be replayed
// (no body, http.NoBody, or GetBody set) it waits, bounded by the request's
// context and InitialWait, for a credential different from the one it sent and
// retries once with it; otherwise, or when no different credential appears, the
// 401 response is returned.
func NewRoundTripper(base http.RoundTripper, h *tokencache.Handle) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &roundTripper{base: base, h: h, shareHeaders: readsHeadersOnly(base)}
}

type roundTripper struct {
	base http.RoundTripper
	h    *tokencache.Handle

	// shareHeaders: base never writes to a request's header map, so tmpl may
	// be handed to it (and, through resp.Request, back to the caller).
	shareHeaders bool
	tmpl         atomic.Pointer[headerTemplate]
	misses       atomic.Uint32
}

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	e := rt.h.Current()
	if e == nil {
		var err error
		if e, err = rt.h.Wait(req.Context()); err != nil {
			closeBody(req)
			return nil, err
		}
	}
	resp, err := rt.base.RoundTrip(rt.withHeader(req, e))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	rt.h.Invalidate()
	if !replayable(req) {
		return resp, nil
	}
	e2, werr := rt.h.WaitChanged(req.Context(), e)
	if werr != nil {
		return resp, nil
	}
	r2 := rt.withHeader(req, e2)
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		body, gerr := req.GetBody()
		if gerr != nil {
			return resp, nil
		}
		r2.Body = body
	}
	if resp.Body != nil {
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
		_ = resp.Body.Close()
	}
	return rt.base.RoundTrip(r2)
}

// withHeader returns a shallow copy of req whose Header holds the caller's
// entries plus the credential header.
func (rt *roundTripper) withHeader(req *http.Request, e *tokencache.Entry) *http.Request {
	r2 := new(http.Request)
	*r2 = *req
	r2.Header = rt.header(req.Header, e)
	return r2
}

// rebuildAfterMisses bounds the cost of callers whose headers differ on every
// request (a per-request traceparent, say): the shared map is rebuilt from
// the current request at most once per this many misses, and the other misses
// copy as headerWith does.
const rebuildAfterMisses = 32

func (rt *roundTripper) header(h http.Header, e *tokencache.Entry) http.Header {
	if !rt.shareHeaders {
		return headerWith(h, e)
	}
	t := rt.tmpl.Load()
	if t != nil && t.entry == e && t.matches(h) {
		return t.out
	}
	// A new credential rebuilds at once: it is shared by every later request.
	if t == nil || t.entry != e || rt.misses.Add(1)%rebuildAfterMisses == 0 {
		t = newHeaderTemplate(h, e)
		rt.tmpl.Store(t)
		return t.out
	}
	return headerWith(h, e)
}

// headerTemplate is immutable once published.
type headerTemplate struct {
	entry *tokencache.Entry
	// keys and values are a deep copy of the caller's header the template was
	// built from, as slices: checking a request against them is a lookup per
	// key in the request's map, cheaper than iterating over that map. They
	// are never handed out, so a caller reusing its own header map or value
	// arrays later cannot change them.
	keys   []string
	values [][]string
	// out is the caller's header plus the credential: what base receives.
	out http.Header
}

func newHeaderTemplate(h http.Header, e *tokencache.Entry) *headerTemplate {
	src := h.Clone() // copies the values too
	if src == nil {
		src = http.Header{}
	}
	t := &headerTemplate{entry: e, out: headerWith(src, e)}
	for k, v := range src {
		t.keys = append(t.keys, k)
		t.values = append(t.values, v)
	}
	return t
}

// matches reports whether h holds exactly the template's keys and values. It
// does not allocate.
func (t *headerTemplate) matches(h http.Header) bool {
	if len(h) != len(t.keys) {
		return false
	}
	for i, k := range t.keys {
		v, ok := h[k]
		if !ok || !slices.Equal(v, t.values[i]) {
			return false
		}
	}
	return true
}

// readsHeadersOnly reports whether base is known never to write to a
// request's header map. net/http's Transport only reads it (in Go 1.26,
// transport.go and h2_bundle.go edit response headers, never request ones).
func readsHeadersOnly(base http.RoundTripper) bool {
	_, ok := base.(*http.Transport)
	return ok
}

// headerWith copies h and sets the credential header in the copy. maps.Clone
// copies the hash table as is (no rehashing), which is cheaper than inserting
// entry by entry; value slices with spare capacity are then clipped to
// len == cap so that an append downstream copies instead of writing into the
// caller's array. Alternatives are measured in BenchmarkHeaderCopy.
func headerWith(h http.Header, e *tokencache.Entry) http.Header {
	c := maps.Clone(h)
	if c == nil {
		c = make(http.Header, 1)
	}
	for k, v := range c {
		if len(v) != cap(v) {
			c[k] = v[:len(v):len(v)]
		}
	}
	c[e.HeaderName] = e.HeaderValues
	return c
}

func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// NewPerRPCCredentials returns gRPC per-RPC credentials that read the handle on
// every call.
//
// GetRequestMetadata returns the Entry's prebuilt Metadata map itself: no
// allocation. The map is shared and read-only. gRPC only reads it: in
// google.golang.org/grpc v1.85.0, internal/transport/http2_client.go
// (getTrAuthData, getCallAuthData) ranges over the returned map and copies each
// pair into a map of its own. Callers must not modify it.
//
// Before the first credential exists it waits as Handle.Wait does and then
// fails with codes.Unavailable, which gRPC passes through and the exporter
// retries (a plain error would become Unauthenticated, a permanent failure).
func NewPerRPCCredentials(h *tokencache.Handle, requireTransportSecurity bool) credentials.PerRPCCredentials {
	return &perRPC{h: h, secure: requireTransportSecurity}
}

type perRPC struct {
	h      *tokencache.Handle
	secure bool
}

func (p *perRPC) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if e := p.h.Current(); e != nil {
		return e.Metadata, nil
	}
	e, err := p.h.Wait(ctx)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return e.Metadata, nil
}

func (p *perRPC) RequireTransportSecurity() bool { return p.secure }
