// Package authclient adapts a tokencache.Handle to HTTP and gRPC clients. Both
// adapters read the handle on every request (one atomic load), so a refreshed
// credential is used by the very next request; nothing is captured once.
// IdPTransport is the transport the extensions reach their identity provider
// with.
package authclient // import "github.com/otelcol-custom/otelcol-custom/internal/authclient"

import (
	"context"
	"io"
	"maps"
	"net/http"

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
// The caller's *http.Request and its Header map are never modified (the
// RoundTripper contract): each request is a shallow copy carrying a copy of
// the caller's header map plus the credential (see headerWith).
//
// Before the first credential exists the request waits at most the handle's
// InitialWait (or its context), then fails with an error: the exporter's retry
// and queue keep the data.
//
// On 401 Unauthorized it asks for a refresh (Handle.InvalidateAndWait). When
// the body can be replayed (no body, http.NoBody, or GetBody set) and that
// refresh brings a different credential, it retries once with it; otherwise
// the 401 response is returned as soon as the refresh ends or is deferred.
// Any other status tells the handle that the credential was accepted.
//
// A redirected request (req.Response != nil: http.Client follows redirects
// above this RoundTripper) gets the credential only when it goes to the host
// and port of the request that started the chain without dropping from https
// to http, unless the Policy allows redirects (docs/design.md, "Redirects").
func NewRoundTripper(base http.RoundTripper, h *tokencache.Handle, opts ...Option) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	rt := &roundTripper{base: base, h: h, p: &Policy{}}
	for _, o := range opts {
		o(&rt.p)
	}
	return rt
}

// Option configures NewRoundTripper and NewPerRPCCredentials.
type Option func(**Policy)

// WithPolicy makes the adapter follow p. An extension passes the same Policy
// to all its adapters, so each warning is logged once per extension.
func WithPolicy(p *Policy) Option {
	return func(dst **Policy) {
		if p != nil {
			*dst = p
		}
	}
}

type roundTripper struct {
	base http.RoundTripper
	h    *tokencache.Handle
	p    *Policy
}

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Response != nil && !rt.p.mayFollow(req) {
		return rt.base.RoundTrip(req) // the caller's request, without the credential
	}
	if req.URL.Scheme == "http" {
		rt.p.checkPlaintext(req.URL)
	}
	e := rt.h.Current()
	if e == nil {
		var err error
		if e, err = rt.h.Wait(req.Context()); err != nil {
			closeBody(req)
			return nil, err
		}
	}
	resp, err := rt.base.RoundTrip(withHeader(req, e))
	if err != nil {
		return resp, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		rt.h.ReportAccepted()
		return resp, nil
	}
	if !replayable(req) {
		rt.h.Invalidate()
		return resp, nil
	}
	e2, werr := rt.h.InvalidateAndWait(req.Context(), e)
	if werr != nil {
		return resp, nil
	}
	r2 := withHeader(req, e2)
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

// withHeader returns a shallow copy of req (req.Clone would also deep-copy the
// URL and trailers, which are never modified here) whose Header is
// headerWith(req.Header, e).
func withHeader(req *http.Request, e *tokencache.Entry) *http.Request {
	r2 := new(http.Request)
	*r2 = *req
	r2.Header = headerWith(req.Header, e)
	return r2
}

// headerWith copies h and sets the credential header in the copy. Value
// slices are clipped to len == cap, so an append downstream copies instead of
// writing into the caller's array; that makes maps.Clone as safe as
// http.Header.Clone, one allocation cheaper (BenchmarkHeaderCopy).
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
// GetRequestMetadata returns the Entry's prebuilt Metadata map itself, shared
// and read-only: gRPC only reads it (docs/design.md, "Why handles only read cached state").
//
// Before the first credential exists it waits as Handle.Wait does and then
// fails with codes.Unavailable, which gRPC passes through and the exporter
// retries (a plain error would become Unauthenticated, a permanent failure).
//
// With requireTransportSecurity false the Policy logs a warning (once): gRPC
// will then send the credential over a plaintext connection if the endpoint
// is one.
func NewPerRPCCredentials(h *tokencache.Handle, requireTransportSecurity bool, opts ...Option) credentials.PerRPCCredentials {
	p := &Policy{}
	for _, o := range opts {
		o(&p)
	}
	if !requireTransportSecurity {
		p.warnInsecureGRPC()
	}
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
