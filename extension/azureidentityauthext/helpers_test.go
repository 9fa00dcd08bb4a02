package azureidentityauthext

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"
	"github.com/otelcol-custom/otelcol-custom/internal/fakeentra"
	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
	"github.com/otelcol-custom/otelcol-custom/internal/statustest"
)

const (
	tenantA     = "aaaaaaaa-0000-4000-8000-00000000000a"
	tenantB     = "bbbbbbbb-0000-4000-8000-00000000000b"
	clientA     = "c11e0000-0000-4000-8000-0000000000c1"
	secretA     = "s3cr3t-value-never-logged"
	monitorAud  = "https://monitor.azure.com"
	apiAudience = "api://otel-gateway"
)

// testEntra starts a fake Entra ID and writes its CA certificate to a file.
func testEntra(t testing.TB) (*fakeentra.Server, string) { return fakeoidc.Start(t, fakeentra.New) }

// clientConfig is a config against the fake authority with fast refresh
// settings; the caller sets the credential kind.
func clientConfig(f *fakeentra.Server, caFile string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.AuthorityHost = f.AuthorityHost()
	cfg.DisableInstanceDiscovery = true
	cfg.TLS = configtls.ClientConfig{Config: configtls.Config{CAFile: caFile}}
	cfg.Timeout = 5 * time.Second
	cfg.Refresh = authclienttest.FastRefresh()
	cfg.Refresh.MinInvalidateInterval = 100 * time.Millisecond
	return cfg
}

// serverConfig validates tokens of tenantA for the given audiences.
func serverConfig(f *fakeentra.Server, caFile string, audiences ...string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.AuthorityHost = f.AuthorityHost()
	cfg.TLS = configtls.ClientConfig{Config: configtls.Config{CAFile: caFile}}
	cfg.Timeout = 5 * time.Second
	cfg.Server.GetOrInsertDefault()
	cfg.Server.Get().TenantID = tenantA
	cfg.Server.Get().Audiences = audiences
	// Below the 1s floor Validate enforces (these configs skip Validate), so
	// rotation tests need not wait for the rate limit.
	cfg.Server.Get().KeysMinRefetchInterval = 0
	return cfg
}

// started creates and starts the extension; it is shut down at cleanup.
// The returned logs observe everything it logged.
func started(t testing.TB, cfg *Config) (*azureIdentityAuth, *statustest.Host, *observer.ObservedLogs) {
	t.Helper()
	ext, host, logs, err := start(t, cfg)
	require.NoError(t, err)
	return ext, host, logs
}

func start(t testing.TB, cfg *Config) (*azureIdentityAuth, *statustest.Host, *observer.ObservedLogs, error) {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	set := extensiontest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	ext, err := newExtension(cfg, set)
	require.NoError(t, err)
	host := statustest.NewHost()
	if err := ext.Start(context.Background(), host); err != nil {
		require.NoError(t, ext.Shutdown(context.Background()))
		return nil, host, logs, err
	}
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return ext, host, logs, nil
}

// backend is an HTTP server that authenticates every request with a server
// extension and counts the outcomes.
type backend struct {
	srv      *httptest.Server
	ok, fail atomic.Int64
	mu       sync.Mutex
	lastErr  string
	tokens   map[string]struct{}
}

func newBackend(t testing.TB, server *azureIdentityAuth) *backend {
	b := &backend{tokens: map[string]struct{}{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := server.Authenticate(r.Context(), r.Header); err != nil {
			b.fail.Add(1)
			b.mu.Lock()
			b.lastErr = err.Error()
			b.mu.Unlock()
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		b.ok.Add(1)
		b.mu.Lock()
		b.tokens[r.Header.Get("Authorization")] = struct{}{}
		b.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) distinctTokens() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.tokens)
}

// get sends one GET through rt and returns the status code.
func get(t testing.TB, rt http.RoundTripper, url string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// claimsOf decodes a JWT's claims without verification.
func claimsOf(t testing.TB, raw string) map[string]any {
	t.Helper()
	raw = strings.TrimPrefix(raw, "Bearer ")
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &m))
	return m
}

// newClientCert creates an RSA key and a self-signed certificate and writes
// them as one PEM file (certificate, then PKCS#8 key).
func newClientCert(t testing.TB) (*x509.Certificate, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "azureidentityauth test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "client.pem")
	data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})...)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return cert, path
}

func extensionSettings(t testing.TB) extension.Settings {
	t.Helper()
	set := extensiontest.NewNopSettings(metadata.Type)
	set.Logger = zap.NewNop()
	return set
}

// keyFetchError waits until host has one status error (the server's key
// fetching failed) and returns it.
func keyFetchError(t testing.TB, host *statustest.Host) error {
	t.Helper()
	require.Eventually(t, func() bool { return len(host.Errors()) == 1 }, 10*time.Second, 10*time.Millisecond)
	return host.Errors()[0]
}

// waitKeys waits until a server extension has fetched the signing keys.
func waitKeys(t testing.TB, ext *azureIdentityAuth) {
	t.Helper()
	require.Eventually(t, func() bool { return ext.keys.current() != nil }, 10*time.Second, 5*time.Millisecond)
}
