package configtest // import "github.com/otelcol-custom/otelcol-custom/internal/configtest"

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/extension"
	"go.yaml.in/yaml/v3"
)

// Example is one extension entry of a README's YAML example, loaded into its
// factory's default config and validated.
type Example struct {
	// Name is the entry's key (`oauth2client/keycloak`).
	Name string
	// Config is the loaded, validated config.
	Config component.Config
	// Extensions names every extension the same example defines.
	Extensions map[string]bool
	// Authenticators lists every `authenticator:` value of the example (the
	// receivers and exporters that use an auth extension).
	Authenticators []string
}

var (
	yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")
	envRef    = regexp.MustCompile(`\$\{env:[A-Z_]+\}`)
)

// READMEExamples reads the ```yaml blocks of the README at path and returns
// every extension entry whose type has one of the factories, each unmarshalled
// into that factory's default config and validated (the test fails
// otherwise). Environment references (`${env:X}`) are replaced by a value.
func READMEExamples(t *testing.T, path string, factories ...extension.Factory) []Example {
	t.Helper()
	readme, err := os.ReadFile(path)
	require.NoError(t, err)
	byType := map[component.Type]extension.Factory{}
	for _, f := range factories {
		byType[f.Type()] = f
	}
	var out []Example
	for _, b := range yamlBlock.FindAllStringSubmatch(string(readme), -1) {
		var doc map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(envRef.ReplaceAllString(b[1], "from-env")), &doc), b[1])
		exts, _ := doc["extensions"].(map[string]any)
		names := map[string]bool{}
		for name := range exts {
			names[name] = true
		}
		auths := authenticators(doc, nil)
		for name, raw := range exts {
			var id component.ID
			require.NoError(t, id.UnmarshalText([]byte(name)))
			f, ok := byType[id.Type()]
			if !ok {
				continue
			}
			m, _ := raw.(map[string]any)
			cfg := f.CreateDefaultConfig()
			require.NoError(t, confmap.NewFromStringMap(m).Unmarshal(cfg), name)
			require.NoError(t, confmap.Validate(cfg), name)
			out = append(out, Example{Name: name, Config: cfg, Extensions: names, Authenticators: auths})
		}
	}
	return out
}

// authenticators collects the values of every `authenticator` key below v.
func authenticators(v any, acc []string) []string {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "authenticator" {
				acc = append(acc, s)
				continue
			}
			acc = authenticators(x, acc)
		}
	case []any:
		for _, x := range v {
			acc = authenticators(x, acc)
		}
	}
	return acc
}
