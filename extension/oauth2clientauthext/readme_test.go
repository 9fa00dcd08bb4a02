package oauth2clientauthext

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-custom/otelcol-custom/extension/oauth2clientauthext/internal/metadata"
)

// TestREADMEExamples loads every oauth2client entry of the README's YAML
// examples into the default config and validates it, and checks that each
// example's exporter uses the extension it defines.
func TestREADMEExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	seen := 0
	for _, b := range blocks {
		var doc struct {
			Extensions map[string]map[string]any `yaml:"extensions"`
			Exporters  map[string]struct {
				Auth struct {
					Authenticator string `yaml:"authenticator"`
				} `yaml:"auth"`
			} `yaml:"exporters"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(b[1]), &doc), b[1])
		for name, raw := range doc.Extensions {
			id := component.ID{}
			require.NoError(t, id.UnmarshalText([]byte(name)))
			if id.Type() != metadata.Type {
				continue
			}
			seen++
			t.Run(name, func(t *testing.T) {
				cfg := createDefaultConfig().(*Config)
				require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(cfg))
				require.NoError(t, confmap.Validate(cfg))
				used := false
				for _, e := range doc.Exporters {
					used = used || e.Auth.Authenticator == name
				}
				assert.True(t, used, "the example's exporter must use %s", name)
			})
		}
	}
	// Secret (Auth0), secret file (Keycloak), private_key_jwt (Okta), token
	// exchange, JWT bearer.
	assert.Equal(t, 5, seen, "examples found in README.md")
}
