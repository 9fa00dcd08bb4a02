//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/internal/e2e/harness"
)

// lookupAPI is the HTTP lookup API of the httpkv e2e test: POST /v1/batch answers
// {"<key>": {"attributes": {...}}} for the services it knows; GET
// /v1/routes/<escaped key> answers {"queue": "..."} or 404. Every request must
// carry the bearer token.
type lookupAPI struct {
	token    string
	services map[string]string // key -> JSON attributes
	routes   map[string]string // key -> queue

	bulkRequests, keyRequests, refused atomic.Int64
	mu                                 sync.Mutex
	routeKeys                          []string // the keys GET asked for, unescaped
}

func (a *lookupAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+a.token {
		a.refused.Add(1)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/batch":
		a.bulkRequests.Add(1)
		var req struct{ Keys []string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		out := map[string]json.RawMessage{}
		for _, k := range req.Keys {
			if v, ok := a.services[k]; ok {
				out[k] = json.RawMessage(`{"attributes": ` + v + `}`)
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.EscapedPath(), "/v1/routes/"):
		a.keyRequests.Add(1)
		key, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/v1/routes/"))
		if err != nil {
			http.Error(w, "bad escape", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.routeKeys = append(a.routeKeys, key)
		a.mu.Unlock()
		q, ok := a.routes[key]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = fmt.Fprintf(w, `{"queue": %q, "updated": "2026-01-01"}`, q)
	default:
		http.NotFound(w, r)
	}
}

// kvHTTPConfig: OTLP gRPC in -> kvcache/services (httpkv bulk) -> kvcache/routes
// (httpkv per key) -> file. Both httpkv extensions authenticate with bearerauth
// reading tokenFile.
func kvHTTPConfig(apiURL, tokenFile, outFile string) func(p *harness.Ports) string {
	return func(p *harness.Ports) string {
		return fmt.Sprintf(`
extensions:
  health_check:
    endpoint: %[1]s
  bearerauth/cmdb:
    token_file: %[2]q
  httpkv/services:
    endpoint: %[3]s
    mode: bulk
    bulk:
      path: /v1/batch
    value_pointer: /attributes
    auth:
      authenticator: bearerauth/cmdb
  httpkv/routes:
    endpoint: %[3]s
    per_key:
      path: /v1/routes/{key}
      max_concurrency: 4
    value_pointer: /queue
    auth:
      authenticator: bearerauth/cmdb
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %[4]s
processors:
  kvcache/services:
    store: httpkv/services
    timeout: 5s
    fetch_timeout: 10s
    lookups:
      - context: resource
        key: {attributes: [service.name], prefix: "svc:"}
        target_prefix: "owner."
        action: insert
  kvcache/routes:
    store: httpkv/routes
    timeout: 5s
    fetch_timeout: 10s
    lookups:
      - context: span
        key: {attributes: [tenant, service.peer.name], separator: "/", lowercase: true}
        target: route.queue
exporters:
  file:
    path: %[5]q
    flush_interval: 100ms
service:
  extensions: [health_check, bearerauth/cmdb, httpkv/services, httpkv/routes]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [kvcache/services, kvcache/routes]
      exporters: [file]
  telemetry:
    metrics:
      level: none
`, p.Endpoint(harness.HealthCheck), tokenFile, apiURL, p.Endpoint(kvPortGRPC), outFile)
	}
}

// TestKVCacheHTTPEnrichment: telemetrygen -> otlp -> kvcache (httpkv bulk, then
// httpkv per key, both behind a bearer token) -> file. Spans are enriched where
// the API knows their keys and pass unchanged where it does not; a composite key
// with '/' reaches the API intact; exactly the spans sent come out.
func TestKVCacheHTTPEnrichment(t *testing.T) {
	harness.RequireComponents(t, "kvcache", "httpkv", "bearerauth", "otlp", "file")
	api := &lookupAPI{
		token:    "e2e-httpkv-token-0123456789",
		services: map[string]string{"svc:checkout": `{"team": "payments", "tier": 1, "oncall": {"primary": "alice"}}`},
		routes:   map[string]string{"acme/telemetrygen-client": "priority"},
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	harness.WriteFile(t, tokenFile, []byte(api.token+"\n"))

	out := filepath.Join(dir, "traces.json")
	col := harness.Start(t, harness.Options{Name: "kvcache-httpkv", Config: kvHTTPConfig(srv.URL, tokenFile, out),
		Redact: []string{api.token}})
	sent := sendCheckoutAndOrphan(t, col.Endpoint(kvPortGRPC))
	assertOwnerAndRoute(t, out, map[string]any{"owner.team": "payments", "owner.tier": int64(1), "owner.oncall.primary": "alice"})
	col.Stop() // flushes the file exporter
	assert.Len(t, kvSpans(t, out), sent, "exactly the spans telemetrygen sent, none lost or duplicated")

	assert.Zero(t, api.refused.Load(), "every request carried the bearer token")
	assert.Positive(t, api.bulkRequests.Load())
	assert.Positive(t, api.keyRequests.Load())
	api.mu.Lock()
	defer api.mu.Unlock()
	require.Contains(t, api.routeKeys, "acme/telemetrygen-client", "the composite key with '/' arrived as one path segment")
	t.Logf("API requests: %d bulk POSTs, %d per-key GETs for %d spans in 2 telemetrygen runs",
		api.bulkRequests.Load(), api.keyRequests.Load(), sent)
}
