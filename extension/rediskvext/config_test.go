package rediskvext

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-custom/otelcol-custom/extension/rediskvext/internal/metadata"
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
		{id: "defaults", expected: withDefaults(func(*Config) {})},
		{id: "standalone", expected: withDefaults(func(c *Config) {
			c.Endpoints = []string{"redis.internal:6380"}
			c.Username, c.Password, c.DB = "collector", "standalone-secret", 2
			c.KeyPrefix = "otel:enrich:"
			c.DialTimeout, c.ReadTimeout, c.WriteTimeout = 500*time.Millisecond, 50*time.Millisecond, 200*time.Millisecond
			c.PoolSize, c.PipelineMultiplex = 16, 1
		})},
		{id: "cluster", expected: withDefaults(func(c *Config) {
			c.Mode = ModeCluster
			c.Endpoints = []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"}
			c.Password = "cluster-secret"
			c.KeyPrefix = "otel:"
			c.TLS.Insecure = false
			c.TLS.CAFile = "/etc/redis/ca.crt"
			c.TLS.ServerName = "redis.internal"
		})},
		{id: "sentinel", expected: withDefaults(func(c *Config) {
			c.Mode = ModeSentinel
			c.Endpoints = []string{"sentinel-1:26379", "sentinel-2:26379"}
			c.Sentinel.MasterSet, c.Sentinel.Username, c.Sentinel.Password = "mymaster", "sentinel-user", "sentinel-secret"
			c.Username, c.Password, c.DB = "collector", "data-secret", 1
		})},
		{id: "no_tracking", expected: withDefaults(func(c *Config) {
			c.Endpoints = []string{"127.0.0.1:6379"}
			c.ClientSideCaching = false
		})},

		{id: "mode_unknown", errKeys: []string{"mode:", `"replicated"`}},
		{id: "standalone_two_endpoints", errKeys: []string{"endpoints:", "exactly one"}},
		{id: "cluster_no_endpoints", errKeys: []string{"endpoints:", "at least one"}},
		{id: "endpoint_no_port", errKeys: []string{"endpoints[0]:", "host:port"}, secrets: []string{"never-shown"}},
		{id: "endpoint_bad_port", errKeys: []string{"endpoints[1]:", "port"}},
		{id: "endpoint_no_host", errKeys: []string{"endpoints[0]:", "no host"}},
		{id: "sentinel_no_master_set", errKeys: []string{"sentinel::master_set"}, secrets: []string{"sentinel-secret"}},
		{id: "sentinel_settings_in_standalone", errKeys: []string{"sentinel:", "only used in sentinel mode"}},
		{id: "db_negative", errKeys: []string{"db:"}},
		{id: "db_in_cluster", errKeys: []string{"db:", "database 0"}},
		{id: "timeouts_zero", errKeys: []string{"dial_timeout:", "read_timeout:", "write_timeout:"}},
		{id: "pool_negative", errKeys: []string{"pool_size:"}},
		{id: "multiplex_too_large", errKeys: []string{"pipeline_multiplex:"}},
		{id: "tls_bad_version", errKeys: []string{"tls", "1.9"}, secrets: []string{"tls-secret"}},
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
	for key := range cm.ToStringMap() {
		assert.True(t, seen[key], "testdata/config.yaml entry %s has no test case", key)
	}
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
	assert.Equal(t, []string{"BCAST", "PREFIX", "pfx:"}, opt.ClientTrackingOptions)
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
