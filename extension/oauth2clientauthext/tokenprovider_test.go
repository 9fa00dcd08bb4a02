package oauth2clientauthext

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
)

// TestTokenProvider: the capability serves the token the RoundTripper sends,
// with the expiry the token endpoint gave.
func TestTokenProvider(t *testing.T) {
	f, ca := idp(t)
	f.SetClient(fakeoidc.Client{ID: clientID, Secrets: []string{secretOld}})
	cfg := baseConfig(f, ca)
	cfg.ClientSecret = secretOld
	fx := start(t, cfg)
	want := fx.token(t)
	p, err := fx.ext.TokenProvider()
	require.NoError(t, err)
	tok, err := p.Token()
	require.NoError(t, err)
	assert.Equal(t, want, tok.Value)
	assert.False(t, tok.Expiry.IsZero(), "expires_in is part of the token")
}
