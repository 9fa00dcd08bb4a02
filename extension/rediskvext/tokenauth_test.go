package rediskvext

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-custom/otelcol-custom/extension/bearertoken"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
)

func jwtWith(payload string) string {
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
}

func TestReadJWT(t *testing.T) {
	c, err := readJWT(jwtWith(`{"oid":"0de5474f-7bfc-b363-0bb7-498f9e2dfa3c","aud":"https://redis.azure.com","exp":1796169962}`))
	require.NoError(t, err)
	assert.Equal(t, "0de5474f-7bfc-b363-0bb7-498f9e2dfa3c", c.OID)
	assert.Equal(t, time.Unix(1796169962, 0), c.expiry())
	c, err = readJWT(jwtWith(`{"sub":"x"}`))
	require.NoError(t, err)
	assert.Empty(t, c.OID)
	assert.True(t, c.expiry().IsZero())
	for tok, want := range map[string]string{
		"opaque-token":           "is not a JWT, so it names no user (no oid claim)",
		"a.b.c.d":                "is not a JWT, so it names no user (no oid claim)",
		"a.!!!.c":                "has a JWT payload that is not base64url",
		jwtWith(`[1]`):           "has a JWT payload that is not a JSON object with a string oid and a numeric exp",
		jwtWith(`{"oid":12345}`): "has a JWT payload that is not a JSON object with a string oid and a numeric exp",
	} {
		_, err := readJWT(tok)
		assert.EqualError(t, err, want, tok)
	}
}

func TestEarliest(t *testing.T) {
	a, b := time.Unix(100, 0), time.Unix(200, 0)
	assert.Equal(t, a, earliest(a, b))
	assert.Equal(t, a, earliest(b, a))
	assert.Equal(t, a, earliest(time.Time{}, a))
	assert.Equal(t, a, earliest(a, time.Time{}))
	assert.True(t, earliest(time.Time{}, time.Time{}).IsZero())
}

func TestReauthAt(t *testing.T) {
	now := time.Now()
	assert.Equal(t, now.Add(time.Minute), reauthAt(now, time.Time{}), "unknown expiry")
	assert.Equal(t, now.Add(30*time.Minute), reauthAt(now, now.Add(time.Hour)), "half the remaining lifetime")
	assert.Equal(t, now.Add(reauthFloor), reauthAt(now, now.Add(100*time.Millisecond)), "floor near expiry")
	assert.Equal(t, now.Add(reauthFloor), reauthAt(now, now.Add(-time.Second)), "floor after expiry")
}

// fixedProvider is a bearertoken.Provider serving whatever the test sets.
type fixedProvider struct {
	tok bearertoken.Token
	err error
}

func (p *fixedProvider) Token() (bearertoken.Token, error) { return p.tok, p.err }
func (p *fixedProvider) Changed() <-chan struct{}          { return nil }

