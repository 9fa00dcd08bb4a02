package bearerauthext

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-custom/otelcol-custom/extension/bearerauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	withDefaults := func(f func(*Config)) *Config {
		c := createDefaultConfig().(*Config)
		f(c)
		return c
	}

	tests := []struct {
		id       string
		expected *Config
		// errKeys must all appear in the validation error (the offending keys).
		errKeys []string
		// secrets must not appear in the validation error.
		secrets []string
	}{
		{id: "client_static", expected: withDefaults(func(c *Config) { c.Token = "client-static-token" })},
		{id: "client_file", expected: withDefaults(func(c *Config) {
			c.TokenFile = "/var/run/secrets/otel/token"
			c.Header = "X-Api-Key"
			c.Scheme = ""
			c.RequireTransportSecurity = false
			c.Refresh = tokencache.Config{
				BeforeExpiry: 2 * time.Minute, Interval: 30 * time.Second, InitialWait: 2 * time.Second,
				InitialBackoff: 500 * time.Millisecond, MaxBackoff: 30 * time.Second, MinInvalidateInterval: 10 * time.Second,
			}
		})},
		{id: "server_tokens", expected: withDefaults(func(c *Config) {
			c.Tokens = []TokenConfig{{Name: "team-a", Token: "team-a-token"}, {Token: "anonymous-token=="}, {Token: "another-anonymous-token"}}
		})},
		{id: "server_file", expected: withDefaults(func(c *Config) {
			c.TokensFile = "/etc/otelcol/tokens"
			c.TokensFileReloadInterval = 0
			c.Scheme = "Token"
		})},
		{id: "both", expected: withDefaults(func(c *Config) {
			c.TokenFile = "/var/run/secrets/otel/token"
			c.Tokens = []TokenConfig{{Name: "collector-a", Token: "collector-a-token"}}
			c.TokensFile = "/etc/otelcol/tokens"
		})},

		{id: "nothing", errKeys: []string{"token", "token_file", "tokens", "tokens_file"}},
		{id: "token_and_token_file", errKeys: []string{"token and token_file"}, secrets: []string{"client-static-token"}},
		{id: "header_invalid", errKeys: []string{"header:"}},
		{id: "header_empty", errKeys: []string{"header:"}},
		{id: "scheme_invalid", errKeys: []string{"scheme:"}},
		{id: "client_token_crlf", errKeys: []string{"token:", "line break"}, secrets: []string{"Injected"}},
		{id: "client_token_space", errKeys: []string{"token:", "whitespace"}, secrets: []string{"client token"}},
		{id: "server_token_crlf", errKeys: []string{"tokens[3]::token", "line break"}, secrets: []string{"evil", "X-Injected"}},
		{id: "server_token_empty", errKeys: []string{"tokens[0]::token", "empty"}},
		{id: "server_token_not_b64token", errKeys: []string{"tokens[1]::token", "b64token"}, secrets: []string{"not!a!b64token"}},
		{id: "server_token_inner_padding", errKeys: []string{"tokens[0]::token", "'='"}, secrets: []string{"abc=def"}},
		{id: "server_token_non_ascii", errKeys: []string{"tokens[0]::token", "non-ASCII"}, secrets: []string{"tökén"}},
		{id: "server_duplicate_token", errKeys: []string{"tokens[1]", "same token as tokens[0]"}, secrets: []string{"same-token"}},
		{id: "server_duplicate_name", errKeys: []string{"tokens[1]", `name "team" is already used by tokens[0]`}, secrets: []string{"token-one", "token-two"}},
		{id: "server_name_colon", errKeys: []string{"tokens[0]::name"}, secrets: []string{"token-one"}},
		{id: "tokens_file_reload_negative", errKeys: []string{"tokens_file_reload_interval"}},
		{id: "refresh_backoff_inverted", errKeys: []string{"refresh: max_backoff (1s) must not be less than initial_backoff (10s)"}, secrets: []string{"client-static-token"}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			id := component.NewIDWithName(metadata.Type, tt.id)
			seen[id.String()] = true
			sub, err := cm.Sub(id.String())
			require.NoError(t, err)
			cfg := NewFactory().CreateDefaultConfig()
			require.NoError(t, sub.Unmarshal(cfg))

			err = confmap.Validate(cfg)
			if tt.expected != nil {
				require.NoError(t, err)
				assert.Equal(t, tt.expected, cfg)
				return
			}
			require.Error(t, err)
			for _, k := range tt.errKeys {
				assert.Contains(t, err.Error(), k)
			}
			for _, s := range tt.secrets {
				assert.NotContains(t, err.Error(), s)
			}
		})
	}
	// Every shape in the file is covered by the table.
	for key := range cm.ToStringMap() {
		assert.True(t, seen[key], "testdata/config.yaml entry %s has no test case", key)
	}
}

func TestValidateTokenLength(t *testing.T) {
	long := strings.Repeat("a", maxTokenLength+1)
	cfg := createDefaultConfig().(*Config)
	cfg.Tokens = []TokenConfig{{Token: "fine"}, {Token: "fine-too"}, {Token: configopaque.String(long)}}
	err := confmap.Validate(cfg)
	require.ErrorContains(t, err, "tokens[2]::token")
	require.ErrorContains(t, err, "limit")

	cfg = createDefaultConfig().(*Config)
	cfg.Token = configopaque.String(long)
	require.ErrorContains(t, confmap.Validate(cfg), "token:")
}
