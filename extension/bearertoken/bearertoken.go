// Package bearertoken is the bearer-token capability: a component that needs
// a token outside an HTTP/gRPC client (a Redis AUTH password, a hand-built
// request) reads it from the auth extension its config names, without knowing
// which extension that is. It is shaped like extension/kvcache: a small
// interface that auth extensions implement, and a helper that finds the
// provider a component names in its config.
//
// A Provider is a read endpoint over state the extension's background
// refresher keeps current: Token is an atomic load (no I/O, no lock, no
// allocation) and Changed is a broadcast that never waits for a consumer.
// docs/design.md ("The bearer-token capability") says what a consumer may and
// may not do.
package bearertoken // import "github.com/otelcol-custom/otelcol-custom/extension/bearertoken"

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
)

// Token is one bearer token as the provider serves it.
type Token struct {
	// Value is the secret itself (without any "Bearer " scheme). Never log it
	// or put it into an error.
	Value string
	// Expiry is when the token stops being valid; zero means unknown (a static
	// token or a token file).
	Expiry time.Time
}

// Provider hands out the current token of one auth extension. All methods are
// safe for concurrent use and never block.
type Provider interface {
	// Token returns the token being served. It fails, with an error naming the
	// extension and its last fetch error (never the secret), before the first
	// successful fetch and after the last good token expired without a
	// replacement. It is a lock-free read of the cache the extension's own
	// RoundTripper uses: call it as often as needed, it never does I/O.
	Token() (Token, error)
	// Changed returns a channel that is closed the next time the token may
	// have changed (a new token was published or the token was withdrawn).
	// Take the channel, read Token, and wait on the channel; after it is
	// closed, call Changed again for the next one. A wake-up may be spurious
	// (compare Token().Value). The refresher closes the channel and moves on,
	// so a slow or absent consumer never delays a refresh: it only misses
	// intermediate tokens, never the latest one.
	Changed() <-chan struct{}
}

// Extension is implemented by auth extensions that can provide a bearer token.
type Extension interface {
	extension.Extension
	// TokenProvider returns the extension's provider, or an error when this
	// instance has no client credential (for example a server-only
	// configuration). It is valid before Start: Token fails until the first
	// fetch after Start succeeds.
	TokenProvider() (Provider, error)
}

// GetProvider finds the extension id among the host's extensions and returns
// its Provider. The error names the ID when the extension is missing, is not a
// bearer-token provider, or has no client credential.
func GetProvider(host component.Host, id component.ID) (Provider, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("bearer token provider %q not found: add it to the service's extensions", id)
	}
	e, ok := ext.(Extension)
	if !ok {
		return nil, fmt.Errorf("extension %q is not a bearer token provider (use bearerauth, azureidentityauth or oauth2clientauth)", id)
	}
	p, err := e.TokenProvider()
	if err != nil {
		return nil, fmt.Errorf("extension %q cannot provide a bearer token: %w", id, err)
	}
	return p, nil
}
