//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-custom/otelcol-custom/internal/e2e/harness"
	"github.com/otelcol-custom/otelcol-custom/internal/redistest"
)

// Port name of the OTLP gRPC receiver in the kvcache configs.
const kvPortGRPC = "otlp_grpc"

// runAttr is a resource attribute set by telemetrygen (--otlp-attributes) that
// tells the test which run a span came from.
const runAttr = "e2e.run"

// kvSpan is one span with its resource, as the file exporter wrote it.
type kvSpan struct {
	resource pcommon.Map
	span     ptrace.Span
}

func (s kvSpan) run() string  { return attrString(s.resource, runAttr) }
func (s kvSpan) peer() string { return attrString(s.span.Attributes(), "service.peer.name") }

// attrString returns the string form of attribute k of m, "" when m lacks it.
func attrString(m pcommon.Map, k string) string {
	if v, ok := m.Get(k); ok {
		return v.AsString()
	}
	return ""
}

// kvSpans returns every span in the file exporter output at path.
func kvSpans(t *testing.T, path string) []kvSpan {
	t.Helper()
	var out []kvSpan
	for _, td := range harness.ReadTraces(t, path) {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					out = append(out, kvSpan{resource: rs.Resource().Attributes(), span: sp})
				}
			}
		}
	}
	return out
}

