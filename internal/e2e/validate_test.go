//go:build e2e

package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-custom/otelcol-custom/internal/e2e/harness"
)

// Collector configs checked by `otelcol-custom validate`, relative to the repo
// root. Every config under config/ must be valid. Fixtures live in
// internal/e2e/testdata and testdata/collector: valid/ must pass; invalid/ must
// fail, and an invalid fixture's first line may be "# want-error: <text>" with
// text the error must contain (name the offending key, not a whole message).
var (
	validConfigGlobs = []string{
		"config/*.yaml",
		"internal/e2e/testdata/valid/*.yaml",
		"testdata/collector/valid/*.yaml",
	}
	invalidConfigGlobs = []string{
		"internal/e2e/testdata/invalid/*.yaml",
		"testdata/collector/invalid/*.yaml",
	}
)

func globAll(t *testing.T, root string, patterns []string) []string {
	t.Helper()
	var files []string
	for _, p := range patterns {
		m, err := filepath.Glob(filepath.Join(root, p))
		require.NoError(t, err)
		files = append(files, m...)
	}
	return files
}

// validate runs `otelcol-custom validate` from the repo root (configs use paths
// relative to it, as `make run` does).
func validate(t *testing.T, root, file string) (string, error) {
	cmd := exec.Command(harness.CollectorBinary(t), "validate", "--config", file)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestValidateConfigs(t *testing.T) {
	root := harness.RepoRoot(t)
	valid := globAll(t, root, validConfigGlobs)
	require.NotEmpty(t, valid)
	require.Contains(t, valid, filepath.Join(root, "config", "config.yaml"), "the default config must be validated")
	for _, file := range valid {
		rel, _ := filepath.Rel(root, file)
		t.Run(rel, func(t *testing.T) {
			out, err := validate(t, root, file)
			assert.NoError(t, err, "%s must be valid:\n%s", rel, out)
		})
	}

	invalid := globAll(t, root, invalidConfigGlobs)
	require.NotEmpty(t, invalid)
	for _, file := range invalid {
		rel, _ := filepath.Rel(root, file)
		t.Run(rel, func(t *testing.T) {
			out, err := validate(t, root, file)
			require.Error(t, err, "%s must be refused:\n%s", rel, out)
			if want := wantError(t, file); want != "" {
				assert.Contains(t, out, want, "the error must name the problem")
			}
		})
	}
}

// wantError returns the text after "# want-error:" on the file's first line.
func wantError(t *testing.T, file string) string {
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	want, ok := strings.CutPrefix(strings.TrimSpace(line), "# want-error:")
	if !ok {
		return ""
	}
	return strings.TrimSpace(want)
}

// builderConfig is the part of builder-config.yaml this test reads.
type builderConfig struct {
	Receivers  []builderModule `yaml:"receivers"`
	Processors []builderModule `yaml:"processors"`
	Exporters  []builderModule `yaml:"exporters"`
	Connectors []builderModule `yaml:"connectors"`
	Extensions []builderModule `yaml:"extensions"`
	Providers  []builderModule `yaml:"providers"`
}

type builderModule struct {
	GoMod string `yaml:"gomod"`
}

func modulesOf(list []harness.ComponentInfo) []string {
	out := make([]string, 0, len(list))
	for _, c := range list {
		out = append(out, c.Module)
	}
	slices.Sort(out)
	return out
}

func gomodsOf(list []builderModule) []string {
	out := make([]string, 0, len(list))
	for _, m := range list {
		out = append(out, strings.Join(strings.Fields(m.GoMod), " "))
	}
	slices.Sort(out)
	return out
}

func namesOf(list []harness.ComponentInfo) []string {
	out := make([]string, 0, len(list))
	for _, c := range list {
		out = append(out, c.Name+c.Scheme)
	}
	return out
}

// TestComponents: the binary contains exactly the modules of builder-config.yaml
// (one entry per listed component, ours included) and the component types the
// README promises.
func TestComponents(t *testing.T) {
	root := harness.RepoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "builder-config.yaml"))
	require.NoError(t, err)
	var manifest builderConfig
	require.NoError(t, yaml.Unmarshal(raw, &manifest))

	got := harness.BinaryComponents(t)

	for _, kind := range []struct {
		name     string
		manifest []builderModule
		binary   []harness.ComponentInfo
	}{
		{"receivers", manifest.Receivers, got.Receivers},
		{"processors", manifest.Processors, got.Processors},
		{"exporters", manifest.Exporters, got.Exporters},
		{"connectors", manifest.Connectors, got.Connectors},
		{"extensions", manifest.Extensions, got.Extensions},
		{"providers", manifest.Providers, got.Providers},
	} {
		assert.Equal(t, gomodsOf(kind.manifest), modulesOf(kind.binary),
			"%s: the binary's modules differ from builder-config.yaml (stale dist/? run `make build`)", kind.name)
	}

	// The types the README and the default config rely on.
	assert.Subset(t, namesOf(got.Receivers), []string{"otlp"})
	assert.Subset(t, namesOf(got.Processors), []string{"batch", "kvcache", "memory_limiter"})
	assert.Subset(t, namesOf(got.Exporters), []string{"debug", "file", "otlp_grpc", "otlp_http"})
	assert.Subset(t, namesOf(got.Extensions), []string{"azureidentityauth", "bearerauth", "file_storage", "health_check", "httpkv", "memkv", "oauth2client", "oidcauth", "rediskv", "zpages"})
	assert.Subset(t, namesOf(got.Providers), []string{"env", "file", "http", "https", "yaml"})
}
