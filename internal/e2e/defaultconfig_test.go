//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-custom/otelcol-custom/internal/e2e/harness"
)

// The demo token and data file of the default config (both public, in config/).
const (
	demoToken    = "otelcol-custom-demo-token"
	demoDataFile = "config/data/demo-enrichment.yaml"
)

// yamlMap returns m[keys[0]][keys[1]]... as a map, failing the test when a level
// is missing or not a map.
func yamlMap(t *testing.T, m map[string]any, keys ...string) map[string]any {
	t.Helper()
	for i, k := range keys {
		next, ok := m[k].(map[string]any)
		require.True(t, ok, "config/config.yaml: %s is not a map", strings.Join(keys[:i+1], "::"))
		m = next
	}
	return m
}

// defaultConfig returns config/config.yaml as `make run` uses it, with only what
// a test must change: loopback ports chosen at random, the memkv file replaced
// by dataFile (a copy the test may rewrite) and a file exporter writing outFile
// added to the traces pipeline next to debug. Everything else (bearerauth,
// memkv, kvcache, processors order, debug verbosity) is the shipped config.
func defaultConfig(t *testing.T, root, dataFile, outFile string) func(p *harness.Ports) string {
	raw, err := os.ReadFile(filepath.Join(root, "config", "config.yaml"))
	require.NoError(t, err)
	return func(p *harness.Ports) string {
		var cfg map[string]any
		require.NoError(t, yaml.Unmarshal(raw, &cfg))

		exts := yamlMap(t, cfg, "extensions")
		yamlMap(t, exts, "health_check")["endpoint"] = p.Endpoint(harness.HealthCheck)
		yamlMap(t, exts, "zpages")["endpoint"] = p.Endpoint("zpages")
		memkvs := 0
		for id := range exts {
			if id == "memkv" || strings.HasPrefix(id, "memkv/") {
				yamlMap(t, exts, id, "file")["path"] = dataFile
				memkvs++
			}
		}
		require.Equal(t, 1, memkvs, "config/config.yaml should have one memkv extension")

		protocols := yamlMap(t, cfg, "receivers", "otlp", "protocols")
		yamlMap(t, protocols, "grpc")["endpoint"] = p.Endpoint(kvPortGRPC)
		yamlMap(t, protocols, "http")["endpoint"] = p.Endpoint("otlp_http")

		service := yamlMap(t, cfg, "service")
		readers, ok := yamlMap(t, service, "telemetry", "metrics")["readers"].([]any)
		require.True(t, ok && len(readers) == 1, "config/config.yaml: one metrics reader expected")
		prom := yamlMap(t, readers[0].(map[string]any), "pull", "exporter", "prometheus")
		prom["port"] = p.Get("metrics")

		yamlMap(t, cfg, "exporters")["file/e2e"] = map[string]any{"path": outFile, "flush_interval": "100ms"}
		traces := yamlMap(t, service, "pipelines", "traces")
		traces["exporters"] = append(traces["exporters"].([]any), "file/e2e")

		out, err := yaml.Marshal(cfg)
		require.NoError(t, err)
		return string(out)
	}
}

// demoEntry returns the demo data file's entry for key (a map of fields).
func demoEntry(t *testing.T, path, key string) map[string]any {
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var data map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &data))
	entry, ok := data[key].(map[string]any)
	require.True(t, ok, "%s has no object under %q", path, key)
	return entry
}

// teamAttrs maps a demo entry to the attributes the default config's kvcache
// lookup sets (its mapping: team -> team.name, owner -> team.owner, tier -> team.tier).
func teamAttrs(entry map[string]any) map[string]any {
	out := map[string]any{}
	for field, attr := range map[string]string{"team": "team.name", "owner": "team.owner", "tier": "team.tier"} {
		if v, ok := entry[field]; ok {
			if n, isInt := v.(int); isInt {
				v = int64(n)
			}
			out[attr] = v
		}
	}
	return out
}

