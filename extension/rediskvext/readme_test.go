package rediskvext

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/extension"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"
)

// TestREADMEExamples validates every rediskv and azureidentityauth entry of
// the README's YAML examples (environment references replaced by a value),
// and checks that a token_provider names an extension of the same example.
func TestREADMEExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	env := regexp.MustCompile(`\$\{env:[A-Z_]+\}`)
	factories := map[component.Type]extension.Factory{}
	for _, f := range []extension.Factory{NewFactory(), azureidentityauthext.NewFactory()} {
		factories[f.Type()] = f
	}
	seen := 0
	for _, b := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		var doc struct {
			Extensions map[string]map[string]any `yaml:"extensions"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(env.ReplaceAllString(b[1], "from-env")), &doc), b[1])
		for name, raw := range doc.Extensions {
			var id component.ID
			require.NoError(t, id.UnmarshalText([]byte(name)))
			f, ok := factories[id.Type()]
			if !ok {
				continue
			}
			seen++
			cfg := f.CreateDefaultConfig()
			require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(cfg), name)
			require.NoError(t, confmap.Validate(cfg), name)
			if rc, ok := cfg.(*Config); ok && rc.Auth.TokenProvider != nil {
				require.Contains(t, doc.Extensions, rc.Auth.TokenProvider.String(), "the example defines its token provider")
			}
		}
	}
	// standalone, cluster, sentinel, TLS, Azure (rediskv and azureidentityauth).
	require.Equal(t, 6, seen, "examples found in README.md")
}
