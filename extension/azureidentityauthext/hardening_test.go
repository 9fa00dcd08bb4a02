package azureidentityauthext

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"
	"github.com/otelcol-custom/otelcol-custom/internal/statustest"
)

func post(t *testing.T, rt http.RoundTripper, url string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("spans"))
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// Issue 9 case 1: a persistent 401 fails the request once the refresh it asked
// for ends (a cached managed identity token: the same one; a service
// principal: a new one, refused too), or at once while the next refresh is
// rate-limited, never after refresh::initial_wait.
func TestPersistent401FailsFast(t *testing.T) {
	f, ca := testEntra(t)
	f.SetTokenLifetime(time.Hour)
	mi, err := f.NewManagedIdentity(tenantA)
	require.NoError(t, err)
	t.Cleanup(mi.Close)
	for k, v := range mi.Env() {
		t.Setenv(k, v)
	}
	f.AddClientSecret(tenantA, clientA, secretA)
	backend := newRefusing(t)
	for _, kind := range []string{kindManagedIdentity, kindServicePrincipal} {
		t.Run(kind, func(t *testing.T) {
			cfg := clientConfig(f, ca)
			cfg.Refresh.InitialWait = 5 * time.Second
			cfg.Refresh.MinInvalidateInterval = 5 * time.Second
			if kind == kindManagedIdentity {
				cfg.ManagedIdentity = configoptional.Some(ManagedIdentityConfig{})
				cfg.Scopes = []string{"https://persistent401.example/.default"} // not cached by another test
			} else {
				cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{TenantID: tenantA, ClientID: clientA, ClientSecret: secretA})
			}
			ext, _, _ := started(t, cfg)
			_, err := ext.handle.Wait(context.Background())
			require.NoError(t, err)
			rt, err := ext.RoundTripper(http.DefaultTransport)
			require.NoError(t, err)
			for i := range 3 {
				t0 := time.Now()
				assert.Equal(t, http.StatusUnauthorized, post(t, rt, backend.URL))
				d := time.Since(t0)
				assert.Less(t, d, 2*time.Second, "request %d", i)
				t.Logf("%s request %d: 401 after %s", kind, i, d)
			}
		})
	}
}

// Issue 9 case 2: persistent 401s make a service principal ask Entra for a
// new token with exponential backoff, not every min_invalidate_interval. Here
// 1.2 s of 401s with a 20 ms interval (60 intervals; the default 5 s interval
// makes a minute 12 of them): one token request per interval before, 6 after
// (windows 20, 40, 80, 160, 320, 640 ms).
func TestPersistent401BacksOffTokenRequests(t *testing.T) {
	f, ca := testEntra(t)
	f.SetTokenLifetime(time.Hour)
	f.AddClientSecret(tenantA, clientA, secretA)
	client := spClient(t, f, ca, func(c *Config) { c.Refresh.MinInvalidateInterval = 20 * time.Millisecond })
	backend := newRefusing(t)
	rt, err := client.RoundTripper(http.DefaultTransport)
	require.NoError(t, err)

	before := f.Counts().Token
	t0 := time.Now()
	requests := 0
	for time.Since(t0) < 1200*time.Millisecond {
		assert.Equal(t, http.StatusUnauthorized, post(t, rt, backend.URL))
		requests++
		time.Sleep(2 * time.Millisecond)
	}
	asked := f.Counts().Token - before
	t.Logf("%d refused requests in %s: %d token requests to Entra", requests, time.Since(t0).Round(time.Millisecond), asked)
	assert.LessOrEqual(t, asked, int64(8))
	assert.GreaterOrEqual(t, asked, int64(3), "401s still ask for new tokens")
}

// Issue 9 cases 7 and 9: send_credential_on_redirect reaches the
// RoundTripper, and an http:// endpoint that is not loopback is warned about
// once.
func TestRedirectAndPlaintextPolicy(t *testing.T) {
	f, ca := testEntra(t)
	f.AddClientSecret(tenantA, clientA, secretA)
	for _, allow := range []bool{false, true} {
		var seen []string
		target := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			seen = append(seen, r.Header.Get("Authorization"))
		}))
		t.Cleanup(target.Close)
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL, http.StatusPermanentRedirect)
		}))
		t.Cleanup(origin.Close)
		ext := spClient(t, f, ca, func(c *Config) { c.SendCredentialOnRedirect = allow })
		rt, err := ext.RoundTripper(http.DefaultTransport)
		require.NoError(t, err)
		resp, err := (&http.Client{Transport: rt}).Post(origin.URL, "text/plain", strings.NewReader("spans"))
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Len(t, seen, 1)
		assert.Equal(t, allow, seen[0] != "", "send_credential_on_redirect: %v", allow)
	}

	core, logs := observer.New(zapcore.WarnLevel)
	cfg := clientConfig(f, ca)
	cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{TenantID: tenantA, ClientID: clientA, ClientSecret: secretA})
	set := extensionSettings(t)
	set.Logger = zap.New(core)
	ext, err := newExtension(cfg, set)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), statustest.NewHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	_, err = ext.handle.Wait(context.Background())
	require.NoError(t, err)
	rt, err := ext.RoundTripper(authclienttest.Responder{Response: &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}})
	require.NoError(t, err)
	for range 3 {
		assert.Equal(t, http.StatusOK, post(t, rt, "http://ingest.example.com/v1/metrics"))
	}
	assert.Equal(t, 1, logs.FilterMessageSnippet("over plaintext http://").Len())
}

func newRefusing(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(authclienttest.Unauthorized))
	t.Cleanup(srv.Close)
	return srv
}