func TestTokenAuthCredentials(t *testing.T) {
	id := component.MustNewIDWithName("azureidentityauth", "redis")
	now := time.Now()
	tok := jwtWith(`{"oid":"the-oid"}`)
	p := &fixedProvider{tok: bearertoken.Token{Value: tok, Expiry: now.Add(time.Hour)}}
	a := newTokenAuth(id, p, "")
	a.now = func() time.Time { return now }

	c, err := a.credentials(rueidis.AuthCredentialsContext{})
	require.NoError(t, err)
	assert.Equal(t, rueidis.AuthCredentials{Username: "the-oid", Password: tok, RefreshAfter: now.Add(30 * time.Minute)}, c)

	// The JWT's exp (whole seconds, enforced by the server) wins when earlier
	// than the provider's expiry.
	p.tok = bearertoken.Token{Value: jwtWith(fmt.Sprintf(`{"oid":"the-oid","exp":%d}`, now.Add(10*time.Second).Unix())), Expiry: now.Add(time.Hour)}
	c, err = a.credentials(rueidis.AuthCredentialsContext{})
	require.NoError(t, err)
	assert.Equal(t, reauthAt(now, time.Unix(now.Add(10*time.Second).Unix(), 0)), c.RefreshAfter)
	p.tok = bearertoken.Token{Value: tok, Expiry: now.Add(time.Hour)}
	_, err = a.credentials(rueidis.AuthCredentialsContext{})
	require.NoError(t, err)

	// The provider lost its token: live connections re-AUTH with the last one
	// while it is valid instead of being closed.
	p.err = assert.AnError
	c, err = a.credentials(rueidis.AuthCredentialsContext{})
	require.NoError(t, err)
	assert.Equal(t, tok, c.Password)
	now = now.Add(time.Hour)
	_, err = a.credentials(rueidis.AuthCredentialsContext{})
	require.ErrorIs(t, err, assert.AnError)
	assert.Contains(t, err.Error(), `no token from azureidentityauth/redis yet`)

	// A configured username wins; an opaque token or one without oid needs one.
	p.err, p.tok = nil, bearertoken.Token{Value: jwtWith(`{"sub":"x"}`)}
	_, err = a.credentials(rueidis.AuthCredentialsContext{})
	require.EqualError(t, err, "the token from azureidentityauth/redis has no oid claim; set auth::username")
	p.tok = bearertoken.Token{Value: "opaque"}
	_, err = a.credentials(rueidis.AuthCredentialsContext{})
	require.EqualError(t, err, "the token from azureidentityauth/redis is not a JWT, so it names no user (no oid claim); set auth::username")
	assert.NotContains(t, err.Error(), "opaque")
	a.username = "collector"
	c, err = a.credentials(rueidis.AuthCredentialsContext{})
	require.NoError(t, err)
	assert.Equal(t, "collector", c.Username)
	assert.Equal(t, now.Add(reauthUnknownExpiry), c.RefreshAfter)
}

func TestTokenAuthConfig(t *testing.T) {
	id := component.MustNewIDWithName("azureidentityauth", "redis")
	cfg := endpointConfig("127.0.0.1:6379")
	cfg.Auth.TokenProvider = &id
	require.NoError(t, confmap.Validate(cfg))

	cfg.Password = "secret-password"
	cfg.Username = "u"
	err := confmap.Validate(cfg)
	require.ErrorContains(t, err, "auth::token_provider and password are exclusive")
	require.ErrorContains(t, err, "auth::token_provider and username are exclusive")
	assert.NotContains(t, err.Error(), "secret-password")

	cfg = endpointConfig("127.0.0.1:6379")
	cfg.Auth.Username = "u"
	require.ErrorContains(t, confmap.Validate(cfg), "auth::username: needs auth::token_provider")
}

func TestTokenAuthUnmarshal(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"endpoints": []any{"cache.redis.cache.windows.net:6380"},
		"auth":      map[string]any{"token_provider": "azureidentityauth/redis"},
	}).Unmarshal(cfg))
	require.NotNil(t, cfg.Auth.TokenProvider)
	assert.Equal(t, component.MustNewIDWithName("azureidentityauth", "redis"), *cfg.Auth.TokenProvider)
	require.NoError(t, confmap.Validate(cfg))
}

func TestTokenProviderNotFound(t *testing.T) {
	id := component.MustNewIDWithName("azureidentityauth", "redis")
	cfg := endpointConfig("127.0.0.1:6379")
	cfg.Auth.TokenProvider = &id
	e := newTestExt(t, cfg)
	err := e.Start(context.Background(), kvcachetest.NewHost(nil))
	require.EqualError(t, err, `auth::token_provider: bearer token provider "azureidentityauth/redis" not found: add it to the service's extensions`)
}

func endpointConfig(endpoint string) *Config {
	cfg := testConfig()
	cfg.Endpoints = []string{endpoint}
	return cfg
}
