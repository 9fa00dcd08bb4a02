package oauth2clientauthext

import (
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/config/configtls"

	"github.com/otelcol-custom/otelcol-custom/extension/oauth2clientauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/configtest"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

func TestLoadConfig(t *testing.T) {
	withDefaults := configtest.WithDefaults[Config](createDefaultConfig)
	secret := []string{"inline-test-secret"}

	configtest.Run(t, filepath.Join("testdata", "config.yaml"), metadata.Type, NewFactory().CreateDefaultConfig, []configtest.Case{
		{ID: "client_secret", Expected: withDefaults(func(c *Config) {
			c.TokenURL, c.ClientID, c.ClientSecret = "https://idp.example.com/oauth2/token", "collector", "inline-test-secret"
		})},
		{ID: "client_secret_file", Expected: withDefaults(func(c *Config) {
			c.TokenURL = "https://keycloak.example.com/realms/observability/protocol/openid-connect/token"
			c.ClientID = "otel-collector"
			c.ClientSecretFile = "/var/run/secrets/oauth2/client-secret"
			c.ClientAuthMethod = "client_secret_post"
			c.Scopes = []string{"telemetry.write", "profile"}
			c.Audience = "https://ingest.example.com"
			c.EndpointParams = url.Values{"resource": {"https://ingest.example.com/v1"}, "tenant": {"a", "b"}}
			c.TLS = configtls.ClientConfig{Config: configtls.Config{CAFile: "/etc/ssl/idp-ca.pem"}}
			c.Timeout = 3 * time.Second
			c.RequireTransportSecurity = false
			c.SendCredentialOnRedirect = true
			c.Refresh = tokencache.Config{
				BeforeExpiry: 2 * time.Minute, Interval: 30 * time.Second, InitialWait: 2 * time.Second,
				InitialBackoff: 500 * time.Millisecond, MaxBackoff: 30 * time.Second, MinInvalidateInterval: 10 * time.Second,
			}
		})},
		{ID: "private_key_jwt", Expected: withDefaults(func(c *Config) {
			c.TokenURL, c.ClientID = "https://example.okta.com/oauth2/default/v1/token", "0oa1collector"
			c.PrivateKeyJWT = &PrivateKeyJWTConfig{KeyFile: "/etc/otelcol/oauth2/client-key.pem"}
		})},
		{ID: "private_key_jwt_full", Expected: withDefaults(func(c *Config) {
			c.TokenURL, c.ClientID = "https://example.okta.com/oauth2/default/v1/token", "0oa1collector"
			c.PrivateKeyJWT = &PrivateKeyJWTConfig{
				KeyFile: "/etc/otelcol/oauth2/client-key.pem", KeyID: "collector-2026", Algorithm: "ES256",
				Audience: "https://example.okta.com/oauth2/default", Lifetime: time.Minute,
			}
		})},
		{ID: "token_exchange", Expected: withDefaults(func(c *Config) {
			c.TokenURL = "https://sts.example.com/v1/token"
			c.GrantType = grantTokenExchange
			c.SubjectTokenFile = "/var/run/secrets/tokens/oauth2-token"
			c.RequestedTokenType = "urn:ietf:params:oauth:token-type:access_token"
			c.Audience = "https://ingest.example.com"
		})},
		{ID: "jwt_bearer", Expected: withDefaults(func(c *Config) {
			c.TokenURL, c.ClientID, c.ClientSecret = "https://idp.example.com/oauth2/token", "collector", "jwt-bearer-test-secret"
			c.GrantType = grantJWTBearer
			c.SubjectTokenFile = "/var/run/secrets/tokens/oauth2-token"
			c.Scopes = []string{"telemetry.write"}
		})},

		{ID: "nothing", ErrContains: []string{"token_url: required", "client_id: required for grant_type client_credentials",
			"client_secret, client_secret_file or private_key_jwt: one is required"}},
		{ID: "token_url_not_http", ErrContains: []string{`token_url: "ftp://idp.example.com/token" is not an http(s) URL`}, Secrets: secret},
		{ID: "secret_and_secret_file", ErrContains: []string{"client_secret and client_secret_file: set only one"}, Secrets: secret},
		{ID: "secret_and_private_key_jwt", ErrContains: []string{"client_secret and private_key_jwt: set only one"}, Secrets: secret},
		{ID: "client_credentials_no_auth", ErrContains: []string{"client_secret, client_secret_file or private_key_jwt: one is required for grant_type client_credentials"}},
		{ID: "secret_without_client_id", ErrContains: []string{"client_id: required with client_secret"}, Secrets: secret},
		{ID: "client_credentials_subject_token_file", ErrContains: []string{"subject_token_file: only for grant_type token_exchange or jwt_bearer"}, Secrets: secret},
		{ID: "token_exchange_no_subject", ErrContains: []string{"subject_token_file: required for grant_type token_exchange"}},
		{ID: "subject_token_type_with_jwt_bearer", ErrContains: []string{"subject_token_type: only for grant_type token_exchange"}},
		{ID: "unknown_grant", ErrContains: []string{`grant_type: "password" is not one of client_credentials, token_exchange, jwt_bearer`}, Secrets: secret},
		{ID: "auth_method_unknown", ErrContains: []string{`client_auth_method: "client_secret_jwt" is not one of`}, Secrets: secret},
		{ID: "auth_method_without_secret", ErrContains: []string{"client_auth_method: only applies to client_secret or client_secret_file"}},
		{ID: "private_key_jwt_bad", ErrContains: []string{"private_key_jwt::key_file: required", `private_key_jwt::algorithm: "HS256" is not one of`,
			"private_key_jwt::lifetime: must not be negative", `private_key_jwt::audience: "not a url" is not a URL`}},
		{ID: "endpoint_params_reserved", ErrContains: []string{"endpoint_params::client_secret: set by the extension (use client_secret or client_secret_file)",
			"endpoint_params::scope: set by the extension (use scopes)"}, Secrets: []string{"inline-test-secret", "smuggled-test-secret"}},
		{ID: "scope_with_space", ErrContains: []string{`scopes[0]: "read write" is not a valid scope`}, Secrets: secret},
		{ID: "timeout_zero", ErrContains: []string{"timeout: must be positive, got 0s"}, Secrets: secret},
		{ID: "refresh_backoff_inverted", ErrContains: []string{"refresh: max_backoff (1s) must not be less than initial_backoff (10s)"}, Secrets: secret},
		{ID: "tls_bad_version", ErrContains: []string{"tls:"}, Secrets: secret},
	})
}
