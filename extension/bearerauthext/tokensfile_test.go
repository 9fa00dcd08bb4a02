package bearerauthext

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/extension/bearerauthext/internal/metadatatest"
	"github.com/otelcol-custom/otelcol-custom/internal/statustest"
)

func TestParseTokensFile(t *testing.T) {
	content := "# comment\n\nplain-token-1-0123456789\n  team-a : team-a-token-0123456789  \r\nteam-b:team-b-token-0123456789==\n"
	got, err := parseTokensFile([]byte(content), "Bearer")
	require.NoError(t, err)
	assert.Equal(t, []namedToken{
		{name: "", token: "plain-token-1-0123456789", origin: "tokens_file line 3"},
		{name: "team-a", token: "team-a-token-0123456789", origin: "tokens_file line 4"},
		{name: "team-b", token: "team-b-token-0123456789==", origin: "tokens_file line 5"},
	}, got)
}

func TestParseTokensFileErrors(t *testing.T) {
	tests := []struct {
		name, content, scheme string
		want                  []string
		secrets               []string
	}{
		{"empty", "", "Bearer", []string{"no tokens"}, nil},
		{"comments only", "# a\n\n# b\n", "Bearer", []string{"no tokens"}, nil},
		{"empty name", ":secret-1\n", "Bearer", []string{"line 1", "empty name"}, []string{"secret-1"}},
		{"empty token", "ok-token-0123456789\nname:\n", "Bearer", []string{"line 2", "empty"}, nil},
		{"space inside", "ok-token-0123456789\nsecret one\n", "Bearer", []string{"line 2", "whitespace"}, []string{"secret"}},
		{"not b64token", "a!secret\n", "Bearer", []string{"line 1", "b64token"}, []string{"a!secret"}},
		{"control byte", "ok-token-0123456789\nsec\x01ret\n", "Bearer", []string{"line 2", "control"}, []string{"sec"}},
		{"bad name", "na\x01me:secret-2\n", "Bearer", []string{"line 1", "name"}, []string{"secret-2"}},
		{"raw scheme allows punctuation but not spaces", "n:raw!ok-0123456789\nraw bad\n", "", []string{"line 2"}, []string{"raw bad"}},
		{"short token", "ok-token-0123456789\nweak:short-secret\n", "Bearer", []string{"line 2", "token is shorter than 16 bytes"}, []string{"short-secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTokensFile([]byte(tt.content), tt.scheme)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			for _, s := range tt.secrets {
				assert.NotContains(t, err.Error(), s)
			}
		})
	}
}

func fileServerConfig(path string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.TokensFile = path
	cfg.TokensFileReloadInterval = 0 // only fsnotify, so the tests prove it works
	return cfg
}

func authenticates(ext *bearerAuth, token string) (string, bool) {
	ctx, err := ext.Authenticate(context.Background(), map[string][]string{"Authorization": {"Bearer " + token}})
	if err != nil {
		return "", false
	}
	return subjectOfCtx(ctx), true
}

func TestTokensFileStartFailures(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]string{
		"missing": filepath.Join(dir, "missing"),
		"invalid": filepath.Join(dir, "invalid"),
		"dup":     filepath.Join(dir, "dup"),
	}
	require.NoError(t, os.WriteFile(tests["invalid"], []byte("name:has space-secret\n"), 0o600))
	require.NoError(t, os.WriteFile(tests["dup"], []byte("a:dup-secret-0123456789\nb:dup-secret-0123456789\n"), 0o600))
	for name, path := range tests {
		t.Run(name, func(t *testing.T) {
			ext, err := newBearerAuth(fileServerConfig(path), testSettings())
			require.NoError(t, err)
			err = ext.Start(context.Background(), componenttest.NewNopHost())
			require.ErrorContains(t, err, "tokens_file")
			assert.NotContains(t, err.Error(), "secret")
			require.NoError(t, ext.Shutdown(context.Background()))
		})
	}
}

