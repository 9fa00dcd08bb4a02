package azureidentityauthext

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
)

// TestTokenProvider: the capability serves the token for the configured
// scope (the one the gRPC credentials send) with Entra ID's expiry, and
// signals a refresh.
func TestTokenProvider(t *testing.T) {
	f, ca := testEntra(t)
	f.AddClientSecret(tenantA, clientA, secretA)
	f.SetTokenLifetime(4 * time.Second) // refreshed at half its lifetime
	cfg := clientConfig(f, ca)
	cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{TenantID: tenantA, ClientID: clientA, ClientSecret: secretA})
	ext, _, _ := started(t, cfg)
	p, err := ext.TokenProvider()
	require.NoError(t, err)
	changed := p.Changed()
	md, err := mustPerRPC(t, ext).GetRequestMetadata(context.Background())
	require.NoError(t, err)
	tok, err := p.Token()
	require.NoError(t, err)
	assert.Equal(t, "Bearer "+tok.Value, md["authorization"])
	assert.Equal(t, monitorAud, claimsOf(t, "Bearer "+tok.Value)["aud"])
	assert.WithinDuration(t, time.Now().Add(4*time.Second), tok.Expiry, 2*time.Second)

	// Changed may wake up spuriously: follow it until the token differs.
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-changed:
		case <-deadline:
			t.Fatal("Changed was not closed by the refresh")
		}
		changed = p.Changed()
		next, err := p.Token()
		require.NoError(t, err)
		if next.Value != tok.Value {
			assert.True(t, next.Expiry.After(tok.Expiry))
			return
		}
	}
}

func TestTokenProviderServerOnly(t *testing.T) {
	f, ca := testEntra(t)
	ext, _, _ := started(t, serverConfig(f, ca, apiAudience))
	_, err := ext.TokenProvider()
	require.ErrorContains(t, err, "no credential kind is configured")
}
