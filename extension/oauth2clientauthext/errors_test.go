package oauth2clientauthext

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"
	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
	"github.com/otelcol-custom/otelcol-custom/internal/statustest"
)

// tokenEndpoint is a plain-HTTP token endpoint answering every request with
// status, content type and body.
func tokenEndpoint(t *testing.T, status int, contentType, body string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s.URL + "/token"
}

func failingConfig(tokenURL string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.TokenURL, cfg.ClientID, cfg.ClientSecret = tokenURL, clientID, secretOld
	cfg.ClientAuthMethod = authSecretPost // one request per attempt
	cfg.Refresh.InitialWait = time.Second
	return cfg
}

func TestTokenEndpointErrors(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		want                    []string
		maxLen                  int // of the error, when set
	}{
		{
			name: "oauth2_error_echoing_the_secret", status: 401, contentType: "application/json",
			body: `{"error":"invalid_client","error_description":"secret ` + secretOld + ` is not valid"}`,
			want: []string{"HTTP 401: invalid_client: secret [REDACTED] is not valid", "check client_id"},
		},
		{
			name: "html_error_page", status: 502, contentType: "text/html",
			body: "<html>bad gateway for " + secretOld + "</html>",
			want: []string{"token request to http://", "refused: HTTP 502"},
		},
		{
			name: "form_encoded_error", status: 400, contentType: "application/x-www-form-urlencoded",
			body: "error=unauthorized_client&error_description=grant+not+allowed",
			want: []string{"HTTP 400: unauthorized_client: grant not allowed", "enable it for the client"},
		},
		{
			name: "not_bearer", status: 200, contentType: "application/json",
			body: `{"access_token":"dpop-bound-token","token_type":"DPoP","expires_in":3600}`,
			want: []string{`token_type "DPoP" is not supported (only Bearer)`},
		},
		{
			name: "oversized_error_fields", status: 400, contentType: "application/json",
			body:   `{"error":"` + strings.Repeat("e", 100_000) + `","error_description":"` + strings.Repeat("é", 100_000) + `"}`,
			want:   []string{"HTTP 400: " + strings.Repeat("e", maxErrorCode) + "...: " + strings.Repeat("é", maxDescription/2) + "..."},
			maxLen: 1000,
		},
		{
			name: "oversized_token_type", status: 200, contentType: "application/json",
			body:   `{"access_token":"dpop-bound-token","token_type":"` + strings.Repeat("t", 100_000) + `","expires_in":3600}`,
			want:   []string{`token_type "` + strings.Repeat("t", maxErrorCode) + `..." is not supported`},
			maxLen: 1000,
		},
		{
			name: "no_access_token", status: 200, contentType: "application/json",
			body: `{"token_type":"Bearer","expires_in":3600}`,
			want: []string{"missing access_token"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := start(t, failingConfig(tokenEndpoint(t, tc.status, tc.contentType, tc.body)))
			_, err := fx.ext.handle.Wait(context.Background())
			require.Error(t, err)
			if tc.maxLen > 0 {
				require.LessOrEqual(t, len(err.Error()), tc.maxLen, "the error carries the oversized fields")
			}
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), secretOld)
			assert.NotContains(t, err.Error(), "dpop-bound-token")
			assert.NotContains(t, err.Error(), "<html>", "no raw response body")
			fx.assertNoSecrets(t, secretOld, "dpop-bound-token")
		})
	}
}

