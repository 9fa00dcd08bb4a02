package bearerauthext

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-custom/otelcol-custom/extension/bearerauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/configtest"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

func TestLoadConfig(t *testing.T) {
	withDefaults := configtest.WithDefaults[Config](createDefaultConfig)

	configtest.Run(t, filepath.Join("testdata", "config.yaml"), metadata.Type, NewFactory().CreateDefaultConfig, []configtest.Case{
		{ID: "client_static", Expected: withDefaults(func(c *Config) { c.Token = "client-static-token" })},
		{ID: "client_file", Expected: withDefaults(func(c *Config) {
			c.TokenFile = "/var/run/secrets/otel/token"
			c.Header = "X-Api-Key"
			c.Scheme = ""
			c.RequireTransportSecurity = false
			c.SendCredentialOnRedirect = true
			c.Refresh = tokencache.Config{
				BeforeExpiry: 2 * time.Minute, Interval: 30 * time.Second, InitialWait: 2 * time.Second,
				InitialBackoff: 500 * time.Millisecond, MaxBackoff: 30 * time.Second, MinInvalidateInterval: 10 * time.Second,
			}
		})},
		{ID: "server_tokens", Expected: withDefaults(func(c *Config) {
			c.Tokens = []TokenConfig{{Name: "team-a", Token: "team-a-token-0123456789"}, {Token: "anonymous-token-0123=="}, {Token: "another-anonymous-token"}}
		})},
		{ID: "server_file", Expected: withDefaults(func(c *Config) {
			c.TokensFile = "/etc/otelcol/tokens"
			c.TokensFileReloadInterval = 0
			c.TokensFileReloadDelay = time.Second
			c.Scheme = "Token"
		})},
		{ID: "both", Expected: withDefaults(func(c *Config) {
			c.TokenFile = "/var/run/secrets/otel/token"
			c.Tokens = []TokenConfig{{Name: "collector-a", Token: "collector-a-token-0123"}}
			c.TokensFile = "/etc/otelcol/tokens"
		})},

		{ID: "nothing", ErrContains: []string{"token", "token_file", "tokens", "tokens_file"}},
		{ID: "token_and_token_file", ErrContains: []string{"token and token_file"}, Secrets: []string{"client-static-token"}},
		{ID: "header_invalid", ErrContains: []string{"header:"}},
		{ID: "header_empty", ErrContains: []string{"header:"}},
		{ID: "scheme_invalid", ErrContains: []string{"scheme:"}},
		{ID: "client_token_crlf", ErrContains: []string{"token:", "line break"}, Secrets: []string{"Injected"}},
		{ID: "client_token_space", ErrContains: []string{"token:", "whitespace"}, Secrets: []string{"client token"}},
		{ID: "server_token_crlf", ErrContains: []string{"tokens[3]::token", "line break"}, Secrets: []string{"evil", "X-Injected"}},
		{ID: "server_token_empty", ErrContains: []string{"tokens[0]::token", "empty"}},
		{ID: "server_token_not_b64token", ErrContains: []string{"tokens[1]::token", "b64token"}, Secrets: []string{"not!a!b64token"}},
		{ID: "server_token_inner_padding", ErrContains: []string{"tokens[0]::token", "'='"}, Secrets: []string{"abc=def-0123456789"}},
		{ID: "server_token_non_ascii", ErrContains: []string{"tokens[0]::token", "non-ASCII"}, Secrets: []string{"tökén"}},
		{ID: "server_duplicate_token", ErrContains: []string{"tokens[1]", "same token as tokens[0]"}, Secrets: []string{"same-token-0123456789"}},
		{ID: "server_duplicate_name", ErrContains: []string{"tokens[1]", `name "team" is already used by tokens[0]`}, Secrets: []string{"token-one-0123456789", "token-two-0123456789"}},
		{ID: "server_name_colon", ErrContains: []string{"tokens[0]::name"}, Secrets: []string{"token-one-0123456789"}},
		{ID: "server_token_short", ErrContains: []string{"tokens[1]::token: is shorter than 16 bytes"}, Secrets: []string{"short-secret", "weak"}},
		{ID: "tokens_file_reload_delay_negative", ErrContains: []string{"tokens_file_reload_delay: must not be negative"}},
		{ID: "tokens_file_reload_negative", ErrContains: []string{"tokens_file_reload_interval"}},
		{ID: "refresh_backoff_inverted", ErrContains: []string{"refresh: max_backoff (1s) must not be less than initial_backoff (10s)"}, Secrets: []string{"client-static-token"}},
	})
}

func TestValidateTokenLength(t *testing.T) {
	long := strings.Repeat("a", maxTokenLength+1)
	cfg := createDefaultConfig().(*Config)
	cfg.Tokens = []TokenConfig{{Token: "fine-token-0123456789"}, {Token: "fine-too-0123456789"}, {Token: configopaque.String(long)}}
	err := confmap.Validate(cfg)
	require.ErrorContains(t, err, "tokens[2]::token")
	require.ErrorContains(t, err, "limit")

	cfg = createDefaultConfig().(*Config)
	cfg.Token = configopaque.String(long)
	require.ErrorContains(t, confmap.Validate(cfg), "token:")
}