// TestDefaultConfigEnrichment runs the shipped default config (config/config.yaml,
// see defaultConfig for what differs) and the README's telemetrygen command: every
// span is enriched from the demo data file through memkv and kvcache, the debug
// exporter prints the enriched resource, an unknown service gets the default,
// and an edit of the data file shows up in the next spans.
func TestDefaultConfigEnrichment(t *testing.T) {
	harness.RequireComponents(t, "otlp", "kvcache", "memkv", "bearerauth", "debug", "file")
	root := harness.RepoRoot(t)
	dir := t.TempDir()
	dataFile := filepath.Join(dir, "demo-enrichment.yaml")
	shipped, err := os.ReadFile(filepath.Join(root, demoDataFile))
	require.NoError(t, err)
	harness.WriteFile(t, dataFile, shipped)
	out := filepath.Join(dir, "traces.json")

	// Run from the repo root, as `make run` does: config/demo-token is relative.
	col := harness.Start(t, harness.Options{Name: "default", Dir: root, Config: defaultConfig(t, root, dataFile, out)})
	endpoint := col.Endpoint(kvPortGRPC)
	auth := fmt.Sprintf("Authorization=%q", "Bearer "+demoToken)

	// The README command (plus the run attribute), default service name "telemetrygen".
	sendTraces(t, endpoint, "telemetrygen", "readme", 10, "--otlp-header", auth)
	sent := 20
	want := teamAttrs(demoEntry(t, dataFile, "telemetrygen"))
	require.Len(t, want, 3, "the demo entry for telemetrygen has team, owner and tier")
	for _, s := range ofRun(t, kvSpans, out, "readme", sent) {
		assertAttrs(t, want, s.resource, "team.", "resource of a README span")
	}
	// What the README shows: the debug exporter (verbosity normal) prints the enriched resource.
	assert.Eventually(t, func() bool {
		for line := range strings.Lines(col.Log()) {
			if strings.Contains(line, "ResourceTraces #") && strings.Contains(line, "service.name=telemetrygen") &&
				strings.Contains(line, fmt.Sprintf("team.name=%v", want["team.name"])) &&
				strings.Contains(line, fmt.Sprintf("team.tier=%v", want["team.tier"])) {
				return true
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond, "the debug exporter prints the enriched resource")

	// A service that is not in the file gets the lookup's default.
	sendTraces(t, endpoint, "payments-api", "unknown", 1, "--otlp-header", auth)
	sent += 2
	for _, s := range ofRun(t, kvSpans, out, "unknown", 2) {
		assertAttrs(t, map[string]any{"team.name": "unassigned"}, s.resource, "team.", "resource of an unknown service")
	}

	// Edit the data file (atomic replace): memkv reloads it, kvcache revalidates.
	edited := strings.Replace(string(shipped), "team: observability", "team: platform", 1)
	require.NotEqual(t, string(shipped), edited, "the demo file's telemetrygen entry has team: observability")
	harness.WriteFile(t, dataFile, []byte(edited))
	changedAt := time.Now()
	for attempt := 1; ; attempt++ {
		sentAfter := time.Since(changedAt)
		require.Less(t, sentAfter, 15*time.Second, "the edited data file never showed up")
		run := fmt.Sprintf("reload-%d", attempt)
		sendTraces(t, endpoint, "telemetrygen", run, 1, "--otlp-header", auth)
		sent += 2
		spans := ofRun(t, kvSpans, out, run, 2)
		if attrString(spans[0].resource, "team.name") == "platform" {
			want["team.name"] = "platform"
			for _, s := range spans {
				assertAttrs(t, want, s.resource, "team.", "after the reload")
			}
			t.Logf("the edited data file was on the trace sent %v after the edit (attempt %d)", sentAfter.Round(time.Millisecond), attempt)
			break
		}
	}

	col.Stop()
	assert.Len(t, kvSpans(t, out), sent, "exactly the spans telemetrygen sent")
}
