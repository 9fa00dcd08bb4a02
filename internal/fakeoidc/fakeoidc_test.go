package fakeoidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func post(t *testing.T, s *Server, form url.Values, basic ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.TokenURL(), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(url.QueryEscape(basic[0]), url.QueryEscape(basic[1]))
	}
	c := s.HTTPClient()
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m
}

func verify(t *testing.T, s *Server, tok string) jwt.Claims {
	t.Helper()
	cl, err := s.Verify(tok)
	require.NoError(t, err)
	return cl
}

func TestDiscoveryAndJWKSRotation(t *testing.T) {
	s, err := New()
	require.NoError(t, err)
	defer s.Close()
	c := s.HTTPClient()
	defer c.CloseIdleConnections()
	var doc map[string]any
	resp, err := c.Get(s.URL() + "/.well-known/openid-configuration")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	resp.Body.Close()
	assert.Equal(t, s.Issuer(), doc["issuer"])
	assert.Equal(t, s.TokenURL(), doc["token_endpoint"])

	jwks := func() []string {
		resp, err := c.Get(doc["jwks_uri"].(string))
		require.NoError(t, err)
		defer resp.Body.Close()
		var set jose.JSONWebKeySet
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&set))
		var kids []string
		for _, k := range set.Keys {
			kids = append(kids, k.KeyID)
		}
		return kids
	}
	first := s.CurrentKeyID()
	assert.Equal(t, []string{first}, jwks())
	second, err := s.RotateKey()
	require.NoError(t, err)
	assert.Equal(t, []string{first, second}, jwks())
	// A test's own key is published beside them until RetireKeys.
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	s.PublishKey(jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "ec-1", Algorithm: string(jose.ES256), Use: "sig"})
	assert.Equal(t, []string{first, second, "ec-1"}, jwks())
	s.RetireKeys()
	assert.Equal(t, []string{second}, jwks())
	assert.Equal(t, Counts{Discovery: 1, JWKS: 4}, s.Counts())
}

func TestClientCredentialsSecretMethods(t *testing.T) {
	s, err := New()
	require.NoError(t, err)
	defer s.Close()
	s.SetClient(Client{ID: "app", Secrets: []string{"old", "new+/="}})

	code, body := post(t, s, url.Values{"grant_type": {GrantClientCredentials}, "scope": {"read write"}}, "app", "new+/=")
	require.Equal(t, http.StatusOK, code, body)
	cl := verify(t, s, body["access_token"].(string))
	assert.Equal(t, "app", cl.Subject)
	assert.Equal(t, s.Issuer(), cl.Issuer)
	assert.Equal(t, "read write", body["scope"])

	code, _ = post(t, s, url.Values{"grant_type": {GrantClientCredentials}, "client_id": {"app"}, "client_secret": {"old"}, "audience": {"api://x"}})
	require.Equal(t, http.StatusOK, code)

	code, body = post(t, s, url.Values{"grant_type": {GrantClientCredentials}}, "app", "wrong")
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Equal(t, "invalid_client", body["error"])
	code, body = post(t, s, url.Values{"grant_type": {GrantClientCredentials}, "client_secret": {"old"}}, "app", "old")
	assert.Equal(t, http.StatusBadRequest, code, "two methods at once")
	assert.Equal(t, "invalid_request", body["error"])

	reqs := s.Requests()
	require.Len(t, reqs, 4)
	assert.Equal(t, AuthClientSecretBasic, reqs[0].AuthMethod)
	assert.Equal(t, 1, reqs[0].SecretIndex)
	assert.Equal(t, AuthClientSecretPost, reqs[1].AuthMethod)
	assert.Equal(t, 0, reqs[1].SecretIndex)
	assert.Equal(t, "api://x", reqs[1].Audience)
	assert.Equal(t, "invalid_client", reqs[2].Error)
	assert.Len(t, s.Issued(), 2)
	got := s.Counts()
	assert.Equal(t, int64(4), got.Token)
	assert.Equal(t, int64(2), got.TokenIssued)
	assert.Equal(t, int64(1), got.TokenRejected)
}

func assertion(t *testing.T, key any, alg jose.SignatureAlgorithm, claims jwt.Claims) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil)
	require.NoError(t, err)
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	require.NoError(t, err)
	return tok
}

