package azureidentityauthext

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/configtest"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

const (
	testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	testClient = "11111111-2222-3333-4444-555555555555"
)

func TestLoadConfig(t *testing.T) {
	withDefaults := configtest.WithDefaults[Config](createDefaultConfig)
	server := func(f func(*ServerConfig)) configoptional.Optional[ServerConfig] {
		s := createDefaultConfig().(*Config).Server.GetOrInsertDefault()
		f(s)
		return configoptional.Some(*s)
	}

	configtest.Run(t, filepath.Join("testdata", "config.yaml"), metadata.Type, NewFactory().CreateDefaultConfig, []configtest.Case{
		{ID: "managed_identity_system", Expected: withDefaults(func(c *Config) { c.ManagedIdentity = configoptional.Some(ManagedIdentityConfig{}) })},
		{ID: "managed_identity_client_id", Expected: withDefaults(func(c *Config) {
			c.ManagedIdentity = configoptional.Some(ManagedIdentityConfig{ClientID: testClient})
			c.Scopes = []string{"https://ingest.monitor.azure.com/.default"}
		})},
		{ID: "managed_identity_resource_id", Expected: withDefaults(func(c *Config) {
			c.ManagedIdentity = configoptional.Some(ManagedIdentityConfig{ResourceID: "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/otel"})
		})},
		{ID: "managed_identity_object_id", Expected: withDefaults(func(c *Config) {
			c.ManagedIdentity = configoptional.Some(ManagedIdentityConfig{ObjectID: "99999999-8888-7777-6666-555555555555"})
		})},
		{ID: "workload_identity_env", Expected: withDefaults(func(c *Config) { c.WorkloadIdentity = configoptional.Some(WorkloadIdentityConfig{}) })},
		{ID: "workload_identity", Expected: withDefaults(func(c *Config) {
			c.WorkloadIdentity = configoptional.Some(WorkloadIdentityConfig{TenantID: testTenant, ClientID: testClient, TokenFile: "/var/run/secrets/azure/tokens/azure-identity-token"})
		})},
		{ID: "service_principal_secret", Expected: withDefaults(func(c *Config) {
			c.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{TenantID: testTenant, ClientID: testClient, ClientSecret: "not-a-real-secret"})
			c.Cloud = "AzureGovernment"
			c.AdditionallyAllowedTenants = []string{"*"}
			c.Header = "X-Api-Token"
			c.Scheme = ""
			c.Timeout = 10 * time.Second
			c.Refresh = tokencache.Config{
				BeforeExpiry: 10 * time.Minute, Interval: time.Minute, InitialWait: 2 * time.Second,
				InitialBackoff: 500 * time.Millisecond, MaxBackoff: 30 * time.Second, MinInvalidateInterval: 10 * time.Second,
			}
		})},
		{ID: "service_principal_certificate", Expected: withDefaults(func(c *Config) {
			c.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{
				TenantID: "contoso.onmicrosoft.com", ClientID: testClient,
				ClientCertificatePath: "/etc/otel/sp.pfx", ClientCertificatePassword: "not-a-real-password", SendCertificateChain: true,
			})
			c.AuthorityHost = "https://login.example.internal/"
			c.DisableInstanceDiscovery = true
			c.TLS = configtls.ClientConfig{Config: configtls.Config{CAFile: "/etc/otel/private-ca.pem"}}
			c.RequireTransportSecurity = false
			c.SendCredentialOnRedirect = true
		})},
		{ID: "default", Expected: withDefaults(func(c *Config) { c.Default = configoptional.Some(DefaultCredentialConfig{}) })},
		{ID: "default_tenant", Expected: withDefaults(func(c *Config) {
			c.Default = configoptional.Some(DefaultCredentialConfig{TenantID: testTenant})
			c.Cloud = "AzureChina"
		})},
		{ID: "azure_cli", Expected: withDefaults(func(c *Config) { c.AzureCLI = configoptional.Some(AzureCLIConfig{Subscription: "my-subscription"}) })},
		{ID: "server_tenant", Expected: withDefaults(func(c *Config) {
			c.Server = server(func(s *ServerConfig) { s.TenantID = testTenant; s.Audiences = []string{"api://otel-gateway"} })
		})},
		{ID: "server_multi_tenant", Expected: withDefaults(func(c *Config) {
			c.Server = configoptional.Some(ServerConfig{
				TenantID:               "organizations",
				Audiences:              []string{"api://otel-gateway", "22222222-3333-4444-5555-666666666666"},
				AllowedTenants:         []string{testTenant, "11111111-0000-0000-0000-000000000000"},
				RequiredRoles:          []string{"Telemetry.Write"},
				RequiredScopes:         []string{"Telemetry.Send"},
				ClockSkew:              30 * time.Second,
				KeysRefreshInterval:    6 * time.Hour,
				KeysMinRefetchInterval: time.Minute,
				TokenCacheSize:         0,
			})
		})},
		{ID: "server_issuer", Expected: withDefaults(func(c *Config) {
			c.Server = server(func(s *ServerConfig) {
				s.Issuer = "https://login.microsoftonline.com/" + testTenant + "/v2.0"
				s.Audiences = []string{"api://otel-gateway"}
			})
		})},
		{ID: "server_tenant_domain", Expected: withDefaults(func(c *Config) {
			c.Server = server(func(s *ServerConfig) {
				s.TenantID = "contoso.onmicrosoft.com"
				s.Audiences = []string{"api://otel-gateway"}
			})
		})},
		{ID: "client_and_server", Expected: withDefaults(func(c *Config) {
			c.ManagedIdentity = configoptional.Some(ManagedIdentityConfig{})
			c.Server = server(func(s *ServerConfig) { s.TenantID = testTenant; s.Audiences = []string{"api://otel-gateway"} })
		})},

		{ID: "nothing", ErrContains: []string{"managed_identity", "service_principal", "server"}},
		{ID: "two_kinds", ErrContains: []string{"managed_identity and service_principal", "exactly one"}, Secrets: []string{"not-a-real-secret"}},
		{ID: "managed_identity_two_ids", ErrContains: []string{"managed_identity::client_id and managed_identity::object_id"}},
		{ID: "managed_identity_two_scopes", ErrContains: []string{"scopes:", "managed_identity takes exactly one scope"}},
		{ID: "service_principal_secret_and_certificate", ErrContains: []string{"service_principal::client_secret and service_principal::client_certificate_path"}, Secrets: []string{"not-a-real-secret"}},
		{ID: "service_principal_no_secret", ErrContains: []string{"service_principal::client_secret or service_principal::client_certificate_path"}},
		{ID: "service_principal_no_tenant", ErrContains: []string{"service_principal::tenant_id: required"}, Secrets: []string{"not-a-real-secret"}},
		{ID: "service_principal_bad_tenant", ErrContains: []string{"service_principal::tenant_id", "not a valid tenant id"}},
		{ID: "service_principal_password_without_certificate", ErrContains: []string{"service_principal::client_certificate_password"}, Secrets: []string{"not-a-real-password", "not-a-real-secret"}},
		{ID: "no_scopes", ErrContains: []string{"scopes: at least one"}},
		{ID: "bad_scope", ErrContains: []string{"scopes[0]"}},
		{ID: "unknown_cloud", ErrContains: []string{"cloud:", "AzureGermany", "authority_host"}},
		{ID: "cloud_and_authority_host", ErrContains: []string{"cloud and authority_host"}},
		{ID: "authority_host_http", ErrContains: []string{"authority_host:", "https"}},
		{ID: "bad_header", ErrContains: []string{"header:"}},
		{ID: "bad_scheme", ErrContains: []string{"scheme:"}},
		{ID: "bad_timeout", ErrContains: []string{"timeout:"}},
		{ID: "bad_refresh", ErrContains: []string{"refresh: max_backoff"}},
		{ID: "bad_allowed_tenant", ErrContains: []string{"additionally_allowed_tenants[0]"}},
		{ID: "server_issuer_and_tenant", ErrContains: []string{"server::issuer and server::tenant_id"}},
		{ID: "server_no_issuer", ErrContains: []string{"server::issuer or server::tenant_id"}},
		{ID: "server_no_audience", ErrContains: []string{"server::audiences"}},
		{ID: "server_multi_tenant_without_allowed", ErrContains: []string{"server::allowed_tenants", "common"}},
		{ID: "server_http_issuer", ErrContains: []string{"server::issuer", "https"}},
		{ID: "server_bad_clock_skew", ErrContains: []string{"server::clock_skew"}},
		{ID: "server_bad_allowed_tenant", ErrContains: []string{"server::allowed_tenants[0]"}},
		{ID: "server_negative_cache", ErrContains: []string{"server::token_cache_size"}},
		{ID: "server_tenant_neither_guid_nor_domain", ErrContains: []string{`server::tenant_id: "contoso" is neither a tenant id (a GUID)`, "contoso.onmicrosoft.com"}},
		{ID: "server_allowed_tenant_domain", ErrContains: []string{`server::allowed_tenants[1]: "contoso.onmicrosoft.com" is not a tenant id`}},
		{ID: "server_refetch_unlimited", ErrContains: []string{"server::keys_min_refetch_interval: must be at least 1s", "got 0s"}},
		{ID: "server_refetch_below_floor", ErrContains: []string{"server::keys_min_refetch_interval: must be at least 1s", "got 500ms"}},
	})
}

// An empty server block counts as set and carries the documented defaults.
func TestServerBlockDefaults(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.False(t, cfg.Server.HasValue())
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"server": nil}).Unmarshal(cfg))
	require.True(t, cfg.Server.HasValue())
	assert.Equal(t, ServerConfig{
		ClockSkew:              time.Minute,
		KeysRefreshInterval:    time.Hour,
		KeysMinRefetchInterval: 30 * time.Second,
		TokenCacheSize:         4096,
	}, *cfg.Server.Get())
}
