package oauth2clientauthext

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/extension/oauth2clientauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"
	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
)

const (
	clientID  = "otel-collector"
	secretOld = "old-s3cr3t-never-logged"
	secretNew = "new-s3cr3t-never-logged"
	saSubject = "system:serviceaccount:observability:collector"
)

// idp starts a fake provider and writes its CA certificate to a file.
func idp(t testing.TB) (*fakeoidc.Server, string) { return fakeoidc.Start(t, fakeoidc.New) }

// baseConfig is a config against the fake with fast retries; the caller
// sets the grant and client authentication.
func baseConfig(f *fakeoidc.Server, caFile string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.TokenURL = f.TokenURL()
	cfg.ClientID = clientID
	cfg.TLS = configtls.ClientConfig{Config: configtls.Config{CAFile: caFile}}
	cfg.Timeout = 5 * time.Second
	cfg.Refresh = authclienttest.FastRefresh()
	return cfg
}

// secretClient is a fake that knows clientID with the secret secretOld, and
// a config that authenticates with it; the caller may change either before
// start.
func secretClient(t testing.TB) (*fakeoidc.Server, *Config) {
	t.Helper()
	f, ca := idp(t)
	f.SetClient(fakeoidc.Client{ID: clientID, Secrets: []string{secretOld}})
	cfg := baseConfig(f, ca)
	cfg.ClientSecret = secretOld
	return f, cfg
}

type fixture struct {
	ext  *oauth2Client
	logs *observer.ObservedLogs
}

// start validates cfg as a collector would, creates the extension with a
// debug-level observed logger, starts it and shuts it down at cleanup.
func start(t *testing.T, cfg *Config) *fixture {
	t.Helper()
	require.NoError(t, confmap.Validate(cfg))
	core, logs := observer.New(zapcore.DebugLevel)
	set := extensionSettings()
	set.Logger = zap.New(core)
	e, err := NewFactory().Create(context.Background(), set, cfg)
	require.NoError(t, err)
	ext := e.(*oauth2Client)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return &fixture{ext: ext, logs: logs}
}

func extensionSettings() extension.Settings { return extensiontest.NewNopSettings(metadata.Type) }

// token waits for the first token.
func (f *fixture) token(t *testing.T) string {
	t.Helper()
	e, err := f.ext.handle.Wait(context.Background())
	require.NoError(t, err)
	return e.Token.Value
}

// assertNoSecrets checks every log line (message and fields) for the values.
func (f *fixture) assertNoSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	require.NotZero(t, f.logs.Len(), "nothing was logged: the check would prove nothing")
	for _, entry := range f.logs.All() {
		line := entry.Message
		for k, v := range entry.ContextMap() {
			line += fmt.Sprintf(" %s=%v", k, v)
		}
		for _, s := range secrets {
			assert.NotContains(t, line, s)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	// Replace atomically, as kubelet and secret managers do.
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

// subjectTokenFile mints a subject token of saSubject for aud, valid for an
// hour, and writes it to a file: the token and the file's path.
func subjectTokenFile(t *testing.T, f *fakeoidc.Server, aud string) (string, string) {
	t.Helper()
	tok, err := f.MintSubjectToken(saSubject, aud, time.Hour)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "token")
	writeFile(t, path, tok)
	return tok, path
}

func writeKey(t *testing.T, key crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "client-key.pem")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	return path
}

// backend is an HTTP server that accepts the tokens the fake issued and
// records the Authorization headers it saw; tokens in revoked get 401.
type backend struct {
	*httptest.Server
	f *fakeoidc.Server

	mu      sync.Mutex
	seen    []string
	revoked map[string]bool
}

func newBackend(t *testing.T, f *fakeoidc.Server) *backend {
	b := &backend{f: f, revoked: map[string]bool{}}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		b.mu.Lock()
		b.seen = append(b.seen, h)
		bad := !ok || b.revoked[tok] || !slices.Contains(b.f.Issued(), tok) || expired(tok)
		b.mu.Unlock()
		if bad {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(b.Close)
	return b
}

// expired reports whether a JWT's exp has passed (the fake signed it; the
// signature was checked by the Issued lookup).
func expired(tok string) bool {
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return true
	}
	var cl jwt.Claims
	if err := parsed.UnsafeClaimsWithoutVerification(&cl); err != nil || cl.Expiry == nil {
		return true
	}
	return !time.Now().Before(cl.Expiry.Time())
}

// requests returns the Authorization headers seen so far.
func (b *backend) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.seen)
}

func (b *backend) revoke(tok string) {
	b.mu.Lock()
	b.revoked[tok] = true
	b.mu.Unlock()
}

// client is an HTTP client through the extension's RoundTripper.
func (f *fixture) client(t *testing.T) *http.Client {
	t.Helper()
	base := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(base.CloseIdleConnections)
	rt, err := f.ext.RoundTripper(base)
	require.NoError(t, err)
	return &http.Client{Transport: rt, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// eventually polls cond for up to 10s.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 10*time.Millisecond, msg)
}
