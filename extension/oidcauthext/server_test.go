package oidcauthext

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"

	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
	"github.com/otelcol-custom/otelcol-custom/internal/jwtauth"
	"github.com/otelcol-custom/otelcol-custom/internal/jwtauth/jwtauthtest"
)

func reasonOf(err error) string {
	var r *jwtauth.Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

func b64(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(data)
}

// signJOSE signs c with key and alg, naming kid.
func signJOSE(t testing.TB, key any, alg jose.SignatureAlgorithm, kid string, c any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(t, err)
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	require.NoError(t, err)
	return tok
}

func TestAcceptsAndMapsClaims(t *testing.T) {
	f, ca := testIdP(t)
	cfg := testConfig(f, ca)
	cfg.Issuers[0].Attributes = map[string]string{"tenant": "tenant_id", "client": "azp", "orgs": "org_ids"}
	cfg.Issuers[0].RequiredClaims = map[string]string{"tenant_id": "", "roles": "telemetry:write"}
	e := started(t, cfg)

	c := claims(f)
	c["aud"] = []string{"someone-else", testAudience}
	c["tenant_id"], c["azp"], c["groups"], c["org_ids"] = "tenant-42", "collector-a", []string{"ops", "sre"}, []any{"o1", 7}
	c["roles"] = []string{"reader", "telemetry:write"}
	tok := sign(t, f, c)
	for range 2 { // the second is served from the validated-token cache
		ctx, err := e.Authenticate(context.Background(), bearer(tok))
		require.NoError(t, err)
		auth := client.FromContext(ctx).Auth
		require.NotNil(t, auth)
		assert.Equal(t, "svc-1", auth.GetAttribute("subject"))
		assert.Equal(t, []string{"ops", "sre"}, auth.GetAttribute("groups"))
		assert.Equal(t, f.Issuer(), auth.GetAttribute("issuer"))
		assert.Equal(t, "tenant-42", auth.GetAttribute("tenant"))
		assert.Equal(t, "collector-a", auth.GetAttribute("client"))
		assert.Equal(t, []string{"o1", "7"}, auth.GetAttribute("orgs"))
		assert.Nil(t, auth.GetAttribute("nope"))
		assert.Equal(t, []string{"subject", "groups", "issuer", "client", "orgs", "tenant"}, auth.GetAttributeNames())
	}

	// Required claims: absent, or without the required value.
	delete(c, "tenant_id")
	_, err := e.Authenticate(context.Background(), bearer(sign(t, f, c)))
	assert.Equal(t, reasonClaim, reasonOf(err))
	c["tenant_id"], c["roles"] = "tenant-42", "reader"
	_, err = e.Authenticate(context.Background(), bearer(sign(t, f, c)))
	assert.Equal(t, reasonClaim, reasonOf(err))
	assert.Contains(t, err.Error(), `"roles"`)
	assert.NotContains(t, err.Error(), "telemetry:write", "the refusal does not tell the caller the expected value")
}

// TestAttackTable: the JWT attacks a validator must refuse. Every refusal is
// generic: it carries neither the token, nor its signature, nor the
// issuer's internal URLs.
func TestAttackTable(t *testing.T) {
	f, ca := testIdP(t)
	cfg := testConfig(f, ca)
	cfg.KeysMinRefetchInterval = time.Second
	rs256Only := started(t, cfg)

	// An issuer allowing PS256 too, for the key/algorithm binding cases.
	cfgPS := testConfig(f, ca)
	cfgPS.Issuers[0].Algorithms = []string{"RS256", "PS256"}

	// An EC key published by the issuer (alg ES256 in its JWK).
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	f.PublishKey(jose.JSONWebKey{Key: &ecKey.PublicKey, KeyID: "ec-1", Algorithm: string(jose.ES256), Use: "sig"})
	require.NoError(t, rs256Only.keys[0].LastError())
	<-rs256Only.keys[0].FetchShared()
	withPS := started(t, cfgPS)

	kid := f.CurrentKeyID()
	pub := f.CurrentPublicKey()
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hs256 := func(secret []byte) string {
		h := b64(map[string]string{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + b64(claims(f))
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(h))
		return h + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	with := func(change func(map[string]any)) string {
		c := claims(f)
		change(c)
		return sign(t, f, c)
	}
	valid := sign(t, f, claims(f))
	parts := strings.Split(valid, ".")
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		srv    *oidcAuth
		token  string
		reason string
	}{
		{"alg none", rs256Only, b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(claims(f)) + ".", jwtauth.ReasonAlgorithm},
		{"alg none with kid and a signature", rs256Only, b64(map[string]string{"alg": "none", "kid": kid}) + "." + parts[1] + "." + parts[2], jwtauth.ReasonAlgorithm},
		{"HS256 signed with the public key PEM", rs256Only, hs256(pubPEM), jwtauth.ReasonAlgorithm},
		{"HS256 signed with the public key DER", withPS, hs256(der), jwtauth.ReasonAlgorithm},
		{"HS256 signed with the modulus", rs256Only, hs256(pub.N.Bytes()), jwtauth.ReasonAlgorithm},
		{"wrong issuer", rs256Only, with(func(c map[string]any) { c["iss"] = "https://evil.example/realms/x" }), jwtauth.ReasonIssuer},
		{"no issuer", rs256Only, with(func(c map[string]any) { delete(c, "iss") }), jwtauth.ReasonIssuer},
		{"wrong audience", rs256Only, with(func(c map[string]any) { c["aud"] = "someone-else" }), jwtauth.ReasonAudience},
		{"no audience", rs256Only, with(func(c map[string]any) { delete(c, "aud") }), jwtauth.ReasonAudience},
		{"expired beyond the clock skew", rs256Only, with(func(c map[string]any) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() }), jwtauth.ReasonExpired},
		{"no exp", rs256Only, with(func(c map[string]any) { delete(c, "exp") }), jwtauth.ReasonMalformedToken},
		{"exp not a number", rs256Only, with(func(c map[string]any) { c["exp"] = "tomorrow" }), jwtauth.ReasonMalformedToken},
		{"nbf in the future", rs256Only, with(func(c map[string]any) { c["nbf"] = time.Now().Add(5 * time.Minute).Unix() }), jwtauth.ReasonNotYetValid},
		{"unknown kid", rs256Only, signJOSE(t, otherKey, jose.RS256, "kid-nobody-published", claims(f)), jwtauth.ReasonUnknownKey},
		{"known kid, other key", rs256Only, signJOSE(t, otherKey, jose.RS256, kid, claims(f)), jwtauth.ReasonSignature},
		{"tampered payload", rs256Only, parts[0] + "." + b64(map[string]any{"iss": f.Issuer(), "aud": testAudience, "sub": "admin", "exp": time.Now().Add(time.Hour).Unix()}) + "." + parts[2], jwtauth.ReasonSignature},
		{"ES256 key for an RS256-only issuer", rs256Only, signJOSE(t, ecKey, jose.ES256, "ec-1", claims(f)), jwtauth.ReasonAlgorithm},
		{"ES256 key named by an RS256 token", rs256Only, signJOSE(t, otherKey, jose.RS256, "ec-1", claims(f)), jwtauth.ReasonUnknownKey},
		{"PS256 with a key published for RS256", withPS, signJOSE(t, f.CurrentKey().Private, jose.PS256, kid, claims(f)), jwtauth.ReasonSignature},
		{"ES256 token naming an RSA key", withPS, signJOSE(t, ecKey, jose.ES256, kid, claims(f)), jwtauth.ReasonAlgorithm},
		{"not a JWT", rs256Only, "not-a-jwt", jwtauth.ReasonMalformedToken},
		{"JWE-like five parts", rs256Only, "a.b.c.d.e", jwtauth.ReasonMalformedToken},
		{"huge", rs256Only, strings.Repeat("a", 1<<20), jwtauth.ReasonMalformedToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.srv.Authenticate(context.Background(), bearer(tc.token))
			require.Error(t, err)
			assert.Equal(t, tc.reason, reasonOf(err), err.Error())
			assertGeneric(t, err, f, ca, tc.token)
		})
	}
	// The valid token passes both servers.
	for _, srv := range []*oidcAuth{rs256Only, withPS} {
		_, err := srv.Authenticate(context.Background(), bearer(valid))
		require.NoError(t, err)
	}
}