func TestTokensFileReloadWriteRename(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(path, []byte("one:token-one-0123456789\n"), 0o600))
	cfg := fileServerConfig(path)
	cfg.Tokens = []TokenConfig{{Name: "static", Token: "static-token-0123456789"}}

	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	host := statustest.NewHost()
	ext := startExt(t, cfg, metadatatest.NewSettings(tel), host)

	sub, ok := authenticates(ext, "token-one-0123456789")
	require.True(t, ok)
	assert.Equal(t, "one", sub)

	writeAtomic(t, path, "two:token-two-0123456789\n")
	require.Eventually(t, func() bool { _, ok := authenticates(ext, "token-two-0123456789"); return ok }, 5*time.Second, 5*time.Millisecond)
	_, ok = authenticates(ext, "token-one-0123456789")
	assert.False(t, ok, "a token removed from the file is refused")
	sub, ok = authenticates(ext, "static-token-0123456789")
	assert.True(t, ok, "config tokens stay")
	assert.Equal(t, "static", sub)

	// Bad content: previous set stays, failure is counted and reported.
	writeAtomic(t, path, "three:token three 0123456789\n")
	require.Eventually(t, func() bool {
		e := host.Last()
		return e != nil && e.Status() == componentstatus.StatusRecoverableError
	}, 5*time.Second, 5*time.Millisecond)
	assert.NotContains(t, host.Last().Err().Error(), "token three")
	_, ok = authenticates(ext, "token-two-0123456789")
	assert.True(t, ok, "previous set kept after a failed reload")

	// A duplicate of a config token, then an empty file (a truncated write):
	// each is a failed reload that keeps the previous set.
	for _, bad := range []string{"dup:static-token-0123456789\n", ""} {
		before := reloadCounts(t, tel)["failure"]
		writeAtomic(t, path, bad)
		require.Eventually(t, func() bool { return reloadCounts(t, tel)["failure"] > before }, 5*time.Second, 5*time.Millisecond)
		_, ok = authenticates(ext, "token-two-0123456789")
		assert.True(t, ok)
	}

	// Recovery reports OK.
	writeAtomic(t, path, "four:token-four-0123456789\n")
	require.Eventually(t, func() bool { _, ok := authenticates(ext, "token-four-0123456789"); return ok }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		e := host.Last()
		return e != nil && e.Status() == componentstatus.StatusOK
	}, 5*time.Second, 5*time.Millisecond)

	metadatatest.AssertEqualBearerauthServerTokens(t, tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	counts := reloadCounts(t, tel)
	assert.GreaterOrEqual(t, counts["success"], int64(2))
	assert.GreaterOrEqual(t, counts["failure"], int64(3))
}

func reloadCounts(t *testing.T, tel *componenttest.Telemetry) map[string]int64 {
	counts := map[string]int64{}
	got, err := tel.GetMetric("otelcol_bearerauth_server_tokens_file_reloads")
	if err != nil {
		return counts
	}
	for _, dp := range got.Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := dp.Attributes.Value(attribute.Key("outcome"))
		counts[v.AsString()] = dp.Value
	}
	return counts
}

func TestTokensFileReloadKubernetesSwap(t *testing.T) {
	vol := newK8sVolume(t, map[string]string{"tokens": "gen1:token-gen-1-0123456789\n"})
	ext := startExt(t, fileServerConfig(vol.path("tokens")), testSettings(), nil)
	_, ok := authenticates(ext, "token-gen-1-0123456789")
	require.True(t, ok)
	for gen := 2; gen <= 5; gen++ {
		tok := "token-gen-" + string(rune('0'+gen)) + "-0123456789"
		vol.swap(map[string]string{"tokens": "g:" + tok + "\n"})
		require.Eventually(t, func() bool { _, ok := authenticates(ext, tok); return ok }, 5*time.Second, 5*time.Millisecond, "generation %d", gen)
	}
	_, ok = authenticates(ext, "token-gen-1-0123456789")
	assert.False(t, ok)
}

