package oidcauthext

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-custom/otelcol-custom/internal/configtest"
)

// TestREADMEExamples loads every oidcauth entry of the README's YAML
// examples into the default config and validates it, and checks that a
// receiver of the example uses it.
func TestREADMEExamples(t *testing.T) {
	examples := configtest.READMEExamples(t, "README.md", NewFactory())
	for _, ex := range examples {
		assert.True(t, slices.Contains(ex.Authenticators, ex.Name), "the example's receiver must use %s", ex.Name)
	}
	assert.Len(t, examples, 3, "examples found in README.md (Keycloak, Okta, several issuers)")
}
