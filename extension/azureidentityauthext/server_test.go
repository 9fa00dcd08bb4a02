package azureidentityauthext

import (
	"context"
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
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/config/configtls"

	"github.com/otelcol-custom/otelcol-custom/internal/fakeentra"
	"github.com/otelcol-custom/otelcol-custom/internal/jwtauth"
	"github.com/otelcol-custom/otelcol-custom/internal/jwtauth/jwtauthtest"
)

func bearer(tok string) map[string][]string {
	return map[string][]string{"Authorization": {"Bearer " + tok}}
}

func validClaims() fakeentra.TokenClaims {
	return fakeentra.TokenClaims{Tenant: tenantA, Audience: apiAudience, AppID: clientA, Roles: []string{"Telemetry.Write"}}
}

func issue(t testing.TB, f *fakeentra.Server, c fakeentra.TokenClaims) string {
	t.Helper()
	tok, err := f.IssueToken(c)
	require.NoError(t, err)
	return tok
}

func startedServer(t testing.TB, cfg *Config) *azureIdentityAuth {
	t.Helper()
	ext, _, _ := started(t, cfg)
	waitKeys(t, ext)
	return ext
}

// reasonOf returns the refusal reason of an Authenticate error.
func reasonOf(err error) string {
	var r *jwtauth.Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

func TestServerAcceptsValidTokens(t *testing.T) {
	f, ca := testEntra(t)
	srv := startedServer(t, serverConfig(f, ca, apiAudience))

	for _, tc := range []struct {
		name    string
		claims  fakeentra.TokenClaims
		headers func(string) map[string][]string
	}{
		{"v2 over HTTP", validClaims(), bearer},
		{"v1 over gRPC", func() fakeentra.TokenClaims { c := validClaims(); c.V1 = true; return c }(),
			func(tok string) map[string][]string { return map[string][]string{"authorization": {"bearer " + tok}} }},
		{"scheme case-insensitive, extra spaces", validClaims(),
			func(tok string) map[string][]string { return map[string][]string{"authorization": {"BEARER   " + tok}} }},
		{"expired within clock skew", func() fakeentra.TokenClaims {
			c := validClaims()
			c.IssuedAt, c.Expiry = time.Now().Add(-time.Hour), time.Now().Add(-30*time.Second)
			return c
		}(), bearer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := issue(t, f, tc.claims)
			ctx, err := srv.Authenticate(context.Background(), tc.headers(tok))
			require.NoError(t, err)
			auth := client.FromContext(ctx).Auth
			require.NotNil(t, auth)
			oid := fakeentra.ObjectID(tenantA, clientA)
			assert.Equal(t, oid, auth.GetAttribute("subject"))
			assert.Equal(t, oid, auth.GetAttribute("oid"))
			assert.Equal(t, tenantA, auth.GetAttribute("tid"))
			assert.Equal(t, clientA, auth.GetAttribute("appid"))
			assert.Equal(t, []string{"Telemetry.Write"}, auth.GetAttribute("roles"))
			assert.Nil(t, auth.GetAttribute("no-such-attribute"))
			assert.Contains(t, auth.GetAttributeNames(), "roles")
			// Again: served from the validated-token cache, same result.
			ctx, err = srv.Authenticate(context.Background(), tc.headers(tok))
			require.NoError(t, err)
			assert.Equal(t, oid, client.FromContext(ctx).Auth.GetAttribute("oid"))
		})
	}
}

// Client info already in the context (peer address, metadata) is kept.
func TestServerKeepsClientInfo(t *testing.T) {
	f, ca := testEntra(t)
	srv := startedServer(t, serverConfig(f, ca, apiAudience))
	ctx := client.NewContext(context.Background(), client.Info{Metadata: client.NewMetadata(map[string][]string{"x": {"y"}})})
	ctx, err := srv.Authenticate(ctx, bearer(issue(t, f, validClaims())))
	require.NoError(t, err)
	info := client.FromContext(ctx)
	assert.Equal(t, []string{"y"}, info.Metadata.Get("x"))
	assert.NotNil(t, info.Auth)
}

