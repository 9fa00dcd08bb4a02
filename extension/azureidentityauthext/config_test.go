package azureidentityauthext

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

const (
	testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	testClient = "11111111-2222-3333-4444-555555555555"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	withDefaults := func(f func(*Config)) *Config {
		c := createDefaultConfig().(*Config)
		f(c)
		return c
	}
	server := func(f func(*ServerConfig)) *ServerConfig {
		s := NewServerConfig()
		f(s)
		return s
	}

	tests := []struct {
		id       string
		expected *Config
		// errKeys must all appear in the validation error (the offending keys).
		errKeys []string
		// secrets must not appear in the validation error.
		secrets []string
	}{
		{id: "managed_identity_system", expected: withDefaults(func(c *Config) { c.ManagedIdentity = &ManagedIdentityConfig{} })},
		{id: "managed_identity_client_id", expected: withDefaults(func(c *Config) {
			c.ManagedIdentity = &ManagedIdentityConfig{ClientID: testClient}
			c.Scopes = []string{"https://ingest.monitor.azure.com/.default"}
		})},
		{id: "managed_identity_resource_id", expected: withDefaults(func(c *Config) {
			c.ManagedIdentity = &ManagedIdentityConfig{ResourceID: "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/otel"}
		})},
		{id: "managed_identity_object_id", expected: withDefaults(func(c *Config) {
			c.ManagedIdentity = &ManagedIdentityConfig{ObjectID: "99999999-8888-7777-6666-555555555555"}
		})},
		{id: "workload_identity_env", expected: withDefaults(func(c *Config) { c.WorkloadIdentity = &WorkloadIdentityConfig{} })},
		{id: "workload_identity", expected: withDefaults(func(c *Config) {
			c.WorkloadIdentity = &WorkloadIdentityConfig{TenantID: testTenant, ClientID: testClient, TokenFile: "/var/run/secrets/azure/tokens/azure-identity-token"}
		})},
		{id: "service_principal_secret", expected: withDefaults(func(c *Config) {
			c.ServicePrincipal = &ServicePrincipalConfig{TenantID: testTenant, ClientID: testClient, ClientSecret: "not-a-real-secret"}
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
		{id: "service_principal_certificate", expected: withDefaults(func(c *Config) {
			c.ServicePrincipal = &ServicePrincipalConfig{
				TenantID: "contoso.onmicrosoft.com", ClientID: testClient,
				ClientCertificatePath: "/etc/otel/sp.pfx", ClientCertificatePassword: "not-a-real-password", SendCertificateChain: true,
			}
			c.AuthorityHost = "https://login.example.internal/"
			c.DisableInstanceDiscovery = true
			c.TLS = configtls.ClientConfig{Config: configtls.Config{CAFile: "/etc/otel/private-ca.pem"}}
			c.RequireTransportSecurity = false
		})},
		{id: "default", expected: withDefaults(func(c *Config) { c.Default = &DefaultCredentialConfig{} })},
		{id: "default_tenant", expected: withDefaults(func(c *Config) {
			c.Default = &DefaultCredentialConfig{TenantID: testTenant}
			c.Cloud = "AzureChina"
		})},
		{id: "azure_cli", expected: withDefaults(func(c *Config) { c.AzureCLI = &AzureCLIConfig{Subscription: "my-subscription"} })},
		{id: "server_tenant", expected: withDefaults(func(c *Config) {
			c.Server = server(func(s *ServerConfig) { s.TenantID = testTenant; s.Audiences = []string{"api://otel-gateway"} })
		})},
		{id: "server_multi_tenant", expected: withDefaults(func(c *Config) {
			c.Server = &ServerConfig{
				TenantID:               "organizations",
				Audiences:              []string{"api://otel-gateway", "22222222-3333-4444-5555-666666666666"},
				AllowedTenants:         []string{testTenant, "11111111-0000-0000-0000-000000000000"},
				RequiredRoles:          []string{"Telemetry.Write"},
				RequiredScopes:         []string{"Telemetry.Send"},
				ClockSkew:              30 * time.Second,
				KeysRefreshInterval:    6 * time.Hour,
				KeysMinRefetchInterval: time.Minute,
				TokenCacheSize:         0,
			}
		})},
		{id: "server_issuer", expected: withDefaults(func(c *Config) {
			c.Server = server(func(s *ServerConfig) {
				s.Issuer = "https://login.microsoftonline.com/" + testTenant + "/v2.0"
				s.Audiences = []string{"api://otel-gateway"}
			})
		})},
		{id: "client_and_server", expected: withDefaults(func(c *Config) {
			c.ManagedIdentity = &ManagedIdentityConfig{}
			c.Server = server(func(s *ServerConfig) { s.TenantID = testTenant; s.Audiences = []string{"api://otel-gateway"} })
		})},

		{id: "nothing", errKeys: []string{"managed_identity", "service_principal", "server"}},
		{id: "two_kinds", errKeys: []string{"managed_identity and service_principal", "exactly one"}, secrets: []string{"not-a-real-secret"}},
		{id: "managed_identity_two_ids", errKeys: []string{"managed_identity::client_id and managed_identity::object_id"}},
		{id: "managed_identity_two_scopes", errKeys: []string{"scopes:", "managed_identity takes exactly one scope"}},
		{id: "service_principal_secret_and_certificate", errKeys: []string{"service_principal::client_secret and service_principal::client_certificate_path"}, secrets: []string{"not-a-real-secret"}},
		{id: "service_principal_no_secret", errKeys: []string{"service_principal::client_secret or service_principal::client_certificate_path"}},
		{id: "service_principal_no_tenant", errKeys: []string{"service_principal::tenant_id: required"}, secrets: []string{"not-a-real-secret"}},
		{id: "service_principal_bad_tenant", errKeys: []string{"service_principal::tenant_id", "not a valid tenant id"}},
		{id: "service_principal_password_without_certificate", errKeys: []string{"service_principal::client_certificate_password"}, secrets: []string{"not-a-real-password", "not-a-real-secret"}},
		{id: "no_scopes", errKeys: []string{"scopes: at least one"}},
		{id: "bad_scope", errKeys: []string{"scopes[0]"}},
		{id: "unknown_cloud", errKeys: []string{"cloud:", "AzureGermany", "authority_host"}},
		{id: "cloud_and_authority_host", errKeys: []string{"cloud and authority_host"}},
		{id: "authority_host_http", errKeys: []string{"authority_host:", "https"}},
		{id: "bad_header", errKeys: []string{"header:"}},
		{id: "bad_scheme", errKeys: []string{"scheme:"}},
		{id: "bad_timeout", errKeys: []string{"timeout:"}},
		{id: "bad_refresh", errKeys: []string{"refresh: max_backoff"}},
		{id: "bad_allowed_tenant", errKeys: []string{"additionally_allowed_tenants[0]"}},
		{id: "server_issuer_and_tenant", errKeys: []string{"server::issuer and server::tenant_id"}},
		{id: "server_no_issuer", errKeys: []string{"server::issuer or server::tenant_id"}},
		{id: "server_no_audience", errKeys: []string{"server::audiences"}},
		{id: "server_multi_tenant_without_allowed", errKeys: []string{"server::allowed_tenants", "common"}},
		{id: "server_http_issuer", errKeys: []string{"server::issuer", "https"}},
		{id: "server_bad_clock_skew", errKeys: []string{"server::clock_skew"}},
		{id: "server_bad_allowed_tenant", errKeys: []string{"server::allowed_tenants[0]"}},
		{id: "server_negative_cache", errKeys: []string{"server::token_cache_size"}},
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
