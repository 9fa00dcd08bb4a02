// Package tokencache owns all credential I/O of an auth extension: a background
// Refresher fetches tokens from a Source, refreshes them ahead of expiry, backs off
// with jitter on failure and keeps serving the last good token; the request path only
// reads the published *Entry through a lock-free Handle.
//
// Wiring in an auth extension (client side):
//
//	r, err := tokencache.New(src, cfg.Refresh, tokencache.Settings{
//		ID: set.ID, Telemetry: set.TelemetrySettings, Kind: "file",
//		Header: cfg.Header, Scheme: cfg.Scheme,
//	})
//	// Start:    r.Start(ctx, host)          (returns at once)
//	// Shutdown: r.Shutdown(ctx)
//	// Clients:  authclient.NewRoundTripper(base, r.Handle())
//	//           authclient.NewPerRPCCredentials(r.Handle(), requireTLS)
//	// Others:   r.Handle().Provider() (extension/bearertoken capability)
//
// Config is meant to be embedded as the `refresh:` block of the extension's
// configuration; NewDefaultConfig gives its defaults. The metrics are listed in
// documentation.md (generated from metadata.yaml).
package tokencache // import "github.com/otelcol-custom/otelcol-custom/internal/tokencache"

import (
	"context"
	"time"
)

// Token is one credential value as a Source returns it.
type Token struct {
	// Value is the secret itself. It is never logged or put into an error.
	Value string
	// Expiry is when the token stops being valid; zero means unknown.
	Expiry time.Time
	// RefreshAt, when set, is the time the issuer suggests refreshing at
	// (azcore's RefreshOn). It takes precedence over refresh_before.
	RefreshAt time.Time
}

// Source fetches a fresh token. Only the Refresher goroutine calls Fetch, so an
// implementation needs no locking of its own. It must honour ctx.
type Source interface {
	Fetch(ctx context.Context) (Token, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context) (Token, error)

// Fetch calls f.
func (f SourceFunc) Fetch(ctx context.Context) (Token, error) { return f(ctx) }

// Notifier is optionally implemented by a Source whose value can change at any
// time (a watched file). The Refresher re-fetches promptly after each signal on
// the channel (signals may be coalesced). Changes is called once, before the first
// Fetch; the channel is never closed by the Source while the Refresher runs.
type Notifier interface {
	Changes() <-chan struct{}
}

// Entry is what the Refresher publishes after each successful fetch. Everything a
// request needs is rendered once here, so the request path only loads a pointer.
// An Entry is immutable once published: never modify its fields, slices or map.
type Entry struct {
	Token Token
	// HeaderName is the canonical HTTP header name (e.g. "Authorization").
	HeaderName string
	// HeaderValues is []string{scheme + " " + token} (or the raw token when the
	// scheme is empty), with len == cap == 1 so an append by a caller copies.
	HeaderValues []string
	// Metadata is {lowercased header name: header value} for gRPC.
	Metadata map[string]string
}

// HeaderValue returns the rendered header value.
func (e *Entry) HeaderValue() string { return e.HeaderValues[0] }
