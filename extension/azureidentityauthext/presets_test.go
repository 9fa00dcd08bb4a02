package azureidentityauthext

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Claims of the wrong JSON type are refused as malformed, as when the
// validator decoded them into typed fields (before internal/jwtauth): a
// roles string is not a role list that happens to hold the required role.
func TestServerClaimTypes(t *testing.T) {
	f, ca := testEntra(t)
	cfg := serverConfig(f, ca, apiAudience)
	cfg.Server.Get().RequiredRoles = []string{"Telemetry.Write"}
	srv := startedServer(t, cfg)
	for name, roles := range map[string]any{
		"roles as a string":       "Telemetry.Write",
		"roles with a non-string": []any{"Telemetry.Write", 1},
		"roles as an object":      map[string]any{"Telemetry.Write": true},
	} {
		c := validClaims()
		c.Extra = map[string]any{"roles": roles}
		_, err := srv.Authenticate(context.Background(), bearer(issue(t, f, c)))
		assert.Equal(t, reasonMalformedToken, reasonOf(err), name)
	}
	for _, name := range []string{"tid", "oid", "azp", "appid", "sub", "ver", "scp"} {
		c := validClaims()
		c.Extra = map[string]any{name: 42}
		_, err := srv.Authenticate(context.Background(), bearer(issue(t, f, c)))
		assert.Equal(t, reasonMalformedToken, reasonOf(err), name)
	}
	c := validClaims()
	c.Extra = map[string]any{"roles": []string{"Telemetry.Write"}}
	_, err := srv.Authenticate(context.Background(), bearer(issue(t, f, c)))
	assert.NoError(t, err)
}
