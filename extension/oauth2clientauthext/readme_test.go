package oauth2clientauthext

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-custom/otelcol-custom/internal/configtest"
)

// TestREADMEExamples loads every oauth2client entry of the README's YAML
// examples into the default config and validates it, and checks that each
// example's exporter uses the extension it defines.
func TestREADMEExamples(t *testing.T) {
	examples := configtest.READMEExamples(t, "README.md", NewFactory())
	for _, ex := range examples {
		assert.True(t, slices.Contains(ex.Authenticators, ex.Name), "the example's exporter must use %s", ex.Name)
	}
	// Secret (Auth0), secret file (Keycloak), private_key_jwt (Okta), token
	// exchange, JWT bearer.
	assert.Len(t, examples, 5, "examples found in README.md")
}
