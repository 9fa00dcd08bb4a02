//go:build e2e

package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/internal/e2e/harness"
)

// TestConfigDirIsChecked: every file under config/ is checked by some test. It is
// either a collector config matched by validConfigGlobs (TestValidateConfigs runs
// `otelcol-custom validate` on it), or a file such a config names by its path
// from the repo root (config/demo-token, config/data/...), which the collector
// loads when it runs that config (TestDefaultConfigEnrichment runs the default
// config with config/demo-token and the content of config/data/demo-enrichment.yaml).
// A collector config put in a
// subdirectory, or a stray file, fails here instead of going unchecked.
func TestConfigDirIsChecked(t *testing.T) {
	root := harness.RepoRoot(t)
	configs := globAll(t, root, validConfigGlobs)
	var texts []string
	for _, c := range configs {
		if strings.HasPrefix(c, filepath.Join(root, "config")+string(filepath.Separator)) {
			b, err := os.ReadFile(c)
			require.NoError(t, err)
			texts = append(texts, string(b))
		}
	}
	require.NotEmpty(t, texts)

	err := filepath.WalkDir(filepath.Join(root, "config"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if slices.Contains(configs, path) {
			return nil // validated by TestValidateConfigs
		}
		referenced := slices.ContainsFunc(texts, func(text string) bool { return strings.Contains(text, filepath.ToSlash(rel)) })
		assert.True(t, referenced,
			"%s is neither a collector config checked by TestValidateConfigs (config/*.yaml) nor a file a config under config/ uses", rel)
		return nil
	})
	require.NoError(t, err)
}
