package jwtauthtest

import (
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
	"github.com/otelcol-custom/otelcol-custom/internal/jwtauth"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The check passes for a jwtauth.Validator with a cache over a KeySet of
// the fake provider: the machinery the extensions share.
func TestWithdrawnKeyMidStreamOnValidator(t *testing.T) {
	f, _ := fakeoidc.Start(t, fakeoidc.New)
	client := f.HTTPClient()
	t.Cleanup(client.CloseIdleConnections)
	rs256 := []jose.SignatureAlgorithm{jose.RS256}
	ks := jwtauth.NewKeySet(jwtauth.KeySetConfig{
		Client: client, DocURLs: []string{f.Issuer() + "/.well-known/openid-configuration"},
		FixedIssuer: f.Issuer(), FixedIssuerKey: "issuer", Algorithms: rs256,
		RefreshEvery: time.Hour, MinRefetch: time.Hour, Timeout: 5 * time.Second, Logger: zap.NewNop(),
	})
	ks.Start()
	t.Cleanup(ks.Shutdown)
	v, err := jwtauth.New(jwtauth.Config{
		Prefix: "test", Issuers: []*jwtauth.Issuer{{Keys: ks, Audiences: []string{"aud"}}},
		Algorithms: rs256, Header: "Authorization", Scheme: "Bearer", CacheSize: 16, Logger: zap.NewNop(),
	})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return ks.Current() != nil }, 10*time.Second, 5*time.Millisecond)

	WithdrawnKeyMidStream(t, f.KeySet, ks, v.Authenticate, func(i int) map[string][]string {
		now := time.Now()
		tok, err := f.CurrentKey().Sign(map[string]any{
			"iss": f.Issuer(), "sub": "s", "aud": "aud", "jti": i,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		})
		require.NoError(t, err)
		return map[string][]string{"Authorization": {"Bearer " + tok}}
	})
}
