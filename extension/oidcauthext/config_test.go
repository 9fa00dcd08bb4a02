package oidcauthext

import (
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configtls"

	"github.com/otelcol-custom/otelcol-custom/extension/oidcauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/configtest"
)

func TestLoadConfig(t *testing.T) {
	withDefaults := func(f func(*Config)) *Config {
		c := createDefaultConfig()
		f(c)
		return c
	}
	const kc = "https://keycloak.example.com/realms/observability"
	configtest.Run(t, filepath.Join("testdata", "config.yaml"), metadata.Type, func() component.Config { return createDefaultConfig() }, []configtest.Case{
		{ID: "minimal", Expected: withDefaults(func(c *Config) {
			c.Issuers = []IssuerConfig{{IssuerURL: kc, Audiences: []string{"otel-collector"}}}
		})},
		{ID: "full", Expected: withDefaults(func(c *Config) {
			c.Issuers = []IssuerConfig{
				{
					IssuerURL: kc, Audiences: []string{"otel-collector", "account"}, Algorithms: []string{"RS256", "PS256"},
					RequiredClaims: map[string]string{"tenant_id": "", "groups": "telemetry-writers"},
					SubjectClaim:   "azp", GroupsClaim: "realm_groups",
					Attributes: map[string]string{"tenant": "tenant_id"},
				},
				{IssuerURL: "https://example.okta.com/oauth2/default", Audiences: []string{"api://otel-gateway"}, Algorithms: []string{"ES256"}},
			}
			c.TLS = configtls.ClientConfig{Config: configtls.Config{CAFile: "/etc/ssl/idp-ca.pem"}}
			c.Timeout, c.Header, c.Scheme, c.ClockSkew = 3*time.Second, "X-Otel-Token", "", 30*time.Second
			c.KeysRefreshInterval, c.KeysMinRefetchInterval, c.TokenCacheSize = 6*time.Hour, time.Minute, 0
		})},
		{ID: "no_issuers", ErrContains: []string{"issuers: at least one issuer"}},
		{ID: "http_issuer", ErrContains: []string{"issuers::0::issuer_url", "https"}},
		{ID: "no_audience", ErrContains: []string{"issuers::0::audiences: at least one"}},
		{ID: "empty_audience", ErrContains: []string{"issuers::0::audiences::0"}},
		{ID: "alg_none", ErrContains: []string{"issuers::0::algorithms::1", `"none"`}},
		{ID: "alg_hmac", ErrContains: []string{"issuers::0::algorithms::0", `"HS256"`, "never none or HMAC"}},
		{ID: "duplicate_issuer", ErrContains: []string{"issuers::1::issuer_url", "also issuers::0"}},
		{ID: "reserved_attribute", ErrContains: []string{"issuers::0::attributes::subject"}},
		{ID: "bad_skew", ErrContains: []string{"clock_skew"}},
		{ID: "bad_refetch", ErrContains: []string{"keys_min_refetch_interval", "at least 1s"}},
		{ID: "bad_header", ErrContains: []string{"header:"}},
		{ID: "negative_cache", ErrContains: []string{"token_cache_size"}},
	})
}