// assertGeneric: a refusal names what is wrong and nothing the caller must not
// learn.
func assertGeneric(t *testing.T, err error, f *fakeoidc.Server, ca, token string) {
	t.Helper()
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "oidcauth: "), msg)
	assert.Less(t, len(msg), 300, msg)
	for _, part := range strings.Split(token, ".") {
		if len(part) > 16 {
			assert.NotContains(t, msg, part, "the refusal echoes the token")
		}
	}
	for _, secret := range []string{f.URL() + "/jwks", "/.well-known", ca, "dial", "x509", "tls:"} {
		assert.NotContains(t, msg, secret)
	}
}

// The issuer replaces its key: tokens of the withdrawn key are refused as
// soon as the new key set is fetched, even from the validated-token cache,
// while requests run.
func TestWithdrawnKeyMidStream(t *testing.T) {
	f, ca := testIdP(t)
	cfg := testConfig(f, ca)
	cfg.KeysMinRefetchInterval = time.Hour // the fetches are the test's
	cfg.TokenCacheSize = 16                // below the tokens in use: verifications stay in flight
	srv := started(t, cfg)
	jwtauthtest.WithdrawnKeyMidStream(t, f.KeySet, srv.keys[0], srv.Authenticate, func(i int) map[string][]string {
		c := claims(f)
		c["jti"] = i
		return bearer(sign(t, f, c))
	})
}

