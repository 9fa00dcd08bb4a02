// Package authclient adapts a tokencache.Handle to HTTP and gRPC clients. Both
// adapters read the handle on every request (one atomic load), so a refreshed
// credential is used by the very next request; nothing is captured once.
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
// On 401 Unauthorized it calls Invalidate. When the body can be replayed
// (no body, http.NoBody, or GetBody set) it waits, bounded by the request's
// context and InitialWait, for a credential different from the one it sent and
// retries once with it; otherwise, or when no different credential appears, the
// 401 response is returned.
func NewRoundTripper(base http.RoundTripper, h *tokencache.Handle) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &roundTripper{base: base, h: h}
}

type roundTripper struct {
	base http.RoundTripper
	h    *tokencache.Handle
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
	resp, err := rt.base.RoundTrip(withHeader(req, e))
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
