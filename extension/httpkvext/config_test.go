package httpkvext

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/otelcol-custom/otelcol-custom/extension/httpkvext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/configtest"
)

func TestLoadConfig(t *testing.T) {
	withDefaults := configtest.WithDefaults[Config](createDefaultConfig)
	configtest.Run(t, filepath.Join("testdata", "config.yaml"), metadata.Type, NewFactory().CreateDefaultConfig, []configtest.Case{
		{ID: "defaults", Expected: withDefaults(func(c *Config) {
			c.Endpoint = "http://cmdb.internal:8080"
		})},
		{ID: "per_key", Expected: withDefaults(func(c *Config) {
			c.Endpoint = "https://cmdb.internal/api"
			c.Timeout = 500 * time.Millisecond
			c.Headers = configopaque.MapList{{Name: "X-Client", Value: "otelcol"}}
			c.PerKey = PerKeyConfig{Path: "/v1/services/{key}/owner", MaxConcurrency: 32}
			c.ValuePointer = "/data/owner"
			c.MaxResponseSize = 65536
		})},
		{ID: "per_key_query", Expected: withDefaults(func(c *Config) {
			c.Endpoint = "https://catalog.internal"
			c.PerKey.Path = "/lookup?id={key}&fields=all"
		})},
		{ID: "bulk", Expected: withDefaults(func(c *Config) {
			c.Endpoint = "https://cmdb.internal/api"
			c.Mode = ModeBulk
			c.Bulk = BulkConfig{Path: "/v1/services:batchGet", KeysField: "ids"}
			c.ValuePointer = "/attributes"
			c.Compression = configcompression.TypeGzip
			c.Auth = configoptional.Some(configauth.Config{AuthenticatorID: component.MustNewIDWithName("bearerauth", "cmdb")})
			c.TLS.CAFile = "/etc/cmdb/ca.crt"
		})},

		{ID: "no_endpoint", ErrContains: []string{"endpoint: required"}},
		{ID: "endpoint_bad_scheme", ErrContains: []string{"endpoint:", `"ftp"`}},
		{ID: "endpoint_no_host", ErrContains: []string{"endpoint: no host"}},
		{ID: "endpoint_with_query", ErrContains: []string{"endpoint:", "query"}, Secrets: []string{"query-secret"}},
		{ID: "mode_unknown", ErrContains: []string{"mode:", `"graphql"`}},
		{ID: "path_no_key", ErrContains: []string{"per_key::path:", "must contain {key}"}},
		{ID: "path_two_keys", ErrContains: []string{"per_key::path:", "exactly once"}},
		{ID: "path_relative", ErrContains: []string{"per_key::path:", "start with '/'"}},
		{ID: "concurrency_zero", ErrContains: []string{"per_key::max_concurrency:"}},
		{ID: "bulk_path_with_key", ErrContains: []string{"bulk::path:", "{key}"}},
		{ID: "bulk_no_keys_field", ErrContains: []string{"bulk::keys_field:"}},
		{ID: "pointer_no_slash", ErrContains: []string{"value_pointer:", "start with '/'"}},
		{ID: "pointer_bad_escape", ErrContains: []string{"value_pointer:", "byte 7"}},
		{ID: "timeout_zero", ErrContains: []string{"timeout: must be positive"}},
		{ID: "max_response_size_zero", ErrContains: []string{"max_response_size:"}},
		{ID: "bad_compression", ErrContains: []string{"compression", `"zip"`}},
	}, configtest.AllowUnmarshalError())
}

func TestDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, ModePerKey, cfg.Mode)
	assert.Equal(t, "/{key}", cfg.PerKey.Path)
	assert.Equal(t, 8, cfg.PerKey.MaxConcurrency)
	assert.Equal(t, "keys", cfg.Bulk.KeysField)
	assert.Equal(t, int64(4<<20), cfg.MaxResponseSize)
	assert.Equal(t, 5*time.Second, cfg.Timeout)
	require.ErrorContains(t, cfg.Validate(), "endpoint: required", "the endpoint has no default")
}
