package bearerauthext

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"

	"github.com/otelcol-custom/otelcol-custom/internal/statustest"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

func makeJWT(t testing.TB, exp *time.Time) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
	require.NoError(t, err)
	claims := jwt.Claims{Subject: "collector", Issuer: "test"}
	if exp != nil {
		claims.Expiry = jwt.NewNumericDate(*exp)
	}
	s, err := jwt.Signed(sig).Claims(claims).Serialize()
	require.NoError(t, err)
	return s
}

func TestParseClientToken(t *testing.T) {
	now := time.Now()
	future := now.Add(time.Hour).Truncate(time.Second)
	past := now.Add(-time.Minute)

	tok, err := parseClientToken("  opaque-token\n", now)
	require.NoError(t, err)
	assert.Equal(t, tokencache.Token{Value: "opaque-token"}, tok)

	j := makeJWT(t, &future)
	tok, err = parseClientToken(j+"\n", now)
	require.NoError(t, err)
	assert.Equal(t, j, tok.Value)
	assert.True(t, future.Equal(tok.Expiry), "expiry from exp: %s", tok.Expiry)

	tok, err = parseClientToken(makeJWT(t, nil), now)
	require.NoError(t, err)
	assert.True(t, tok.Expiry.IsZero(), "no exp claim: unknown expiry")

	tok, err = parseClientToken("a.b.c", now)
	require.NoError(t, err)
	assert.True(t, tok.Expiry.IsZero(), "three dots but not a JWT: opaque")

	expired := makeJWT(t, &past)
	_, err = parseClientToken(expired, now)
	require.ErrorContains(t, err, "expired")
	assert.NotContains(t, err.Error(), expired)

	for _, bad := range []string{"", "  \n", "two\nlines", "with space", "tök"} {
		_, err = parseClientToken(bad, now)
		require.Error(t, err, "%q", bad)
		if strings.TrimSpace(bad) != "" {
			assert.NotContains(t, err.Error(), strings.TrimSpace(bad))
		}
	}
}

func fileClientConfig(path string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.TokenFile = path
	cfg.Refresh.Interval = time.Hour // prove that change notification alone works
	cfg.Refresh.InitialBackoff = 10 * time.Millisecond
	cfg.Refresh.MaxBackoff = 50 * time.Millisecond
	cfg.Refresh.InitialWait = 5 * time.Second
	return cfg
}

func currentToken(ext *bearerAuth) string {
	if e := ext.client.handle().Current(); e != nil {
		return e.Token.Value
	}
	return ""
}

func waitToken(t *testing.T, ext *bearerAuth, want string) {
	t.Helper()
	require.Eventually(t, func() bool { return currentToken(ext) == want }, 5*time.Second, 2*time.Millisecond, "want token %q, have %q", want, currentToken(ext))
}

func TestFileSourceWriteRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(path, []byte("first-token\n"), 0o600))
	ext := startExt(t, fileClientConfig(path), testSettings(), nil)
	waitToken(t, ext, "first-token")
	writeAtomic(t, path, "second-token")
	waitToken(t, ext, "second-token")
	// In-place write is seen too.
	require.NoError(t, os.WriteFile(path, []byte("third-token"), 0o600))
	waitToken(t, ext, "third-token")
}

func TestFileSourceKubernetesSwap(t *testing.T) {
	vol := newK8sVolume(t, map[string]string{"token": "gen-1"})
	ext := startExt(t, fileClientConfig(vol.path("token")), testSettings(), nil)
	waitToken(t, ext, "gen-1")
	for _, tok := range []string{"gen-2", "gen-3", "gen-4"} {
		vol.swap(map[string]string{"token": tok})
		waitToken(t, ext, tok)
	}
}

func TestFileSourceEmptyOrBrokenFileKeepsLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(path, []byte("good-token"), 0o600))
	host := statustest.NewHost()
	ext := startExt(t, fileClientConfig(path), testSettings(), host)
	waitToken(t, ext, "good-token")

	for _, bad := range []string{"", "  \n", "bad token with spaces"} {
		writeAtomic(t, path, bad)
		require.Eventually(t, func() bool {
			e := host.Last()
			return e != nil && e.Status() == componentstatus.StatusRecoverableError
		}, 5*time.Second, 2*time.Millisecond)
		assert.Equal(t, "good-token", currentToken(ext), "the last good token is still served")
		assert.NotContains(t, host.Last().Err().Error(), "bad token")

		writeAtomic(t, path, "good-token")
		require.Eventually(t, func() bool { return host.Last().Status() == componentstatus.StatusOK }, 5*time.Second, 2*time.Millisecond)
	}
	require.NoError(t, os.Remove(path))
	require.Eventually(t, func() bool { return host.Last().Status() == componentstatus.StatusRecoverableError }, 5*time.Second, 2*time.Millisecond)
	assert.Equal(t, "good-token", currentToken(ext))
}