// hand-made tokens for the attacks a library must refuse
func b64(v any) string {
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		b, _ = json.Marshal(x)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func claimsMap(f *fakeentra.Server) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": f.Issuer(tenantA), "aud": apiAudience, "tid": tenantA, "oid": "o", "azp": clientA,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func signWith(t testing.TB, key *rsa.PrivateKey, kid string, claims any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(t, err)
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	require.NoError(t, err)
	return tok
}

func TestServerRefusals(t *testing.T) {
	f, ca := testEntra(t)
	cfg := serverConfig(f, ca, apiAudience)
	cfg.Server.Get().RequiredRoles = []string{"Telemetry.Write"}
	srv := startedServer(t, cfg)
	strictScopes := serverConfig(f, ca, apiAudience)
	strictScopes.Server.Get().RequiredScopes = []string{"Telemetry.Send"}
	scopeSrv := startedServer(t, strictScopes)

	valid := issue(t, f, validClaims())
	parts := strings.Split(valid, ".")
	kid := f.CurrentKeyID()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pubDER, err := x509.MarshalPKIXPublicKey(f.CurrentPublicKey())
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	hs256 := func(secret []byte) string {
		h := b64(map[string]string{"alg": "HS256", "typ": "JWT", "kid": kid})
		p := b64(claimsMap(f))
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(h + "." + p))
		return h + "." + p + "." + b64(mac.Sum(nil))
	}
	tamperedPayload := func() string {
		m := claimsMap(f)
		m["roles"] = []string{"Telemetry.Write", "Admin"}
		return parts[0] + "." + b64(m) + "." + parts[2]
	}
	with := func(mod func(*fakeentra.TokenClaims)) string {
		c := validClaims()
		mod(&c)
		return issue(t, f, c)
	}

	for _, tc := range []struct {
		name    string
		srv     *azureIdentityAuth
		headers map[string][]string
		reason  string
		msg     string
	}{
		{"no header", srv, map[string][]string{}, reasonMissing, "missing Authorization header"},
		{"empty header list", srv, map[string][]string{"Authorization": {}}, reasonMissing, "missing"},
		{"two values", srv, map[string][]string{"Authorization": {"Bearer " + valid, "Bearer " + valid}}, reasonMalformedHdr, "more than one"},
		{"other scheme", srv, map[string][]string{"Authorization": {"Basic dXNlcjpwYXNz"}}, reasonMalformedHdr, `"Bearer "`},
		{"scheme only", srv, map[string][]string{"Authorization": {"Bearer"}}, reasonMalformedHdr, "Bearer"},
		{"scheme and spaces", srv, map[string][]string{"Authorization": {"Bearer    "}}, reasonMalformedHdr, "no token"},
		{"not a JWT", srv, bearer("not-a-jwt"), reasonMalformedToken, "not a JWT"},
		{"two parts", srv, bearer(parts[0] + "." + parts[1]), reasonMalformedToken, "three dot-separated parts"},
		{"garbage parts", srv, bearer("a.b.c"), reasonMalformedToken, "token header is not"},
		{"huge", srv, bearer(strings.Repeat("a", 1<<20)), reasonMalformedToken, "longer than"},
		{"JWE-like five parts", srv, bearer("a.b.c.d.e"), reasonMalformedToken, "not a JWT"},
		{"alg none", srv, bearer(b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(claimsMap(f)) + "."), reasonAlgorithm, `algorithm "none" is not accepted (only RS256)`},
		{"alg none with kid and signature", srv, bearer(b64(map[string]string{"alg": "none", "kid": kid}) + "." + b64(claimsMap(f)) + "." + parts[2]), reasonAlgorithm, `"none"`},
		{"HS256 with the public key PEM as secret", srv, bearer(hs256(pubPEM)), reasonAlgorithm, `algorithm "HS256" is not accepted`},
		{"HS256 with the public key DER as secret", srv, bearer(hs256(pubDER)), reasonAlgorithm, `"HS256"`},
		{"RS512", srv, bearer(b64(map[string]string{"alg": "RS512", "kid": kid}) + "." + parts[1] + "." + parts[2]), reasonAlgorithm, `"RS512"`},
		{"bad signature (tampered payload)", srv, bearer(tamperedPayload()), reasonSignature, "signature is invalid"},
		{"bad signature (other key, known kid)", srv, bearer(signWith(t, otherKey, kid, claimsMap(f))), reasonSignature, "signature is invalid"},
		{"unknown kid", srv, bearer(signWith(t, otherKey, "kid-nobody-published", claimsMap(f))), reasonUnknownKey, `unknown key "kid-nobody-published"`},
		{"no kid", srv, bearer(signWith(t, otherKey, "", claimsMap(f))), reasonMalformedToken, "no kid"},
		{"wrong audience", srv, bearer(with(func(c *fakeentra.TokenClaims) { c.Audience = "api://someone-else" })), reasonAudience, `audience "api://someone-else"`},
		{"wrong issuer", srv, bearer(with(func(c *fakeentra.TokenClaims) { c.Issuer = "https://evil.example/" + tenantA + "/v2.0" })), reasonIssuer, "issuer"},
		{"issuer of another tenant", srv, bearer(with(func(c *fakeentra.TokenClaims) { c.Tenant = tenantB })), reasonIssuer, "issuer"},
		{"wrong tenant, right issuer", srv, bearer(with(func(c *fakeentra.TokenClaims) { c.Extra = map[string]any{"tid": tenantB} })), reasonTenant, `tenant "` + tenantB + `" is not allowed`},
		{"expired", srv, bearer(with(func(c *fakeentra.TokenClaims) {
			c.IssuedAt, c.Expiry = time.Now().Add(-2*time.Hour), time.Now().Add(-2*time.Minute)
		})), reasonExpired, "expired at"},
		{"not yet valid", srv, bearer(with(func(c *fakeentra.TokenClaims) { c.NotBefore = time.Now().Add(5 * time.Minute) })), reasonNotYetValid, "not valid before"},
		{"no exp", srv, bearer(with(func(c *fakeentra.TokenClaims) { c.Extra = map[string]any{"exp": nil} })), reasonMalformedToken, "no exp"},
		{"missing role", srv, bearer(with(func(c *fakeentra.TokenClaims) { c.Roles = []string{"Reader"} })), reasonRole, `required role "Telemetry.Write"`},
		{"missing scope", scopeSrv, bearer(with(func(c *fakeentra.TokenClaims) { c.Scopes = "User.Read" })), reasonScope, `required scope "Telemetry.Send"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, err := tc.srv.Authenticate(context.Background(), tc.headers)
			require.Error(t, err)
			assert.Equal(t, tc.reason, reasonOf(err), err.Error())
			assert.Contains(t, err.Error(), tc.msg)
			assert.NotContains(t, err.Error(), parts[2], "never echo the token")
			assert.Nil(t, client.FromContext(ctx).Auth)
		})
	}
	// and the valid one still passes on both
	_, err = srv.Authenticate(context.Background(), bearer(valid))
	require.NoError(t, err)
	_, err = scopeSrv.Authenticate(context.Background(), bearer(with(func(c *fakeentra.TokenClaims) { c.Scopes = "User.Read Telemetry.Send" })))
	require.NoError(t, err)
}

// A cached token is checked for expiry on every use.
func TestServerCachedTokenExpires(t *testing.T) {
	f, ca := testEntra(t)
	cfg := serverConfig(f, ca, apiAudience)
	cfg.Server.Get().ClockSkew = 0
	srv := startedServer(t, cfg)
	c := validClaims()
	c.Expiry = time.Now().Add(1500 * time.Millisecond)
	tok := issue(t, f, c)
	_, err := srv.Authenticate(context.Background(), bearer(tok))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := srv.Authenticate(context.Background(), bearer(tok))
		return reasonOf(err) == reasonExpired
	}, 5*time.Second, 20*time.Millisecond)
}

func TestServerKeyRotation(t *testing.T) {
	f, ca := testEntra(t)
	srv := startedServer(t, serverConfig(f, ca, apiAudience))
	old := issue(t, f, validClaims())
	_, err := srv.Authenticate(context.Background(), bearer(old))
	require.NoError(t, err)
	jwks := f.Counts().JWKS

	// The issuer rotates: a token with the new kid triggers one re-fetch.
	_, err = f.RotateKey()
	require.NoError(t, err)
	fresh := issue(t, f, validClaims())
	_, err = srv.Authenticate(context.Background(), bearer(fresh))
	require.NoError(t, err)
	assert.Equal(t, jwks+1, f.Counts().JWKS)
	// Both keys are published: the old token still validates.
	_, err = srv.Authenticate(context.Background(), bearer(old))
	require.NoError(t, err)

	// The old key is withdrawn: after the next fetch its tokens are refused,
	// even though one was cached as valid.
	f.RetireKeys()
	_, err = f.RotateKey()
	require.NoError(t, err)
	_, err = srv.Authenticate(context.Background(), bearer(issue(t, f, validClaims())))
	require.NoError(t, err)
	_, err = srv.Authenticate(context.Background(), bearer(old))
	require.Error(t, err)
	assert.Equal(t, reasonUnknownKey, reasonOf(err))
}

// Tokens with forged kids cannot make the server hammer the issuer: one
// re-fetch per keys_min_refetch_interval, however many requests.
func TestServerUnknownKidRateLimited(t *testing.T) {
	f, ca := testEntra(t)
	cfg := serverConfig(f, ca, apiAudience)
	cfg.Server.Get().KeysMinRefetchInterval = time.Hour
	srv := startedServer(t, cfg)
	jwks := f.Counts().JWKS
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 25 {
				tok := signWith(t, key, "forged-"+string(rune('a'+i))+string(rune('a'+j)), claimsMap(f))
				_, err := srv.Authenticate(context.Background(), bearer(tok))
				assert.Equal(t, reasonUnknownKey, reasonOf(err))
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, f.Counts().JWKS, jwks+1)
}

func TestServerKeysRefreshedInBackground(t *testing.T) {
	f, ca := testEntra(t)
	cfg := serverConfig(f, ca, apiAudience)
	cfg.Server.Get().KeysRefreshInterval = 100 * time.Millisecond
	cfg.Server.Get().KeysMinRefetchInterval = time.Hour
	srv := startedServer(t, cfg)
	kid, err := f.RotateKey()
	require.NoError(t, err)
	require.Eventually(t, func() bool { return srv.keys.current().keys[kid] != nil }, 5*time.Second, 10*time.Millisecond)
}

// The issuer unreachable at start: requests are refused with a clear reason,
// status is recoverable, and keys arrive once the issuer is back.
func TestServerIssuerUnavailable(t *testing.T) {
	f, ca := testEntra(t)
	require.NoError(t, f.SetFailure(fakeentra.Fail500, fakeentra.EndpointAll))
	cfg := serverConfig(f, ca, apiAudience)
	cfg.Server.Get().KeysRefreshInterval = 200 * time.Millisecond
	srv, host, _ := started(t, cfg)
	tok := issue(t, f, validClaims())
	keyFetchError(t, host)
	_, err := srv.Authenticate(context.Background(), bearer(tok))
	require.Error(t, err)
	assert.Equal(t, reasonNoKeys, reasonOf(err))

	require.NoError(t, f.SetFailure(fakeentra.FailNone, 0))
	require.Eventually(t, func() bool {
		_, err := srv.Authenticate(context.Background(), bearer(tok))
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
}

func TestServerMultiTenant(t *testing.T) {
	f, ca := testEntra(t)
	cfg := serverConfig(f, ca, apiAudience)
	cfg.Server.Get().TenantID = "organizations"
	cfg.Server.Get().AllowedTenants = []string{tenantA, tenantB}
	srv := startedServer(t, cfg)
	for _, tenant := range []string{tenantA, tenantB} {
		for _, v1 := range []bool{false, true} {
			c := validClaims()
			c.Tenant, c.V1 = tenant, v1
			_, err := srv.Authenticate(context.Background(), bearer(issue(t, f, c)))
			require.NoError(t, err, "tenant %s v1=%v", tenant, v1)
		}
	}
	c := validClaims()
	c.Tenant = "cccccccc-0000-4000-8000-00000000000c"
	_, err := srv.Authenticate(context.Background(), bearer(issue(t, f, c)))
	assert.Equal(t, reasonTenant, reasonOf(err))
	// iss of tenant A with tid of tenant B does not match the template.
	c = validClaims()
	c.Extra = map[string]any{"tid": tenantB}
	_, err = srv.Authenticate(context.Background(), bearer(issue(t, f, c)))
	assert.Equal(t, reasonIssuer, reasonOf(err))
}

func TestServerExplicitIssuer(t *testing.T) {
	f, ca := testEntra(t)
	cfg := serverConfig(f, ca, apiAudience)
	cfg.Server.Get().TenantID = ""
	cfg.Server.Get().Issuer = f.Issuer(tenantA)
	srv := startedServer(t, cfg)
	_, err := srv.Authenticate(context.Background(), bearer(issue(t, f, validClaims())))
	require.NoError(t, err)
	c := validClaims()
	c.V1 = true
	_, err = srv.Authenticate(context.Background(), bearer(issue(t, f, c)))
	assert.Equal(t, reasonIssuer, reasonOf(err))
}

// A discovery document naming another issuer than the configured one is not
// trusted: no keys, clear error.
func TestServerIssuerMismatchInDiscovery(t *testing.T) {
	f, ca := testEntra(t)
	cfg := serverConfig(f, ca, apiAudience)
	cfg.Server.Get().TenantID = ""
	cfg.Server.Get().Issuer = f.URL() + "/" + tenantA + "/v2.0/"
	srv, host, _ := started(t, cfg)
	assert.Contains(t, keyFetchError(t, host).Error(), "not the configured server::issuer")
	_, err := srv.Authenticate(context.Background(), bearer(issue(t, f, validClaims())))
	assert.Equal(t, reasonNoKeys, reasonOf(err))
}

func TestServerCustomHeaderRawToken(t *testing.T) {
	f, ca := testEntra(t)
	cfg := serverConfig(f, ca, apiAudience)
	cfg.Header, cfg.Scheme = "X-Entra-Token", ""
	srv := startedServer(t, cfg)
	tok := issue(t, f, validClaims())
	_, err := srv.Authenticate(context.Background(), map[string][]string{"x-entra-token": {tok}})
	require.NoError(t, err)
	_, err = srv.Authenticate(context.Background(), map[string][]string{"X-Entra-Token": {tok}})
	require.NoError(t, err)
	_, err = srv.Authenticate(context.Background(), bearer(tok))
	assert.Equal(t, reasonMissing, reasonOf(err))
}

// A caller refused because the keys cannot be fetched learns nothing about
// the collector's network (URLs, HTTP status, DNS or TLS errors): that detail
// goes to the log, once per interval however many requests are refused.
func TestServerKeysUnavailableRefusalIsGeneric(t *testing.T) {
	f, ca := testEntra(t)
	for _, tc := range []struct {
		name   string
		cfg    func() *Config
		detail []string // in the fetch error
	}{
		{"HTTP 500", func() *Config {
			require.NoError(t, f.SetFailure(fakeentra.Fail500, fakeentra.EndpointAll))
			return serverConfig(f, ca, apiAudience)
		}, []string{"HTTP 500", f.URL()}},
		{"TLS", func() *Config {
			require.NoError(t, f.SetFailure(fakeentra.FailNone, 0))
			cfg := serverConfig(f, ca, apiAudience)
			cfg.TLS = configtls.ClientConfig{} // the fake's CA is not trusted
			return cfg
		}, []string{"x509", f.URL()}},
		{"DNS", func() *Config {
			cfg := serverConfig(f, ca, apiAudience)
			cfg.AuthorityHost = "https://login.no-such-host.invalid/"
			cfg.Timeout = 2 * time.Second // a resolver without network may only time out
			return cfg
		}, []string{"no-such-host.invalid"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, host, logs := started(t, tc.cfg())
			keyFetchError(t, host)
			tok := issue(t, f, validClaims())
			for range 50 {
				_, err := srv.Authenticate(context.Background(), bearer(tok))
				require.Error(t, err)
				assert.Equal(t, reasonNoKeys, reasonOf(err))
				assert.Equal(t, "azureidentityauth: the server cannot validate tokens now: the issuer's signing keys are not available", err.Error())
				for _, d := range append(tc.detail, "https://", "GET", "127.0.0.1") {
					assert.NotContains(t, err.Error(), d)
				}
			}
			refusals := logs.FilterMessage("Refusing requests: the token issuer's signing keys are not available").All()
			require.Len(t, refusals, 1, "one log line per interval, not one per request")
			logged := refusals[0].ContextMap()["error"].(string)
			for _, d := range tc.detail {
				assert.Contains(t, logged, d)
			}
		})
	}
}

// A key withdrawn from the JWKS stops being trusted the moment the new key
// set is published, also for tokens in the validated-token cache, and also
// for cache entries written by verifications that began before the change.
// Rounds of: hammer the server with tokens of the current key from many
// goroutines (a small cache keeps verifications in flight), withdraw the key
// meanwhile, and check every request that began after the withdrawal was
// published.
func TestServerWithdrawnKeyNotTrustedFromCache(t *testing.T) {
	f, ca := testEntra(t)
	cfg := serverConfig(f, ca, apiAudience)
	cfg.Server.Get().TokenCacheSize = 16
	cfg.Server.Get().KeysMinRefetchInterval = time.Hour // fetches are the test's, below
	srv := startedServer(t, cfg)

	jwtauthtest.WithdrawnKeyMidStream(t, f.KeySet, srv.keys.KeySet, srv.Authenticate, func(int) map[string][]string {
		return bearer(issue(t, f, validClaims()))
	})
}

// server::tenant_id may be a domain name of the tenant (tokens always carry
// the tenant's GUID as tid): the GUID is read from the discovery issuer.
func TestServerTenantDomain(t *testing.T) {
	f, ca := testEntra(t)
	f.AddDomain("contoso.onmicrosoft.com", tenantA)
	cfg := serverConfig(f, ca, apiAudience)
	cfg.Server.Get().TenantID = "contoso.onmicrosoft.com"
	cfg.Server.Get().KeysMinRefetchInterval = time.Second
	require.NoError(t, cfg.Validate())
	srv := startedServer(t, cfg)

	for _, v1 := range []bool{false, true} {
		c := validClaims()
		c.V1 = v1
		ctx, err := srv.Authenticate(context.Background(), bearer(issue(t, f, c)))
		require.NoError(t, err, "v1=%v", v1)
		assert.Equal(t, tenantA, client.FromContext(ctx).Auth.GetAttribute("tid"))
	}
	c := validClaims()
	c.Extra = map[string]any{"tid": tenantB}
	_, err := srv.Authenticate(context.Background(), bearer(issue(t, f, c)))
	assert.Equal(t, reasonTenant, reasonOf(err))
	c = validClaims()
	c.Tenant = tenantB
	_, err = srv.Authenticate(context.Background(), bearer(issue(t, f, c)))
	assert.Equal(t, reasonIssuer, reasonOf(err))
}

// A domain whose discovery issuer holds no tenant id gives no keys and says
// why in the status; nothing is accepted.
func TestServerTenantDomainUnresolved(t *testing.T) {
	f, ca := testEntra(t)
	cfg := serverConfig(f, ca, apiAudience)
	cfg.Server.Get().TenantID = "unknown.example.com"
	srv, host, _ := started(t, cfg)
	keyErr := keyFetchError(t, host)
	assert.Contains(t, keyErr.Error(), `server::tenant_id "unknown.example.com" names issuer`)
	assert.Contains(t, keyErr.Error(), "holds no tenant id")
	_, err := srv.Authenticate(context.Background(), bearer(issue(t, f, validClaims())))
	assert.Equal(t, reasonNoKeys, reasonOf(err))
}
