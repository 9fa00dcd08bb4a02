package tokencache // import "github.com/otelcol-custom/otelcol-custom/internal/tokencache"

import (
	"errors"

	"github.com/otelcol-custom/otelcol-custom/extension/bearertoken"
)

// Changed returns a channel that is closed the next time the published Entry
// may have changed (a publish, a withdrawal, or an answered Invalidate, so a
// wake-up may be spurious). Closing never waits for a reader: a consumer that
// is slow, or never reads, cannot hold up the Refresher. It takes the handle's
// mutex, so it is for consumers that watch for rotations, not for the request
// path (which only calls Current).
func (h *Handle) Changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

var errNoToken = errors.New("not fetched yet, or the last token expired without a replacement")

// Provider returns the handle as a bearertoken.Provider: the capability that
// components other than HTTP/gRPC clients use (see extension/bearertoken).
func (h *Handle) Provider() bearertoken.Provider { return handleProvider{h} }

type handleProvider struct{ h *Handle }

// Token is an atomic load of the published Entry; only the error path
// allocates.
func (p handleProvider) Token() (bearertoken.Token, error) {
	e := p.h.Current()
	if e == nil {
		return bearertoken.Token{}, p.h.waitError("no token available", errNoToken)
	}
	return bearertoken.Token{Value: e.Token.Value, Expiry: e.Token.Expiry}, nil
}

func (p handleProvider) Changed() <-chan struct{} { return p.h.Changed() }
