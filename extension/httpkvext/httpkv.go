package httpkvext // import "github.com/otelcol-custom/otelcol-custom/extension/httpkvext"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-custom/otelcol-custom/extension/httpkvext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
)

var (
	errNotStarted = errors.New("httpkv: extension is not started")
	errShutdown   = errors.New("httpkv: extension is shut down")
)

// httpKV is the httpkv extension. It owns one HTTP client (built at Start from
// the confighttp settings, so the auth extension's RoundTripper is part of it)
// shared by every store it hands out, and the per_key concurrency limit.
type httpKV struct {
	cfg       *Config
	set       component.TelemetrySettings
	telemetry *metadata.TelemetryBuilder
	metrics   metricAttrs

	// Parsed once from the config.
	ptr                 pointer
	keyBefore, keyAfter string // per_key URL around the escaped key
	keyInQuery          bool
	bulkURL             string
	sem                 chan struct{} // per_key requests in flight

	client atomic.Pointer[http.Client]
	health kvcache.Health
	closed atomic.Bool
}

var (
	_ extension.Extension = (*httpKV)(nil)
	_ kvcache.Provider    = (*httpKV)(nil)
)

func newHTTPKV(cfg *Config, set extension.Settings) (*httpKV, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	ptr, err := parsePointer(cfg.ValuePointer)
	if err != nil {
		return nil, fmt.Errorf("value_pointer: %w", err)
	}
	e := &httpKV{cfg: cfg, set: set.TelemetrySettings, telemetry: tb, metrics: newMetricAttrs(cfg.Mode), ptr: ptr,
		health: kvcache.Health{
			Logger:    set.Logger,
			Failing:   "Lookup API calls fail; lookups fail open until it answers again",
			Recovered: "Lookup API calls succeed again",
		}}
	base := strings.TrimSuffix(cfg.Endpoint, "/")
	switch cfg.Mode {
	case ModeBulk:
		e.bulkURL = base + cfg.Bulk.Path
	default:
		before, after, err := splitPathTemplate(cfg.PerKey.Path)
		if err != nil {
			return nil, fmt.Errorf("per_key::path: %w", err)
		}
		e.keyBefore, e.keyAfter = base+before, after
		e.keyInQuery = strings.Contains(before, "?")
		e.sem = make(chan struct{}, cfg.PerKey.MaxConcurrency)
	}
	return e, nil
}

// Start builds the HTTP client. It makes no request: an API that is down at
// start fails lookups (which the processor fails open), not the collector. Only
// settings that cannot work (an auth extension that is missing, unreadable TLS
// files) fail Start.
func (e *httpKV) Start(ctx context.Context, host component.Host) error {
	e.health.Start(host)
	cc := e.cfg.ClientConfig
	if ka := cc.Keepalive.Get(); ka != nil && ka.MaxIdleConnsPerHost == 0 && e.sem != nil {
		// Keep as many idle connections as GETs run at once (net/http keeps 2),
		// or each GET beyond 2 opens a new connection.
		k := *ka
		k.MaxIdleConnsPerHost = cap(e.sem)
		cc.Keepalive = configoptional.Some(k)
	}
	client, err := cc.ToClient(ctx, host.GetExtensions(), e.set)
	if err != nil {
		return fmt.Errorf("httpkv: http client: %w", err)
	}
	e.client.Store(client)
	return nil
}

// Shutdown closes idle connections; calls made afterwards fail.
func (e *httpKV) Shutdown(context.Context) error {
	e.closed.Store(true)
	e.health.Shutdown()
	if c := e.client.Swap(nil); c != nil {
		c.CloseIdleConnections()
	}
	e.telemetry.Shutdown()
	return nil
}

// Store returns a read-only store over the API. Every owner shares one keyspace:
// the key is what the API is asked for.
func (e *httpKV) Store(context.Context, component.ID) (kvcache.Store, error) {
	if e.closed.Load() {
		return nil, errShutdown
	}
	return &store{e: e}, nil
}

// httpClient returns the client, or why there is none.
func (e *httpKV) httpClient() (*http.Client, error) {
	if c := e.client.Load(); c != nil {
		return c, nil
	}
	if e.closed.Load() {
		return nil, errShutdown
	}
	return nil, errNotStarted
}