func TestFileSourceMissingAtStart(t *testing.T) {
	for name, sub := range map[string]string{"file missing": "", "directory missing too": "later"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, sub, "token")
			ext := startExt(t, fileClientConfig(path), testSettings(), nil)

			var gotAuth atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { gotAuth.Store(r.Header.Get("Authorization")) }))
			defer srv.Close()
			rt, err := ext.RoundTripper(http.DefaultTransport)
			require.NoError(t, err)

			done := make(chan error, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodGet, srv.URL, http.NoBody)
				resp, err := rt.RoundTrip(req)
				if err == nil {
					resp.Body.Close()
				}
				done <- err
			}()
			time.Sleep(20 * time.Millisecond) // the request is now waiting for the first token
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
			writeAtomic(t, path, "late-token")
			require.NoError(t, <-done)
			assert.Equal(t, "Bearer late-token", gotAuth.Load())

			// The directory is watched from now on, even if it did not
			// exist at start (refresh::interval is 1h here).
			writeAtomic(t, path, "later-token")
			waitToken(t, ext, "later-token")
		})
	}
}

func TestFileSourceMissingWaitIsBounded(t *testing.T) {
	cfg := fileClientConfig(filepath.Join(t.TempDir(), "never"))
	cfg.Refresh.InitialWait = 30 * time.Millisecond
	ext := startExt(t, cfg, testSettings(), nil)
	creds, err := ext.PerRPCCredentials()
	require.NoError(t, err)
	_, err = creds.GetRequestMetadata(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "file")
	assert.Contains(t, err.Error(), "bearerauth")
}

func TestStaticClient(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Token = "static-client-token"
	cfg.RequireTransportSecurity = false
	cfg.Header = "X-Auth"
	cfg.Scheme = "Token"
	ext := startExt(t, cfg, testSettings(), nil)

	creds, err := ext.PerRPCCredentials()
	require.NoError(t, err)
	assert.False(t, creds.RequireTransportSecurity())
	md, err := creds.GetRequestMetadata(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"x-auth": "Token static-client-token"}, md)

	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got.Store(r.Header.Values("X-Auth")) }))
	defer srv.Close()
	rt, err := ext.RoundTripper(http.DefaultTransport)
	require.NoError(t, err)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, http.NoBody)
	req.Header.Set("X-Auth", "caller-value")
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, []string{"Token static-client-token"}, got.Load(), "the configured header replaces the caller's")
	assert.Equal(t, "caller-value", req.Header.Get("X-Auth"), "the caller's request is not modified")
}

func TestRequireTransportSecurityDefault(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Token = "static-client-token"
	ext := startExt(t, cfg, testSettings(), nil)
	creds, err := ext.PerRPCCredentials()
	require.NoError(t, err)
	assert.True(t, creds.RequireTransportSecurity())
}

func TestStaticJWTExpirySet(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	cfg := createDefaultConfig().(*Config)
	cfg.Token = configopaqueString(makeJWT(t, &exp))
	ext := startExt(t, cfg, testSettings(), nil)
	e, err := ext.client.handle().Wait(context.Background())
	require.NoError(t, err)
	assert.True(t, exp.Equal(e.Token.Expiry))
}

// TestClientAgainstServer wires a client instance to an HTTP server guarded by
// a server instance, the way confighttp does (any Authenticate error = 401).
func TestClientAgainstServer(t *testing.T) {
	server := startExt(t, serverConfig(), testSettings(), nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, err := server.Authenticate(r.Context(), r.Header)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(subjectOfCtx(ctx)))
	}))
	defer srv.Close()

	for token, want := range map[string]int{aliceToken: http.StatusOK, "not-a-valid-token": http.StatusUnauthorized} {
		cfg := createDefaultConfig().(*Config)
		cfg.Token = configopaqueString(token)
		cfg.Refresh.MinInvalidateInterval = 0
		cfg.Refresh.InitialWait = 50 * time.Millisecond
		client := startExt(t, cfg, testSettings(), nil)
		rt, err := client.RoundTripper(http.DefaultTransport)
		require.NoError(t, err)
		resp, err := (&http.Client{Transport: rt}).Get(srv.URL)
		require.NoError(t, err)
		body := make([]byte, 256)
		n, _ := resp.Body.Read(body)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode)
		if want == http.StatusOK {
			assert.Equal(t, "alice", string(body[:n]))
		} else {
			assert.NotContains(t, string(body[:n]), token)
		}
	}
}
