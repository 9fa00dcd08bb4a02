package oauth2clientauthext

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTokenProvider: the capability serves the token the RoundTripper sends,
// with the expiry the token endpoint gave.
func TestTokenProvider(t *testing.T) {
	_, cfg := secretClient(t)
	fx := start(t, cfg)
	want := fx.token(t)
	p, err := fx.ext.TokenProvider()
	require.NoError(t, err)
	tok, err := p.Token()
	require.NoError(t, err)
	assert.Equal(t, want, tok.Value)
	assert.False(t, tok.Expiry.IsZero(), "expires_in is part of the token")
}
