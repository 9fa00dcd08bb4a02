//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-custom/otelcol-custom/internal/e2e/harness"
)

// kvLog is one log record with its resource, as the file exporter wrote it.
type kvLog struct {
	resource pcommon.Map
	record   plog.LogRecord
}

func (l kvLog) run() string { return attrString(l.resource, runAttr) }

// kvLogs returns every log record in the file exporter output at path.
func kvLogs(t *testing.T, path string) []kvLog {
	t.Helper()
	var out []kvLog
	for _, ld := range harness.ReadLogs(t, path) {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out = append(out, kvLog{resource: rl.Resource().Attributes(), record: lr})
				}
			}
		}
	}
	return out
}

// sendLogs runs telemetrygen to completion: n log records with the given body and
// severity (telemetrygen wants the text to match the number), the resource attributes
// service.name=service and e2e.run=run.
func sendLogs(t *testing.T, endpoint, service, run string, n int, body, severityText string, severity int) {
	t.Helper()
	harness.RunTelemetrygen(t, 60*time.Second, nil,
		"logs", "--otlp-insecure", "--otlp-endpoint", endpoint, "--rate", "0",
		"--logs", strconv.Itoa(n), "--service", service, "--body", body,
		"--severity-text", severityText, "--severity-number", strconv.Itoa(severity),
		"--otlp-attributes", fmt.Sprintf("%s=%q", runAttr, run))
}

// kvOTTLConfig: OTLP gRPC in -> kvcache (memkv loaded from dataFile) -> file, for
// traces and logs. The span lookup keys on the resource's service.name and the span
// name, only for server spans; the log lookup keys on the lowercased body, only from
// WARN up.
func kvOTTLConfig(dataFile, tracesOut, logsOut string) func(p *harness.Ports) string {
	return func(p *harness.Ports) string {
		return fmt.Sprintf(`
extensions:
  health_check:
    endpoint: %[1]s
  memkv/e2e:
    file:
      path: %[2]q
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %[3]s
processors:
  kvcache:
    store: memkv/e2e
    timeout: 5s
    fetch_timeout: 10s
    lookups:
      - context: span
        key:
          expression: 'Concat([resource.attributes["service.name"], span.name], ":")'
          prefix: "op:"
        where: 'span.kind == SPAN_KIND_SERVER'
        target: op.owner
      - context: log
        key:
          expression: 'ConvertCase(log.body, "lower")'
          prefix: "msg:"
        where: 'log.severity_number >= SEVERITY_NUMBER_WARN'
        target: msg.class
exporters:
  file/traces:
    path: %[4]q
    flush_interval: 100ms
  file/logs:
    path: %[5]q
    flush_interval: 100ms
service:
  extensions: [health_check, memkv/e2e]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [kvcache]
      exporters: [file/traces]
    logs:
      receivers: [otlp]
      processors: [kvcache]
      exporters: [file/logs]
  telemetry:
    metrics:
      level: none
`, p.Endpoint(harness.HealthCheck), dataFile, p.Endpoint(kvPortGRPC), tracesOut, logsOut)
	}
}

// TestKVCacheOTTLKeysAndWhere: telemetrygen spans and logs -> otlp -> kvcache with
// key::expression and where (memkv store) -> file. Record by record: server spans are
// enriched by service + span name, client spans (whose keys are in the store too) are
// left alone by where; WARN logs are enriched by their lowercased body, INFO logs with
// the same body are left alone; nothing is lost or duplicated.
func TestKVCacheOTTLKeysAndWhere(t *testing.T) {
	harness.RequireComponents(t, "kvcache", "memkv", "otlp", "file")
	dir := t.TempDir()
	data := filepath.Join(dir, "data.yaml")
	require.NoError(t, os.WriteFile(data, []byte(`
"op:checkout:lets-go": owner-of-lets-go
"op:checkout:okey-dokey-0": owner-of-okey-dokey-0
"msg:payment failed": billing
`), 0o600))
	tracesOut := filepath.Join(dir, "traces.json")
	logsOut := filepath.Join(dir, "logs.json")
	col := harness.Start(t, harness.Options{Name: "kvcache-ottl", Config: kvOTTLConfig(data, tracesOut, logsOut)})
	endpoint := col.Endpoint(kvPortGRPC)

	sendTraces(t, endpoint, "checkout", "ottl-checkout", 4)
	sendTraces(t, endpoint, "search", "ottl-search", 2) // no such key: unchanged
	sendLogs(t, endpoint, "checkout", "ottl-warn", 5, "Payment FAILED", "Warn", 13)
	sendLogs(t, endpoint, "checkout", "ottl-info", 3, "Payment FAILED", "Info", 9)

	servers := 0
	for _, s := range ofRun(t, kvSpans, tracesOut, "ottl-checkout", 8) {
		var want map[string]any // both span names have an entry; where picks the server span
		if s.span.Kind() == ptrace.SpanKindServer {
			servers++
			want = map[string]any{"op.owner": "owner-of-" + s.span.Name()}
		}
		assertAttrs(t, want, s.span.Attributes(), "op.", fmt.Sprintf("span %q (kind %v)", s.span.Name(), s.span.Kind()))
	}
	assert.Equal(t, 4, servers, "one server span per trace")
	for _, s := range ofRun(t, kvSpans, tracesOut, "ottl-search", 4) {
		assertAttrs(t, nil, s.span.Attributes(), "op.", "span of a service without entries")
	}
	for _, l := range ofRun(t, kvLogs, logsOut, "ottl-warn", 5) {
		assertAttrs(t, map[string]any{"msg.class": "billing"}, l.record.Attributes(), "msg.", "WARN log")
		assert.Equal(t, "Payment FAILED", l.record.Body().Str(), "the body the key came from is left as it was")
	}
	for _, l := range ofRun(t, kvLogs, logsOut, "ottl-info", 3) {
		assertAttrs(t, nil, l.record.Attributes(), "msg.", "INFO log (where does not match)")
	}

	col.Stop() // flushes the file exporters
	assert.Equal(t, 2*(4+2), harness.CountSpans(t, tracesOut), "exactly the spans sent")
	assert.Equal(t, 5+3, len(kvLogs(t, logsOut)), "exactly the logs sent")
}