// ofRun waits (bounded) until read(t, path) holds want records (spans or logs) of
// run and returns them.
func ofRun[T interface{ run() string }](t *testing.T, read func(*testing.T, string) []T, path, run string, want int) []T {
	t.Helper()
	var got []T
	err := harness.Poll(t.Context(), 30*time.Second, func(context.Context) error {
		got = got[:0]
		for _, r := range read(t, path) {
			if r.run() == run {
				got = append(got, r)
			}
		}
		if len(got) < want {
			return fmt.Errorf("%d of %d records of run %s written", len(got), want, run)
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, want, "run %s", run)
	return got
}

// sendTraces runs telemetrygen to completion: traces traces of two spans each
// (telemetrygen's "lets-go" server span and its "okey-dokey-0" client child),
// with the resource attributes service.name=service and e2e.run=run.
func sendTraces(t *testing.T, endpoint, service, run string, traces int, extra ...string) {
	t.Helper()
	args := append([]string{
		"traces", "--otlp-insecure", "--otlp-endpoint", endpoint, "--rate", "0",
		"--traces", strconv.Itoa(traces), "--service", service,
		"--otlp-attributes", fmt.Sprintf("%s=%q", runAttr, run),
	}, extra...)
	harness.RunTelemetrygen(t, 60*time.Second, nil, args...)
}

// sendCheckoutAndOrphan sends the traffic of the owner-and-route tests: 5 traces
// of service checkout (run checkout) and 3 of service orphan (run orphan), every
// span with tenant=Acme (which the route lookup lowercases into its key). It
// returns the number of spans sent.
func sendCheckoutAndOrphan(t *testing.T, endpoint string) int {
	t.Helper()
	tenant := "--telemetry-attributes=tenant=\"Acme\""
	sendTraces(t, endpoint, "checkout", "checkout", 5, tenant)
	sendTraces(t, endpoint, "orphan", "orphan", 3, tenant)
	return 2 * (5 + 3)
}

// assertOwnerAndRoute checks the spans that sendCheckoutAndOrphan sent, as the
// owner-and-route configs enrich them: the resource of every checkout span
// carries checkoutOwner as owner.*, that of an orphan span (no entry) no owner.*;
// the client span (peer telemetrygen-client) has route.queue=priority, the server
// span (no entry for its route) no route.*; the tenant attribute the route key
// came from is left as it was.
func assertOwnerAndRoute(t *testing.T, out string, checkoutOwner map[string]any) {
	t.Helper()
	for _, run := range []struct {
		name  string
		spans int
		owner map[string]any
	}{{"checkout", 10, checkoutOwner}, {"orphan", 6, nil}} {
		for _, s := range ofRun(t, kvSpans, out, run.name, run.spans) {
			assertAttrs(t, run.owner, s.resource, "owner.", "resource of a "+run.name+" span")
			var want map[string]any
			if s.peer() == "telemetrygen-client" {
				want = map[string]any{"route.queue": "priority"}
			}
			assertAttrs(t, want, s.span.Attributes(), "route.", fmt.Sprintf("span %q of run %s", s.span.Name(), run.name))
			assert.Equal(t, "Acme", attrString(s.span.Attributes(), "tenant"), "the key's source attribute is left as it was")
		}
	}
}

// assertAttrs checks that m holds exactly the want attributes among those whose
// names start with prefix, with their types (an int stays an int).
func assertAttrs(t *testing.T, want map[string]any, m pcommon.Map, prefix, msg string) {
	t.Helper()
	got := map[string]any{}
	for k, v := range m.All() {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			got[k] = v.AsRaw()
		}
	}
	if want == nil {
		want = map[string]any{}
	}
	assert.Equal(t, want, got, msg)
}

// kvRedisConfig: OTLP gRPC in -> kvcache (store rediskv on redisAddr) -> file.
// Two lookups: the resource's service.name -> a JSON object set as owner.*, and
// a composite span key (tenant, service.peer.name; lowercased) -> a string set
// as route.queue. timeout is generous so that enrichment is deterministic on a
// busy machine (the cache is cold at the first batch).
func kvRedisConfig(redisAddr, outFile string) func(p *harness.Ports) string {
	return func(p *harness.Ports) string {
		return fmt.Sprintf(`
extensions:
  health_check:
    endpoint: %[1]s
  rediskv:
    endpoints: [%[2]s]
    key_prefix: "e2e:"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %[3]s
processors:
  kvcache:
    store: rediskv
    timeout: 5s
    fetch_timeout: 10s
    lookups:
      - context: resource
        key: {attributes: [service.name], prefix: "svc:"}
        target_prefix: "owner."
        action: insert
      - context: span
        key: {attributes: [tenant, service.peer.name], separator: "/", lowercase: true, prefix: "route:"}
        target: route.queue
exporters:
  file:
    path: %[4]q
    flush_interval: 100ms
service:
  extensions: [health_check, rediskv]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [kvcache]
      exporters: [file]
  telemetry:
    metrics:
      level: none
`, p.Endpoint(harness.HealthCheck), redisAddr, p.Endpoint(kvPortGRPC), outFile)
	}
}

// TestKVCacheRedisEnrichment: telemetrygen -> otlp -> kvcache (rediskv, values
// loaded with redis-cli) -> file. Every span is enriched from Redis where its
// keys exist and passes unchanged where they do not; exactly the spans sent come
// out; a value changed with redis-cli shows up in the next spans (Redis
// client-side caching invalidates the processor's local cache, whose ttl is 5m).
func TestKVCacheRedisEnrichment(t *testing.T) {
	harness.RequireComponents(t, "kvcache", "rediskv", "otlp", "file")
	srv := redistest.Start(t)
	srv.CLI(t, "SET", "e2e:svc:checkout",
		`{"team":"payments","tier":1,"cost":1.5,"paging":true,"oncall":{"primary":"alice"},"regions":["eu","us"]}`)
	srv.CLI(t, "SET", "e2e:route:acme/telemetrygen-client", "priority")
	// Deliberately absent: e2e:svc:orphan and e2e:route:acme/telemetrygen-server.

	out := filepath.Join(t.TempDir(), "traces.json")
	col := harness.Start(t, harness.Options{Name: "kvcache-redis", Config: kvRedisConfig(srv.Addr(), out)})
	endpoint := col.Endpoint(kvPortGRPC)

	sent := sendCheckoutAndOrphan(t, endpoint)
	assertOwnerAndRoute(t, out, map[string]any{
		"owner.team":           "payments",
		"owner.tier":           int64(1),
		"owner.cost":           1.5,
		"owner.paging":         true,
		"owner.oncall.primary": "alice",
		"owner.regions":        `["eu","us"]`,
	})
	stats := srv.CommandStats(t)
	assert.Positive(t, stats["mget"], "reads are MGETs")
	assert.Zero(t, stats["get"], "no per-key GET")

	// A changed value: the next spans carry it (invalidation, not ttl expiry).
	srv.CLI(t, "SET", "e2e:svc:checkout", `{"team":"payments-v2","tier":2}`)
	changedAt := time.Now()
	for attempt := 1; ; attempt++ {
		sentAfter := time.Since(changedAt)
		require.Less(t, sentAfter, 10*time.Second, "the changed value never showed up")
		run := "update-" + strconv.Itoa(attempt)
		sendTraces(t, endpoint, "checkout", run, 1)
		sent += 2
		spans := ofRun(t, kvSpans, out, run, 2)
		if attrString(spans[0].resource, "owner.team") == "payments-v2" {
			for _, s := range spans {
				assertAttrs(t, map[string]any{"owner.team": "payments-v2", "owner.tier": int64(2)}, s.resource, "owner.", "after the change")
			}
			t.Logf("the value changed with redis-cli was on the trace sent %v after the change (attempt %d)",
				sentAfter.Round(time.Millisecond), attempt)
			break
		}
	}

	col.Stop() // flushes the file exporter
	assert.Len(t, kvSpans(t, out), sent, "exactly the spans telemetrygen sent, none lost or duplicated")
}
