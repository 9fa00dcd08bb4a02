package oidcauthext

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/extension/oidcauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
	"github.com/otelcol-custom/otelcol-custom/internal/statustest"
)

const testAudience = "otel-gateway"

// testIdP starts a fake provider and writes its CA file.
func testIdP(t testing.TB) (*fakeoidc.Server, string) { return fakeoidc.Start(t, fakeoidc.New) }

// testConfig accepts f's tokens for testAudience.
func testConfig(f *fakeoidc.Server, ca string) *Config {
	cfg := createDefaultConfig()
	cfg.Issuers = []IssuerConfig{{IssuerURL: f.Issuer(), Audiences: []string{testAudience}}}
	cfg.TLS.CAFile = ca
	cfg.Timeout = 2 * time.Second
	return cfg
}

// claims are valid claims of f's tokens, for the test to change.
func claims(f *fakeoidc.Server) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": f.Issuer(), "sub": "svc-1", "aud": testAudience,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// sign signs c with f's current key.
func sign(t testing.TB, f *fakeoidc.Server, c map[string]any) string {
	t.Helper()
	tok, err := f.CurrentKey().Sign(c)
	require.NoError(t, err)
	return tok
}

func bearer(tok string) map[string][]string {
	return map[string][]string{"Authorization": {"Bearer " + tok}}
}

// start starts the extension (not waiting for keys) and shuts it down at cleanup.
func start(t testing.TB, cfg *Config) (*oidcAuth, *statustest.Host, *observer.ObservedLogs) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	core, logs := observer.New(zapcore.DebugLevel)
	set := extensiontest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	e, err := newExtension(cfg, set)
	require.NoError(t, err)
	host := statustest.NewHost()
	require.NoError(t, e.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
	return e, host, logs
}

// started starts the extension and waits until every issuer's keys are in.
func started(t testing.TB, cfg *Config) *oidcAuth {
	t.Helper()
	e, _, _ := start(t, cfg)
	require.Eventually(t, func() bool {
		for _, ks := range e.keys {
			if ks.Current() == nil {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond)
	return e
}

// writeBundle writes the CAs of several fakes into one file.
func writeBundle(t testing.TB, path string, fs ...*fakeoidc.Server) {
	t.Helper()
	var pemData []byte
	for _, f := range fs {
		pemData = append(pemData, f.CAPEM()...)
	}
	require.NoError(t, os.WriteFile(path, pemData, 0o600))
}