// Key rotation: a token of a new kid triggers one rate-limited refetch and
// is accepted without waiting for the background refresh.
func TestRotationUnknownKidRefetch(t *testing.T) {
	f, ca := testIdP(t)
	cfg := testConfig(f, ca)
	cfg.KeysMinRefetchInterval = time.Hour
	srv := started(t, cfg)
	before := f.Counts()
	_, err := f.RotateKey()
	require.NoError(t, err)
	_, err = srv.Authenticate(context.Background(), bearer(sign(t, f, claims(f))))
	require.NoError(t, err)
	// Within the interval, unknown kids do not reach the issuer again.
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	for range 20 {
		_, err = srv.Authenticate(context.Background(), bearer(signJOSE(t, other, jose.RS256, "nobody", claims(f))))
		assert.Equal(t, jwtauth.ReasonUnknownKey, reasonOf(err))
	}
	assert.Equal(t, before.JWKS+1, f.Counts().JWKS)
}

// ES256 and PS256 issuers, and several issuers each with its audiences.
func TestAlgorithmsAndIssuers(t *testing.T) {
	f1, ca1 := testIdP(t)
	f2, _ := testIdP(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	f2.PublishKey(jose.JSONWebKey{Key: &ecKey.PublicKey, KeyID: "ec-1", Use: "sig"})
	psKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	f2.PublishKey(jose.JSONWebKey{Key: &psKey.PublicKey, KeyID: "ps-1", Algorithm: string(jose.PS256), Use: "sig"})

	cfg := testConfig(f1, ca1)
	// Both fakes' CAs: one bundle.
	bundle := ca1 + ".both"
	writeBundle(t, bundle, f1, f2)
	cfg.TLS.CAFile = bundle
	cfg.Issuers = append(cfg.Issuers, IssuerConfig{IssuerURL: f2.Issuer(), Audiences: []string{"second"}, Algorithms: []string{"ES256", "PS256"}})
	srv := started(t, cfg)

	c2 := claims(f2)
	c2["aud"] = "second"
	for name, tok := range map[string]string{
		"RS256 of the first":  sign(t, f1, claims(f1)),
		"ES256 of the second": signJOSE(t, ecKey, jose.ES256, "ec-1", c2),
		"PS256 of the second": signJOSE(t, psKey, jose.PS256, "ps-1", c2),
	} {
		ctx, err := srv.Authenticate(context.Background(), bearer(tok))
		require.NoError(t, err, name)
		assert.NotEmpty(t, client.FromContext(ctx).Auth.GetAttribute("issuer"), name)
	}
	// The audience of one issuer does not open the other.
	c1 := claims(f1)
	c1["aud"] = "second"
	_, err = srv.Authenticate(context.Background(), bearer(sign(t, f1, c1)))
	assert.Equal(t, jwtauth.ReasonAudience, reasonOf(err))
	// The second allows no RS256: a token signed by its own RS256 key is refused.
	_, err = srv.Authenticate(context.Background(), bearer(sign(t, f2, c2)))
	assert.Equal(t, jwtauth.ReasonAlgorithm, reasonOf(err))
	assert.Nil(t, srv.keys[1].Current().Keys[f2.CurrentKeyID()], "an RS256 key is not usable for an ES256/PS256 issuer")
	// A key of one issuer does not sign for the other.
	c1 = claims(f1)
	_, err = srv.Authenticate(context.Background(), bearer(signJOSE(t, ecKey, jose.ES256, "ec-1", c1)))
	assert.Equal(t, jwtauth.ReasonAlgorithm, reasonOf(err))
	_, err = srv.Authenticate(context.Background(), bearer(sign(t, f2, claims(f1))))
	assert.Equal(t, jwtauth.ReasonUnknownKey, reasonOf(err))
	// An issuer nobody configured.
	c1["iss"] = "https://other.example"
	_, err = srv.Authenticate(context.Background(), bearer(sign(t, f1, c1)))
	assert.Equal(t, jwtauth.ReasonIssuer, reasonOf(err))
}

// The issuer down at start: a generic refusal; the fetch error goes to the
// log once per interval and to the component status.
func TestIssuerUnavailableRefusalIsGeneric(t *testing.T) {
	f, ca := testIdP(t)
	require.NoError(t, f.SetFailure(fakeoidc.Fail500, fakeoidc.EndpointJWKS))
	cfg := testConfig(f, ca)
	cfg.KeysMinRefetchInterval = time.Second
	srv, host, logs := start(t, cfg)
	require.Eventually(t, func() bool { return srv.keys[0].LastError() != nil }, 5*time.Second, 5*time.Millisecond)
	tok := sign(t, f, claims(f))
	for range 50 {
		_, err := srv.Authenticate(context.Background(), bearer(tok))
		require.Equal(t, jwtauth.ReasonNoKeys, reasonOf(err))
		assertGeneric(t, err, f, ca, tok)
		assert.NotContains(t, err.Error(), "500")
	}
	assert.Equal(t, 1, logs.FilterMessageSnippet("Refusing requests").Len(), "one log line per interval")
	require.NotEmpty(t, host.Errors())
	assert.Contains(t, host.Errors()[0].Error(), "HTTP 500")
	// Recovery: accepted after the next fetch.
	require.NoError(t, f.SetFailure(fakeoidc.FailNone, fakeoidc.EndpointJWKS))
	require.Eventually(t, func() bool {
		_, err := srv.Authenticate(context.Background(), bearer(tok))
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
}

// A discovery document naming another issuer is refused (the keys of a
// look-alike issuer never validate).
func TestDiscoveryIssuerMismatch(t *testing.T) {
	f, ca := testIdP(t)
	cfg := testConfig(f, ca)
	cfg.Issuers[0].IssuerURL = f.Issuer() + "/"
	srv, host, _ := start(t, cfg)
	require.Eventually(t, func() bool { return len(host.Errors()) > 0 }, 5*time.Second, 5*time.Millisecond)
	assert.Contains(t, host.Errors()[0].Error(), "issuers::0::issuer_url")
	_, err := srv.Authenticate(context.Background(), bearer(sign(t, f, claims(f))))
	assert.Equal(t, jwtauth.ReasonNoKeys, reasonOf(err))
}

func TestHeaderErrors(t *testing.T) {
	f, ca := testIdP(t)
	srv := started(t, testConfig(f, ca))
	tok := sign(t, f, claims(f))
	for name, tc := range map[string]struct {
		h      map[string][]string
		reason string
	}{
		"missing":      {map[string][]string{}, jwtauth.ReasonMissing},
		"two values":   {map[string][]string{"Authorization": {"Bearer " + tok, "Bearer " + tok}}, jwtauth.ReasonMalformedHdr},
		"other scheme": {map[string][]string{"Authorization": {"Basic dXNlcjpwYXNz"}}, jwtauth.ReasonMalformedHdr},
		"lower case":   {map[string][]string{"authorization": {"bearer " + tok}}, ""},
	} {
		_, err := srv.Authenticate(context.Background(), tc.h)
		assert.Equal(t, tc.reason, reasonOf(err), name)
	}
}