func TestTokensFilePeriodicFallback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(path, []byte("a:token-a-0123456789\n"), 0o600))
	cfg := fileServerConfig(path)
	cfg.TokensFileReloadInterval = 10 * time.Millisecond
	ext, err := newBearerAuth(cfg, testSettings())
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	// A change fsnotify does not see, as on a file system without
	// notifications: written through a hard link in another directory.
	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Link(path, link))
	require.NoError(t, os.WriteFile(link, []byte("b:token-b-0123456789\n"), 0o600))
	require.Eventually(t, func() bool { _, ok := authenticates(ext, "token-b-0123456789"); return ok }, 5*time.Second, 5*time.Millisecond)
}

func TestTokensFileReloadLogsNoSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(path, []byte("a:first-secret-value\n"), 0o600))
	core, logs := observer.New(zap.DebugLevel)
	set := testSettings()
	set.Logger = zap.New(core)
	ext := startExt(t, fileServerConfig(path), set, nil)

	writeAtomic(t, path, "b:second-secret-value\nc:third secret value\n")
	require.Eventually(t, func() bool { return logs.FilterMessageSnippet("keeping the previous tokens").Len() > 0 }, 5*time.Second, 5*time.Millisecond)
	writeAtomic(t, path, "b:second-secret-value\n")
	require.Eventually(t, func() bool { _, ok := authenticates(ext, "second-secret-value"); return ok }, 5*time.Second, 5*time.Millisecond)

	for _, entry := range logs.All() {
		line := entry.Message
		for _, f := range entry.Context {
			line += " " + f.String
			if f.Interface != nil {
				line += " " + fmt.Sprint(f.Interface)
			}
		}
		for _, secret := range []string{"first-secret", "second-secret", "third secret"} {
			assert.NotContains(t, line, secret)
		}
	}
	assert.Contains(t, logs.FilterMessageSnippet("keeping the previous tokens").All()[0].ContextMap()["error"], "line 2")
}

// An in-place write of tokens_file in two steps (truncate and write part of
// the new line, then the rest within tokens_file_reload_delay) never
// publishes the half-written token: neither through the file watcher nor
// through the periodic re-read.
func TestTokensFileHalfWrittenTokenNeverAccepted(t *testing.T) {
	const (
		oldToken = "old-token-0123456789abcdef"
		newToken = "new-token-0123456789abcdefghijklmnop"
		delay    = 300 * time.Millisecond
	)
	partial := newToken[:20] // long enough to be a valid token on its own
	for _, mode := range []string{"watch", "periodic"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens")
			require.NoError(t, os.WriteFile(path, []byte("svc:"+oldToken+"\n"), 0o600))
			cfg := fileServerConfig(path)
			cfg.TokensFileReloadDelay = delay
			if mode == "periodic" {
				cfg.TokensFileReloadInterval = 5 * time.Millisecond
			}
			ext := startExt(t, cfg, testSettings(), nil)
			write := path
			if mode == "periodic" {
				// A change fsnotify does not see, as on a file system without
				// notifications: written through a hard link in another directory.
				write = filepath.Join(t.TempDir(), "link")
				require.NoError(t, os.Link(path, write))
			}

			var partialAccepted atomic.Int64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, ok := authenticates(ext, partial); ok {
						partialAccepted.Add(1)
					}
				}
			}()

			f, err := os.OpenFile(write, os.O_WRONLY|os.O_TRUNC, 0o600)
			require.NoError(t, err)
			_, err = f.WriteString("svc:" + partial)
			require.NoError(t, err)
			time.Sleep(delay / 3)
			_, err = f.WriteString(newToken[len(partial):] + "\n")
			require.NoError(t, err)
			require.NoError(t, f.Close())

			require.Eventually(t, func() bool { _, ok := authenticates(ext, newToken); return ok }, 5*time.Second, 5*time.Millisecond)
			close(stop)
			<-done
			assert.Zero(t, partialAccepted.Load(), "the half-written token was accepted")
			_, ok := authenticates(ext, oldToken)
			assert.False(t, ok)
		})
	}
}
