package bearerauthext

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-custom/otelcol-custom/extension/bearertoken"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
)

// TestTokenProviderFollowsTheFile: the capability serves the token_file's
// token (the one the RoundTripper sends) and signals each rotation.
func TestTokenProviderFollowsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(path, []byte("first-token\n"), 0o600))
	ext := startExt(t, fileClientConfig(path), testSettings(), nil)
	id := component.MustNewIDWithName("bearerauth", "redis")
	p, err := bearertoken.GetProvider(kvcachetest.NewHost(map[component.ID]component.Component{id: ext}), id)
	require.NoError(t, err)
	_, err = ext.client.handle().Wait(context.Background())
	require.NoError(t, err)

	changed := p.Changed()
	tok, err := p.Token()
	require.NoError(t, err)
	assert.Equal(t, "first-token", tok.Value)
	assert.True(t, tok.Expiry.IsZero(), "a file token's expiry is unknown")

	writeAtomic(t, path, "second-token\n")
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed was not closed after the file rotated")
	}
	require.Eventually(t, func() bool { tok, err = p.Token(); return err == nil && tok.Value == "second-token" }, 5*time.Second, 5*time.Millisecond)

	// The RoundTripper sends the same token.
	rt, err := ext.RoundTripper(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		assert.Equal(t, "Bearer second-token", r.Header.Get("Authorization"))
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	}))
	require.NoError(t, err)
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", http.NoBody)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTokenProviderServerOnly(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Tokens = []TokenConfig{{Token: "server-token-0123456789"}}
	ext := startExt(t, cfg, testSettings(), nil)
	_, err := ext.TokenProvider()
	require.ErrorContains(t, err, "has no client token")
}
