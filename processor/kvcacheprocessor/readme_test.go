package kvcacheprocessor

import (
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/metadata"
)

// readmeConfigs returns every kvcache processor configuration of the README's YAML
// examples, by component ID, loaded into the default config (not validated).
func readmeConfigs(t *testing.T) map[string]*Config {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	out := map[string]*Config{}
	for _, b := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		var doc struct {
			Processors map[string]map[string]any `yaml:"processors"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(b[1]), &doc), b[1])
		for name, raw := range doc.Processors {
			var id component.ID
			require.NoError(t, id.UnmarshalText([]byte(name)))
			if id.Type() != metadata.Type {
				continue
			}
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(cfg), name)
			out[name] = cfg
		}
	}
	return out
}

// TestREADMEExamples validates every kvcache configuration in the README.
func TestREADMEExamples(t *testing.T) {
	cfgs := readmeConfigs(t)
	assert.GreaterOrEqual(t, len(cfgs), 4, "examples found in README.md")
	for name, cfg := range cfgs {
		assert.NoError(t, confmap.Validate(cfg), name)
	}
}

// TestREADMEOTTLExamples runs each example of the README's OTTL section over a test
// store and checks what it does to sample records.
func TestREADMEOTTLExamples(t *testing.T) {
	cfgs := readmeConfigs(t)
	run := func(t *testing.T, name string, data map[string]string) *harness {
		cfg, ok := cfgs[name]
		require.True(t, ok, "README.md has no %s example", name)
		cfg.Store = storeID
		cfg.Timeout, cfg.FetchTimeout = 2*time.Second, 5*time.Second
		return newHarness(t, cfg, memStore(data))
	}

	t.Run("span_name", func(t *testing.T) {
		h := run(t, "kvcache/span_name", map[string]string{"op:GET /cart": "team-cart"})
		td := spans(nil, map[string]any{}, map[string]any{})
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetName("GET /cart")
		out := h.consumeTraces(td)
		assert.Equal(t, map[string]any{"op.owner": "team-cart"}, spanAttrs(out, 0))
		assert.Equal(t, map[string]any{}, spanAttrs(out, 1), "another name, not in the store")
	})

	t.Run("composite", func(t *testing.T) {
		h := run(t, "kvcache/composite", map[string]string{"checkout:/cart": "team-cart"})
		out := h.consumeTraces(spans(map[string]any{"service.name": "checkout"},
			map[string]any{"http.route": "/cart"}, map[string]any{"http.route": "/pay"}))
		assert.Equal(t, "team-cart", spanAttrs(out, 0)["route.owner"])
		assert.Equal(t, "unknown", spanAttrs(out, 1)["route.owner"], "checkout:/pay is not stored: default")
	})

	t.Run("log_body", func(t *testing.T) {
		h := run(t, "kvcache/log_body", map[string]string{"user:alice": `{"plan":"pro"}`})
		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		lrs.AppendEmpty().Body().SetEmptyMap().PutStr("user", "Alice")
		lrs.AppendEmpty().Body().SetStr("not a map")
		out := h.consumeLogs(ld).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		assert.Equal(t, map[string]any{"user.plan": "pro"}, out.At(0).Attributes().AsRaw())
		assert.Equal(t, map[string]any{}, out.At(1).Attributes().AsRaw(), "no user field: no key")
	})

	t.Run("where", func(t *testing.T) {
		h := run(t, "kvcache/where", nil)
		server, client := pcommon.TraceID{1}, pcommon.TraceID{2}
		td := spans(nil, map[string]any{"user.id": "u-1"}, map[string]any{"user.id": "u-2"})
		ss := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
		ss.At(0).SetKind(ptrace.SpanKindServer)
		ss.At(0).SetTraceID(server)
		ss.At(1).SetKind(ptrace.SpanKindClient)
		ss.At(1).SetTraceID(client)
		h.consumeTraces(td)

		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for _, l := range []struct {
			tid pcommon.TraceID
			sev plog.SeverityNumber
		}{{server, plog.SeverityNumberError}, {server, plog.SeverityNumberInfo}, {client, plog.SeverityNumberError}} {
			lr := lrs.AppendEmpty()
			lr.SetTraceID(l.tid)
			lr.SetSeverityNumber(l.sev)
		}
		out := h.consumeLogs(ld).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		assert.Equal(t, map[string]any{"user.id": "u-1"}, out.At(0).Attributes().AsRaw(), "error log of the server span's trace")
		assert.Equal(t, map[string]any{}, out.At(1).Attributes().AsRaw(), "info log: where does not match")
		assert.Equal(t, map[string]any{}, out.At(2).Attributes().AsRaw(), "the client span did not write")
	})
}
