package oidcauthext

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-custom/otelcol-custom/extension/oidcauthext/internal/metadata"
)

// TestREADMEExamples loads every oidcauth entry of the README's YAML
// examples into the default config and validates it, and checks that a
// receiver of the example uses it.
func TestREADMEExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	seen := 0
	for _, b := range blocks {
		var doc struct {
			Extensions map[string]map[string]any `yaml:"extensions"`
			Receivers  map[string]struct {
				Protocols map[string]struct {
					Auth struct {
						Authenticator string `yaml:"authenticator"`
					} `yaml:"auth"`
				} `yaml:"protocols"`
			} `yaml:"receivers"`
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
				cfg := createDefaultConfig()
				require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(cfg))
				require.NoError(t, confmap.Validate(cfg))
				used := false
				for _, r := range doc.Receivers {
					for _, p := range r.Protocols {
						used = used || p.Auth.Authenticator == name
					}
				}
				assert.True(t, used, "the example's receiver must use %s", name)
			})
		}
	}
	assert.Equal(t, 3, seen, "examples found in README.md (Keycloak, Okta, several issuers)")
}
