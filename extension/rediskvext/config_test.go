package rediskvext

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-custom/otelcol-custom/extension/rediskvext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/configtest"
)

func TestLoadConfig(t *testing.T) {
	withDefaults := configtest.WithDefaults[Config](createDefaultConfig)

	configtest.Run(t, filepath.Join("testdata", "config.yaml"), metadata.Type, NewFactory().CreateDefaultConfig, []configtest.Case{
		{ID: "defaults", Expected: withDefaults(func(*Config) {})},
		{ID: "standalone", Expected: withDefaults(func(c *Config) {
			c.Endpoints = []string{"redis.internal:6380"}
			c.Username, c.Password, c.DB = "collector", "standalone-secret", 2
			c.KeyPrefix = "otel:enrich:"
			c.DialTimeout, c.ReadTimeout, c.WriteTimeout = 500*time.Millisecond, 50*time.Millisecond, 200*time.Millisecond
			c.PoolSize, c.PipelineMultiplex = 16, 1
		})},
		{ID: "cluster", Expected: withDefaults(func(c *Config) {
			c.Mode = ModeCluster
			c.Endpoints = []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"}
			c.Password = "cluster-secret"
			c.KeyPrefix = "otel:"
			c.TLS.Insecure = false
			c.TLS.CAFile = "/etc/redis/ca.crt"
			c.TLS.ServerName = "redis.internal"
		})},
		{ID: "sentinel", Expected: withDefaults(func(c *Config) {
			c.Mode = ModeSentinel
			c.Endpoints = []string{"sentinel-1:26379", "sentinel-2:26379"}
			c.Sentinel.MasterSet, c.Sentinel.Username, c.Sentinel.Password = "mymaster", "sentinel-user", "sentinel-secret"
			c.Username, c.Password, c.DB = "collector", "data-secret", 1
		})},
		{ID: "no_tracking", Expected: withDefaults(func(c *Config) {
			c.Endpoints = []string{"127.0.0.1:6379"}
			c.ClientSideCaching = false
		})},
		{ID: "azure_entra", Expected: withDefaults(func(c *Config) {
			c.Endpoints = []string{"mycache.redis.cache.windows.net:6380"}
			c.TLS.Insecure = false
			id := component.MustNewIDWithName("azureidentityauth", "redis")
			c.Auth.TokenProvider = &id
		})},
		{ID: "token_username", Expected: withDefaults(func(c *Config) {
			c.Endpoints = []string{"redis.internal:6380"}
			id := component.MustNewIDWithName("bearerauth", "redis")
			c.Auth.TokenProvider, c.Auth.Username = &id, "collector"
		})},

		{ID: "token_and_password", ErrContains: []string{"auth::token_provider and password are exclusive"}, Secrets: []string{"never-shown-either"}},
		{ID: "token_username_without_provider", ErrContains: []string{"auth::username: needs auth::token_provider"}},
		{ID: "mode_unknown", ErrContains: []string{"mode:", `"replicated"`}},
		{ID: "standalone_two_endpoints", ErrContains: []string{"endpoints:", "exactly one"}},
		{ID: "cluster_no_endpoints", ErrContains: []string{"endpoints:", "at least one"}},
		{ID: "endpoint_no_port", ErrContains: []string{"endpoints[0]:", "host:port"}, Secrets: []string{"never-shown"}},
		{ID: "endpoint_bad_port", ErrContains: []string{"endpoints[1]:", "port"}},
		{ID: "endpoint_no_host", ErrContains: []string{"endpoints[0]:", "no host"}},
		{ID: "sentinel_no_master_set", ErrContains: []string{"sentinel::master_set"}, Secrets: []string{"sentinel-secret"}},
		{ID: "sentinel_settings_in_standalone", ErrContains: []string{"sentinel:", "only used in sentinel mode"}},
		{ID: "db_negative", ErrContains: []string{"db:"}},
		{ID: "db_in_cluster", ErrContains: []string{"db:", "database 0"}},
		{ID: "timeouts_zero", ErrContains: []string{"dial_timeout:", "read_timeout:", "write_timeout:"}},
		{ID: "pool_negative", ErrContains: []string{"pool_size:"}},
		{ID: "multiplex_too_large", ErrContains: []string{"pipeline_multiplex:"}},
		{ID: "tls_bad_version", ErrContains: []string{"tls", "1.9"}, Secrets: []string{"tls-secret"}},
	})
}

func TestClientOptionMapping(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Mode = ModeSentinel
	cfg.Endpoints = []string{"127.0.0.1:26379"}
	cfg.Sentinel.MasterSet, cfg.Sentinel.Password = "mymaster", "sp"
	cfg.Username, cfg.Password, cfg.DB = "u", "p", 3
	cfg.KeyPrefix = "pfx:"
	cfg.PoolSize, cfg.PipelineMultiplex = 7, 2
	e := newTestExt(t, cfg)
	opt, err := e.clientOption(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1:26379"}, opt.InitAddress)
	assert.Equal(t, "u", opt.Username)
	assert.Equal(t, "p", opt.Password)
	assert.Equal(t, 3, opt.SelectDB)
	assert.Equal(t, []string{"BCAST", "NOLOOP", "PREFIX", "pfx:"}, opt.ClientTrackingOptions)
	assert.NotNil(t, opt.OnInvalidations)
	assert.False(t, opt.DisableCache)
	assert.True(t, opt.DisableRetry)
	assert.False(t, opt.ForceSingleClient)
	assert.Equal(t, "mymaster", opt.Sentinel.MasterSet)
	assert.Equal(t, "sp", opt.Sentinel.Password)
	assert.Equal(t, 7, opt.BlockingPoolSize)
	assert.Equal(t, 2, opt.PipelineMultiplex)
	assert.Nil(t, opt.TLSConfig)

	cfg = createDefaultConfig().(*Config)
	cfg.ClientSideCaching = false
	e = newTestExt(t, cfg)
	opt, err = e.clientOption(t.Context())
	require.NoError(t, err)
	assert.True(t, opt.DisableCache)
	assert.True(t, opt.ForceSingleClient)
	assert.Equal(t, -1, opt.PipelineMultiplex, "pipeline_multiplex 0 is one connection, which rueidis spells -1")
	assert.Nil(t, opt.ClientTrackingOptions)
	assert.Nil(t, opt.OnInvalidations)

	cfg = createDefaultConfig().(*Config)
	cfg.TLS.Insecure = false
	cfg.TLS.CAFile = filepath.Join(t.TempDir(), "missing.crt")
	e = newTestExt(t, cfg)
	_, err = e.clientOption(t.Context())
	require.ErrorContains(t, err, "tls")
	require.Error(t, e.Start(t.Context(), nil), "unreadable TLS files fail Start")
}
