package rediskvext

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"
	"github.com/otelcol-custom/otelcol-custom/internal/configtest"
)

// TestREADMEExamples validates every rediskv and azureidentityauth entry of
// the README's YAML examples (environment references replaced by a value),
// and checks that a token_provider names an extension of the same example.
func TestREADMEExamples(t *testing.T) {
	examples := configtest.READMEExamples(t, "README.md", NewFactory(), azureidentityauthext.NewFactory())
	for _, ex := range examples {
		if rc, ok := ex.Config.(*Config); ok && rc.Auth.TokenProvider != nil {
			require.True(t, ex.Extensions[rc.Auth.TokenProvider.String()], "the example defines its token provider")
		}
	}
	// standalone, cluster, sentinel, TLS, Azure (rediskv and azureidentityauth).
	require.Len(t, examples, 6, "examples found in README.md")
}
