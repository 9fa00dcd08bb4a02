package fakeentra

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const tenant = "11111111-0000-4000-8000-000000000001"

func getJSON(t *testing.T, c *http.Client, u string, v any) int {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
	return resp.StatusCode
}

func postToken(t *testing.T, s *Server, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.HTTPClient().PostForm(s.TokenEndpoint(tenant), form)
	require.NoError(t, err)
	defer resp.Body.Close()
	var m map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
	return resp.StatusCode, m
}

func TestDiscoveryJWKSAndSecretGrant(t *testing.T) {
	s, err := New()
	require.NoError(t, err)
	defer s.Close()
	s.AddClientSecret(tenant, "app", "secret", "Role.A")
	c := s.HTTPClient()

	var doc map[string]any
	require.Equal(t, http.StatusOK, getJSON(t, c, s.Issuer(tenant)+"/.well-known/openid-configuration", &doc))
	assert.Equal(t, s.Issuer(tenant), doc["issuer"])
	var org map[string]any
	getJSON(t, c, s.URL()+"/organizations/v2.0/.well-known/openid-configuration", &org)
	assert.Equal(t, s.URL()+"/{tenantid}/v2.0", org["issuer"])
	var set jose.JSONWebKeySet
	getJSON(t, c, doc["jwks_uri"].(string), &set)
	require.Len(t, set.Keys, 1)
	assert.Equal(t, s.CurrentKeyID(), set.Keys[0].KeyID)

	code, m := postToken(t, s, url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"},
		"client_secret": {"secret"}, "scope": {"https://res.example/.default"}})
	require.Equal(t, http.StatusOK, code, m)
	jws, err := jose.ParseSignedCompact(m["access_token"].(string), []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	payload, err := jws.Verify(s.CurrentPublicKey())
	require.NoError(t, err)
	var claims map[string]any
	require.NoError(t, json.Unmarshal(payload, &claims))
	assert.Equal(t, "https://res.example", claims["aud"])
	assert.Equal(t, []any{"Role.A"}, claims["roles"])

	code, m = postToken(t, s, url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"},
		"client_secret": {"wrong"}, "scope": {"https://res.example/.default"}})
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.Contains(t, m["error_description"], "AADSTS7000215")
	assert.Equal(t, Counts{Token: 2, TokenIssued: 1, TokenRejected: 1, Discovery: 2, JWKS: 1}, s.Counts())
}

// A domain alias answers for its tenant: the issuers and keys name the
// tenant id, as Entra's do for a verified domain.
func TestDomainAlias(t *testing.T) {
	s, err := New()
	require.NoError(t, err)
	defer s.Close()
	s.AddDomain("Contoso.onmicrosoft.com", tenant)
	c := s.HTTPClient()
	var v2, v1 map[string]any
	getJSON(t, c, s.URL()+"/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration", &v2)
	getJSON(t, c, s.URL()+"/contoso.onmicrosoft.com/.well-known/openid-configuration", &v1)
	assert.Equal(t, s.Issuer(tenant), v2["issuer"])
	assert.Equal(t, s.IssuerV1(tenant), v1["issuer"])
	assert.Equal(t, s.URL()+"/"+tenant+"/discovery/v2.0/keys", v2["jwks_uri"])
}

func TestFailures(t *testing.T) {
	s, err := New()
	require.NoError(t, err)
	defer s.Close()
	s.AddClientSecret(tenant, "app", "secret")
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"secret"}, "scope": {"x/.default"}}

	require.NoError(t, s.SetFailure(Fail500, EndpointToken))
	code, _ := postToken(t, s, form)
	assert.Equal(t, http.StatusInternalServerError, code)

	require.NoError(t, s.SetFailure(FailClose, EndpointToken))
	_, err = s.HTTPClient().PostForm(s.TokenEndpoint(tenant), form)
	require.Error(t, err)

	require.NoError(t, s.SetFailure(FailHang, EndpointToken))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenEndpoint(tenant), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err = s.HTTPClient().Do(req)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, s.SetFailure(FailRefuse, EndpointAll))
	_, err = s.HTTPClient().PostForm(s.TokenEndpoint(tenant), form)
	require.True(t, errors.Is(err, syscall.ECONNREFUSED), "%v", err)

	require.NoError(t, s.SetFailure(FailNone, 0))
	code, _ = postToken(t, s, form)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, int64(3), s.Counts().Failed)
}

func TestManagedIdentityEndpoint(t *testing.T) {
	s, err := New()
	require.NoError(t, err)
	defer s.Close()
	mi, err := s.NewManagedIdentity(tenant)
	require.NoError(t, err)
	defer mi.Close()
	req, _ := http.NewRequest(http.MethodGet, mi.Endpoint()+"?api-version=2019-08-01&resource=https://res.example&client_id=abc", nil)
	req.Header.Set("X-IDENTITY-HEADER", mi.Header())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	assert.Equal(t, Identity{Kind: "client_id", Value: "abc"}, mi.Last())

	req.Header.Set("X-IDENTITY-HEADER", "wrong")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	http.DefaultClient.CloseIdleConnections()
}