func TestPrivateKeyJWT(t *testing.T) {
	s, err := New()
	require.NoError(t, err)
	defer s.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	s.SetClient(Client{ID: "svc", PublicKey: &key.PublicKey})
	now := time.Now()
	claims := jwt.Claims{
		Issuer: "svc", Subject: "svc", Audience: jwt.Audience{s.TokenURL()}, ID: "jti-1",
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)),
	}
	form := url.Values{
		"grant_type": {GrantClientCredentials}, "client_id": {"svc"},
		"client_assertion_type": {ClientAssertionType}, "client_assertion": {assertion(t, key, jose.ES256, claims)},
	}
	code, body := post(t, s, form)
	require.Equal(t, http.StatusOK, code, body)
	code, body = post(t, s, form)
	assert.Equal(t, http.StatusUnauthorized, code, "replayed jti")
	assert.Contains(t, body["error_description"], "jti")

	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	claims.ID = "jti-2"
	form.Set("client_assertion", assertion(t, other, jose.ES256, claims))
	code, _ = post(t, s, form)
	assert.Equal(t, http.StatusUnauthorized, code, "signed by another key")

	claims.ID, claims.Expiry = "jti-3", jwt.NewNumericDate(now.Add(-time.Minute))
	form.Set("client_assertion", assertion(t, key, jose.ES256, claims))
	code, _ = post(t, s, form)
	assert.Equal(t, http.StatusUnauthorized, code, "expired")
	assert.Equal(t, AuthPrivateKeyJWT, s.Requests()[0].AuthMethod)
}

func TestTokenExchangeAndJWTBearer(t *testing.T) {
	s, err := New()
	require.NoError(t, err)
	defer s.Close()
	s.SetClient(Client{ID: "workload", Public: true})
	s.SetClient(Client{ID: "confidential", Secrets: []string{"s3"}})
	sa, err := s.MintSubjectToken("system:serviceaccount:otel:collector", s.SubjectAudience(), time.Hour)
	require.NoError(t, err)

	code, body := post(t, s, url.Values{
		"grant_type": {GrantTokenExchange}, "client_id": {"workload"},
		"subject_token": {sa}, "subject_token_type": {TokenTypeJWT}, "audience": {"api://backend"},
	})
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, TokenTypeAccessToken, body["issued_token_type"])
	cl := verify(t, s, body["access_token"].(string))
	assert.Equal(t, "system:serviceaccount:otel:collector", cl.Subject)
	assert.True(t, cl.Audience.Contains("api://backend"))

	code, body = post(t, s, url.Values{"grant_type": {GrantJWTBearer}, "assertion": {sa}}, "confidential", "s3")
	require.Equal(t, http.StatusOK, code, body)

	code, _ = post(t, s, url.Values{"grant_type": {GrantClientCredentials}, "client_id": {"workload"}})
	assert.Equal(t, http.StatusUnauthorized, code, "a public client gets no client_credentials token")

	wrongAud, err := s.MintSubjectToken("x", "someone-else", time.Hour)
	require.NoError(t, err)
	code, body = post(t, s, url.Values{"grant_type": {GrantJWTBearer}, "client_id": {"workload"}, "assertion": {wrongAud}})
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Equal(t, "invalid_grant", body["error"])
	code, _ = post(t, s, url.Values{"grant_type": {GrantTokenExchange}, "client_id": {"workload"}, "subject_token": {sa}})
	assert.Equal(t, http.StatusBadRequest, code, "subject_token_type missing")
	reqs := s.Requests()
	assert.Equal(t, "system:serviceaccount:otel:collector", reqs[1].Subject)
	assert.Equal(t, AuthClientSecretBasic, reqs[1].AuthMethod)
}

func TestFailureInjection(t *testing.T) {
	s, err := New()
	require.NoError(t, err)
	defer s.Close()
	s.SetClient(Client{ID: "app", Secrets: []string{"x"}})
	form := url.Values{"grant_type": {GrantClientCredentials}}

	require.NoError(t, s.SetFailure(Fail500, EndpointToken))
	code, body := post(t, s, form, "app", "x")
	assert.Equal(t, http.StatusInternalServerError, code)
	assert.Equal(t, "temporarily_unavailable", body["error"])

	require.NoError(t, s.SetFailure(FailRefuse, EndpointAll))
	c := s.HTTPClient()
	_, err = c.Get(s.URL() + "/jwks")
	require.Error(t, err)
	c.CloseIdleConnections()

	require.NoError(t, s.SetFailure(FailNone, 0))
	code, _ = post(t, s, form, "app", "x")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, int64(1), s.Counts().Failed)
	assert.Len(t, s.Requests(), 1, "injected failures never reach the grant")
}

// Start writes the fake's own CA: a client trusting only that file reaches it.
func TestStartWritesTheCAFile(t *testing.T) {
	f, ca := Start(t, New)
	pemData, err := os.ReadFile(ca)
	require.NoError(t, err)
	assert.Equal(t, f.CAPEM(), pemData)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pemData))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(f.Issuer() + "/.well-known/openid-configuration")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