func TestTimeoutAndTLS(t *testing.T) {
	f, ca := idp(t)
	f.SetClient(fakeoidc.Client{ID: clientID, Secrets: []string{secretOld}})

	t.Run("timeout", func(t *testing.T) {
		require.NoError(t, f.SetFailure(fakeoidc.FailHang, fakeoidc.EndpointToken))
		defer func() { require.NoError(t, f.SetFailure(fakeoidc.FailNone, 0)) }()
		cfg := baseConfig(f, ca)
		cfg.ClientSecret = secretOld
		cfg.Timeout = 200 * time.Millisecond
		cfg.Refresh.InitialWait = 10 * time.Second // Wait returns with the first fetch's error; the bound only guards a loaded machine
		fx := start(t, cfg)
		_, err := fx.ext.handle.Wait(context.Background())
		require.ErrorContains(t, err, "timed out after 200ms")
	})
	t.Run("untrusted_server_certificate", func(t *testing.T) {
		cfg := baseConfig(f, ca)
		cfg.ClientSecret = secretOld
		cfg.TLS = configtls.ClientConfig{}         // system roots do not trust the fake
		cfg.Refresh.InitialWait = 10 * time.Second // Wait returns with the first fetch's error; the bound only guards a loaded machine
		fx := start(t, cfg)
		_, err := fx.ext.handle.Wait(context.Background())
		require.ErrorContains(t, err, "certificate")
		fx.assertNoSecrets(t, secretOld)
	})
	t.Run("missing_ca_file_fails_start", func(t *testing.T) {
		cfg := baseConfig(f, ca)
		cfg.ClientSecret = secretOld
		cfg.TLS.CAFile = "/nonexistent/ca.pem"
		e, err := newExtension(cfg, extensionSettings())
		require.NoError(t, err)
		err = e.Start(context.Background(), nil)
		require.ErrorContains(t, err, "tls:")
		require.NoError(t, e.Shutdown(context.Background()))
	})
	t.Run("missing_secret_file_is_retried", func(t *testing.T) {
		cfg := baseConfig(f, ca)
		cfg.ClientSecretFile = t.TempDir() + "/not-yet/secret"
		cfg.Refresh.InitialWait = 300 * time.Millisecond
		fx := start(t, cfg)
		_, err := fx.ext.handle.Wait(context.Background())
		require.ErrorContains(t, err, "client_secret_file: open ")
	})
}

func TestGRPCPerRPCCredentials(t *testing.T) {
	_, cfg := secretClient(t)
	fx := start(t, cfg)
	tok := fx.token(t)
	creds, err := fx.ext.PerRPCCredentials()
	require.NoError(t, err)
	md, err := creds.GetRequestMetadata(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"authorization": "Bearer " + tok}, md)
	assert.True(t, creds.RequireTransportSecurity())

	cfg2 := *cfg // the same provider and secret
	cfg2.RequireTransportSecurity = false
	creds, err = start(t, &cfg2).ext.PerRPCCredentials()
	require.NoError(t, err)
	assert.False(t, creds.RequireTransportSecurity())
}

func TestParsePrivateKey(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	require.NoError(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	require.NoError(t, err)
	enc := func(typ string, der []byte, h map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der, Headers: h})
	}

	k, err := parsePrivateKey(enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), nil))
	require.NoError(t, err)
	assert.NoError(t, checkKeyForAlg(k, jose.RS256))
	assert.NoError(t, checkKeyForAlg(k, jose.PS512))
	assert.ErrorContains(t, checkKeyForAlg(k, jose.ES256), "an RSA key cannot sign ES256")

	// A certificate before the key is skipped.
	k, err = parsePrivateKey(append(enc("CERTIFICATE", []byte{1, 2, 3}, nil), enc("EC PRIVATE KEY", ecDER, nil)...))
	require.NoError(t, err)
	assert.NoError(t, checkKeyForAlg(k, jose.ES384))
	assert.EqualError(t, checkKeyForAlg(k, jose.ES256), "ES256 needs a P-256 key, the file holds a P-384 key")

	_, err = parsePrivateKey(enc("PRIVATE KEY", pkcs8, nil))
	require.NoError(t, err)

	_, err = parsePrivateKey(enc("ENCRYPTED PRIVATE KEY", []byte("x"), nil))
	assert.ErrorContains(t, err, "encrypted")
	_, err = parsePrivateKey(enc("RSA PRIVATE KEY", []byte("x"), map[string]string{"Proc-Type": "4,ENCRYPTED"}))
	assert.ErrorContains(t, err, "encrypted")
	_, err = parsePrivateKey([]byte("not pem"))
	assert.ErrorContains(t, err, "no PEM private key block")
	_, err = parsePrivateKey(enc("PRIVATE KEY", []byte("garbage-key-bytes"), nil))
	assert.EqualError(t, err, "cannot parse the PRIVATE KEY block")

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	assert.ErrorContains(t, checkKeyForAlg(small, jose.RS256), "at least 2048")
}

// TestPlaintextWarnings: like the other auth extensions, oauth2client warns
// once when its token goes over http:// to a host that is not loopback, and
// when gRPC may send it over plaintext (require_transport_security false).
func TestPlaintextWarnings(t *testing.T) {
	_, cfg := secretClient(t)
	cfg.RequireTransportSecurity = false
	fx := start(t, cfg)
	fx.token(t)

	_, err := fx.ext.PerRPCCredentials()
	require.NoError(t, err)
	base := authclienttest.Responder{Response: &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}}
	for range 2 {
		rt, err := fx.ext.RoundTripper(base)
		require.NoError(t, err)
		for _, target := range []string{"http://127.0.0.1:4318/v1/traces", "http://collector.example:4318/v1/traces"} {
			req, err := http.NewRequest(http.MethodPost, target, http.NoBody)
			require.NoError(t, err)
			_, err = rt.RoundTrip(req)
			require.NoError(t, err)
		}
	}
	assert.Equal(t, 1, fx.logs.FilterMessageSnippet("require_transport_security is false").Len())
	plain := fx.logs.FilterMessageSnippet("plaintext http://")
	require.Equal(t, 1, plain.Len(), "once per extension, not for loopback")
	assert.Equal(t, "http://collector.example:4318", plain.All()[0].ContextMap()["endpoint"])
	fx.assertNoSecrets(t, secretOld, fx.token(t))
}

