package configtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensiontest"
)

func TestREADMEExamples(t *testing.T) {
	readme := "# x\n\n```yaml\nextensions:\n  nop/a: {}\n  other: {}\nexporters:\n  otlp_http:\n    auth:\n      authenticator: nop/a\n    endpoint: ${env:ENDPOINT}\n```\n\n```sh\nnot: yaml\n```\n"
	path := filepath.Join(t.TempDir(), "README.md")
	require.NoError(t, os.WriteFile(path, []byte(readme), 0o600))
	got := READMEExamples(t, path, extensiontest.NewNopFactory())
	require.Len(t, got, 1)
	assert.Equal(t, "nop/a", got[0].Name)
	assert.Equal(t, map[string]bool{"nop/a": true, "other": true}, got[0].Extensions)
	assert.Equal(t, []string{"nop/a"}, got[0].Authenticators)
}
