package bearerauthext

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"
)

// Issue 9 case 1: a static token or an unchanged token file cannot be fixed by
// a refresh, so a refused export fails in milliseconds instead of waiting
// refresh::initial_wait (5 s by default) for a credential that cannot come.
func TestPersistent401FailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(path, []byte("file-token-unchanged\n"), 0o600))
	for name, cfg := range map[string]*Config{
		"static": func() *Config {
			c := createDefaultConfig().(*Config)
			c.Token = "static-token-refused"
			return c
		}(),
		"file": func() *Config {
			c := createDefaultConfig().(*Config)
			c.TokenFile = path
			return c
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, 5*time.Second, cfg.Refresh.InitialWait, "the defaults, as an operator runs them")
			ext := startExt(t, cfg, testSettings(), nil)
			srv := newRefusing(t)
			rt, err := ext.RoundTripper(http.DefaultTransport)
			require.NoError(t, err)
			client := &http.Client{Transport: rt}
			for i := range 3 {
				t0 := time.Now()
				resp, err := client.Post(srv.URL, "application/x-protobuf", strings.NewReader("spans"))
				require.NoError(t, err)
				_ = resp.Body.Close()
				d := time.Since(t0)
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				assert.Less(t, d, time.Second, "request %d", i)
				t.Logf("%s request %d: 401 after %s", name, i, d)
			}
		})
	}
}

// Issue 9 case 7: a 307 to another host does not carry the token, unless
// send_credential_on_redirect is set.
func TestRedirectToOtherHost(t *testing.T) {
	for _, allow := range []bool{false, true} {
		target, seen := authclienttest.RecordingServer(t, nil)
		origin, _ := authclienttest.RecordingServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/elsewhere", http.StatusTemporaryRedirect)
		})
		cfg := createDefaultConfig().(*Config)
		cfg.Token = "redirect-secret-token"
		cfg.SendCredentialOnRedirect = allow
		ext := startExt(t, cfg, testSettings(), nil)
		rt, err := ext.RoundTripper(http.DefaultTransport)
		require.NoError(t, err)
		resp, err := (&http.Client{Transport: rt}).Post(origin.URL, "text/plain", strings.NewReader("spans"))
		require.NoError(t, err)
		_ = resp.Body.Close()
		want := ""
		if allow {
			want = "Bearer redirect-secret-token"
		}
		assert.Equal(t, []string{want}, seen(), "send_credential_on_redirect: %v", allow)
	}
}

// Issue 9 case 9: one warning per extension when the token goes over http://
// to a host that is not loopback, and when require_transport_security is off.
func TestPlaintextWarnings(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	set := testSettings()
	set.Logger = zap.New(core)
	cfg := createDefaultConfig().(*Config)
	cfg.Token = "plaintext-secret-token"
	cfg.RequireTransportSecurity = false
	ext := startExt(t, cfg, set, nil)

	loopback := newRefusing(t)
	rt, err := ext.RoundTripper(http.DefaultTransport)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: rt}).Get(loopback.URL)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Zero(t, logs.FilterMessageSnippet("plaintext").Len(), "loopback does not warn")

	// A non-loopback http:// endpoint: the base transport answers, no network.
	remote, err := ext.RoundTripper(authclienttest.Responder{Response: &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}})
	require.NoError(t, err)
	for range 3 {
		req, err := http.NewRequest(http.MethodPost, "http://collector.example.com:4318/v1/traces", http.NoBody)
		require.NoError(t, err)
		resp, err := remote.RoundTrip(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
	}
	_, err = ext.PerRPCCredentials()
	require.NoError(t, err)
	_, err = ext.PerRPCCredentials()
	require.NoError(t, err)
	assert.Equal(t, 1, logs.FilterMessageSnippet("over plaintext http://").Len())
	assert.Equal(t, 1, logs.FilterMessageSnippet("require_transport_security is false").Len())
	for _, e := range logs.All() {
		assert.NotContains(t, e.Message, "plaintext-secret-token")
		for _, v := range e.ContextMap() {
			assert.NotContains(t, v, "plaintext-secret-token")
		}
	}
}

func newRefusing(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(authclienttest.Unauthorized))
	t.Cleanup(srv.Close)
	return srv
}