// TestExporterRedirectToOtherHost: a 307 from the exporter's endpoint to
// another host does not carry the access token, unless
// send_credential_on_redirect is set; the withheld case is warned once.
func TestExporterRedirectToOtherHost(t *testing.T) {
	for _, allow := range []bool{false, true} {
		target, seen := authclienttest.RecordingServer(t, nil)
		origin, _ := authclienttest.RecordingServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/elsewhere", http.StatusTemporaryRedirect)
		})

		_, cfg := secretClient(t)
		cfg.SendCredentialOnRedirect = allow
		fx := start(t, cfg)
		tok := fx.token(t)
		rt, err := fx.ext.RoundTripper(http.DefaultTransport)
		require.NoError(t, err)
		resp, err := (&http.Client{Transport: rt}).Post(origin.URL, "text/plain", strings.NewReader("spans"))
		require.NoError(t, err)
		_ = resp.Body.Close()

		warnings := 1
		if allow {
			warnings = 0
		}
		got := seen()
		require.Len(t, got, 1)
		// Compared as booleans so a failure does not print the token.
		assert.Equal(t, allow, got[0] != "", "the target got a credential; send_credential_on_redirect: %v", allow)
		assert.True(t, !allow || got[0] == "Bearer "+tok, "the target got another credential than the access token")
		assert.Equal(t, warnings, fx.logs.FilterMessageSnippet("Not sending the credential on a redirect").Len())
	}
}

// TestRedirectIsNotFollowed: a 307 from the token endpoint must not carry the
// form (with the secret) to another server.
func TestRedirectIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		elsewhere.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(other.Close)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)

	fx := start(t, failingConfig(redirecting.URL+"/token"))
	_, err := fx.ext.handle.Wait(context.Background())
	require.ErrorContains(t, err, "HTTP 307")
	assert.Zero(t, elsewhere.Load(), "the secret was posted to the redirect target")
}

// TestStatusAndMetrics: a failing then recovering provider is reported once
// each way (without the secret), and the refresher's metrics carry the
// outcome of every token request.
func TestStatusAndMetrics(t *testing.T) {
	f, ca := idp(t)
	f.SetClient(fakeoidc.Client{ID: clientID, Secrets: []string{secretNew}})
	cfg := baseConfig(f, ca)
	cfg.ClientSecret = secretOld           // refused until the provider accepts it
	cfg.ClientAuthMethod = authSecretBasic // one request per attempt (auto-detection would try the form too)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := extensionSettings()
	set.TelemetrySettings = tel.NewTelemetrySettings()
	e, err := newExtension(cfg, set)
	require.NoError(t, err)
	host := statustest.NewHost()
	require.NoError(t, e.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })

	eventually(t, func() bool { return f.Counts().TokenRejected >= 2 }, "refused and retried")
	f.SetClient(fakeoidc.Client{ID: clientID, Secrets: []string{secretOld}})
	_, err = e.handle.Wait(context.Background())
	require.NoError(t, err)

	eventually(t, func() bool { return len(host.Events()) >= 2 }, "status OK after the recovery")
	events := host.Events()
	require.Len(t, events, 2, "one event per state change, not per retry")
	assert.Equal(t, componentstatus.StatusRecoverableError, events[0].Status())
	assert.ErrorContains(t, events[0].Err(), "HTTP 401: invalid_client")
	assert.NotContains(t, events[0].Err().Error(), secretOld)
	assert.Equal(t, componentstatus.StatusOK, events[1].Status())

	m, err := tel.GetMetric("otelcol_auth_token_refresh_attempts")
	require.NoError(t, err)
	byOutcome := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := dp.Attributes.Value(attribute.Key("outcome"))
		byOutcome[v.AsString()] = dp.Value
	}
	assert.Equal(t, int64(1), byOutcome["success"])
	assert.Equal(t, f.Counts().TokenRejected, byOutcome["failure"])
}
