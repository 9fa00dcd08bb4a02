package oauth2clientauthext

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
)

// claimsOf verifies an access token against the fake's current key.
func claimsOf(t *testing.T, f *fakeoidc.Server, tok string) jwt.Claims {
	t.Helper()
	cl, err := f.Verify(tok)
	require.NoError(t, err)
	return cl
}

func TestClientCredentialsSecret(t *testing.T) {
	for _, tc := range []struct {
		method, want string
	}{
		{"", fakeoidc.AuthClientSecretBasic}, // auto-detect tries Basic first
		{authSecretBasic, fakeoidc.AuthClientSecretBasic},
		{authSecretPost, fakeoidc.AuthClientSecretPost},
	} {
		t.Run("method="+tc.method, func(t *testing.T) {
			f, cfg := secretClient(t)
			cfg.ClientAuthMethod = tc.method
			cfg.Scopes = []string{"telemetry.write", "profile"}
			cfg.Audience = "https://ingest.example.com"
			cfg.EndpointParams = url.Values{"resource": {"https://ingest.example.com/v1"}}
			fx := start(t, cfg)
			tok := fx.token(t)

			cl := claimsOf(t, f, tok)
			assert.Equal(t, clientID, cl.Subject)
			assert.True(t, cl.Audience.Contains("https://ingest.example.com"))
			reqs := f.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, fakeoidc.GrantClientCredentials, reqs[0].Grant)
			assert.Equal(t, tc.want, reqs[0].AuthMethod)
			assert.Equal(t, "telemetry.write profile", reqs[0].Scope)
			assert.Equal(t, url.Values{"resource": {"https://ingest.example.com/v1"}}, reqs[0].Params)

			b := newBackend(t, f)
			assert.Equal(t, 200, get(t, fx.client(t), b.URL))
			assert.Equal(t, []string{"Bearer " + tok}, b.requests())
			fx.assertNoSecrets(t, secretOld, tok)
		})
	}
}

func TestPrivateKeyJWT(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for _, tc := range []struct {
		alg string
		key crypto.Signer
	}{
		{"", rsaKey}, // RS256 by default
		{"PS256", rsaKey},
		{"ES256", ecKey},
	} {
		t.Run("alg="+tc.alg, func(t *testing.T) {
			f, ca := idp(t)
			f.SetClient(fakeoidc.Client{ID: clientID, PublicKey: tc.key.Public()})
			cfg := baseConfig(f, ca)
			keyFile := writeKey(t, tc.key)
			cfg.PrivateKeyJWT = &PrivateKeyJWTConfig{KeyFile: keyFile, KeyID: "k1", Algorithm: tc.alg}
			fx := start(t, cfg)
			first := fx.token(t)

			// A second fetch must carry a new assertion: the fake refuses a
			// replayed jti.
			fx.ext.handle.Invalidate()
			eventually(t, func() bool { return len(f.Issued()) == 2 }, "second token")
			for _, r := range f.Requests() {
				assert.Equal(t, fakeoidc.AuthPrivateKeyJWT, r.AuthMethod)
				assert.Empty(t, r.Error)
			}
			assert.Equal(t, clientID, claimsOf(t, f, first).Subject)
			fx.assertNoSecrets(t, first)
		})
	}
}

func TestPrivateKeyJWTWrongKeyForAlgorithm(t *testing.T) {
	f, ca := idp(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	f.SetClient(fakeoidc.Client{ID: clientID, PublicKey: &rsaKey.PublicKey})
	cfg := baseConfig(f, ca)
	cfg.Refresh.InitialWait = 500 * time.Millisecond
	cfg.PrivateKeyJWT = &PrivateKeyJWTConfig{KeyFile: writeKey(t, rsaKey), Algorithm: "ES256"}
	fx := start(t, cfg)
	_, err = fx.ext.handle.Wait(context.Background())
	require.ErrorContains(t, err, "private_key_jwt::key_file")
	require.ErrorContains(t, err, "an RSA key cannot sign ES256 (private_key_jwt::algorithm)")
	assert.Zero(t, f.Counts().Token, "nothing is sent with a key that cannot sign")
}

func TestTokenExchangeFromWatchedSubjectFile(t *testing.T) {
	f, ca := idp(t)
	f.SetClient(fakeoidc.Client{ID: clientID, Public: true})
	sa, subjectFile := subjectTokenFile(t, f, f.SubjectAudience())
	writeFile(t, subjectFile, sa+"\n") // a trailing newline, as kubelet may write

	cfg := baseConfig(f, ca)
	cfg.GrantType = grantTokenExchange
	cfg.SubjectTokenFile = subjectFile
	cfg.Audience = "https://ingest.example.com"
	fx := start(t, cfg)
	tok := fx.token(t)
	cl := claimsOf(t, f, tok)
	assert.Equal(t, saSubject, cl.Subject)
	assert.True(t, cl.Audience.Contains("https://ingest.example.com"))
	r := f.Requests()[0]
	assert.Equal(t, fakeoidc.GrantTokenExchange, r.Grant)
	assert.Equal(t, fakeoidc.AuthNone, r.AuthMethod)

	// kubelet rotates the projected token: the next token request uses it.
	sa2, err := f.MintSubjectToken(saSubject+"-2", f.SubjectAudience(), time.Hour)
	require.NoError(t, err)
	writeFile(t, subjectFile, sa2)
	fx.ext.handle.Invalidate()
	eventually(t, func() bool { return len(f.Requests()) == 2 }, "second exchange")
	assert.Equal(t, saSubject+"-2", f.Requests()[1].Subject)
	fx.assertNoSecrets(t, sa, sa2, tok)
}

func TestJWTBearerConfidentialClient(t *testing.T) {
	f, ca := idp(t)
	f.SetClient(fakeoidc.Client{ID: clientID, Secrets: []string{secretOld}})
	_, subjectFile := subjectTokenFile(t, f, f.SubjectAudience())

	cfg := baseConfig(f, ca)
	cfg.GrantType = grantJWTBearer
	cfg.SubjectTokenFile = subjectFile
	cfg.ClientSecret = secretOld
	cfg.Scopes = []string{"telemetry.write"}
	fx := start(t, cfg)
	assert.Equal(t, saSubject, claimsOf(t, f, fx.token(t)).Subject)
	r := f.Requests()[0]
	assert.Equal(t, fakeoidc.GrantJWTBearer, r.Grant)
	assert.Equal(t, fakeoidc.AuthClientSecretBasic, r.AuthMethod)
	assert.Equal(t, "telemetry.write", r.Scope)
}

func TestRefusedSubjectTokenNamesTheKey(t *testing.T) {
	f, ca := idp(t)
	f.SetClient(fakeoidc.Client{ID: clientID, Public: true})
	expired, subjectFile := subjectTokenFile(t, f, "not-the-idp")
	cfg := baseConfig(f, ca)
	cfg.GrantType = grantJWTBearer
	cfg.SubjectTokenFile = subjectFile
	cfg.Refresh.InitialWait = time.Second
	fx := start(t, cfg)
	_, err := fx.ext.handle.Wait(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 400: invalid_grant")
	assert.Contains(t, err.Error(), "check subject_token_file")
	assert.NotContains(t, err.Error(), expired)
}
