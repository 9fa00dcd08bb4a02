package kvcacheprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	full := createDefaultConfig().(*Config)
	full.Store = component.MustNewIDWithName("rediskv", "shared")
	full.Timeout = 20 * time.Millisecond
	full.FetchTimeout = time.Second
	full.OnMiss = OnMissAsync
	full.MaxValueSize = 4096
	full.Cache = CacheConfig{MaxEntries: 5000, TTL: 10 * time.Minute, NegativeTTL: 30 * time.Second, RefreshAfter: 8 * time.Minute, MaxStale: time.Hour}
	full.CircuitBreaker = CircuitBreakerConfig{FailureThreshold: 3, OpenDuration: 5 * time.Second}
	full.WriteQueue = WriteQueueConfig{Size: 100, BatchSize: 10, FlushInterval: 50 * time.Millisecond}
	full.Lookups = []LookupConfig{
		{
			Context:      ContextSpan,
			Key:          KeyConfig{Attributes: []string{"tenant", "user.id"}, Separator: "|", Lowercase: true, Prefix: "user:"},
			TargetPrefix: "user.",
			Action:       ActionInsert,
			Default:      map[string]any{"tier": "free", "limits": map[string]any{"rps": 10}},
			OnMissingKey: MissingKeyDefault,
		},
		{
			Context: ContextLog,
			Key:     KeyConfig{TraceID: true},
			Mapping: map[string]string{"name": "user.name", "address.city": "user.city"},
			Action:  ActionUpdate,
		},
		{Context: ContextDatapoint, Key: KeyConfig{Attributes: []string{"host.name"}}, Target: "host.rack", Default: "unknown"},
	}
	full.Writes = []WriteConfig{
		{Context: ContextSpan, Key: KeyConfig{TraceID: true, Prefix: "user:"}, Attributes: []string{"user.id"}, TTL: time.Hour},
		{Context: ContextSpanEvent, Key: KeyConfig{Attributes: []string{"session.id"}}, Attributes: []string{"user.id", "user.plan"}},
	}

	minimal := createDefaultConfig().(*Config)
	minimal.Lookups = []LookupConfig{strLookup(ContextResource, "service.name", "service.owner")}

	maxBytes := createDefaultConfig().(*Config)
	maxBytes.Cache.MaxEntries = 0
	maxBytes.Cache.MaxBytes = 1 << 20
	maxBytes.Lookups = []LookupConfig{{Context: ContextScope, Key: KeyConfig{Attributes: []string{"name"}}, Format: FormatJSON}}

	writesOnly := createDefaultConfig().(*Config)
	writesOnly.Writes = []WriteConfig{{Context: ContextSpan, Key: KeyConfig{TraceID: true}, Attributes: []string{"user.id"}}}

	tests := []struct {
		id      string
		want    *Config
		wantErr []string
	}{
		{id: "minimal", want: minimal},
		{id: "full", want: full},
		{id: "max_bytes", want: maxBytes},
		{id: "writes_only", want: writesOnly},
		{id: "empty", wantErr: []string{"lookups: at least one lookup or write is required"}},
		{id: "bad_context", wantErr: []string{`lookups[0]::context: "spans" is not one of`}},
		{id: "no_context", wantErr: []string{"lookups[0]::context: is required"}},
		{id: "no_key", wantErr: []string{"lookups[0]::key: set attributes or trace_id"}},
		{id: "both_keys", wantErr: []string{"lookups[0]::key: set either attributes or trace_id, not both"}},
		{id: "trace_id_on_resource", wantErr: []string{"lookups[1]::key::trace_id: only the span, span_event and log contexts"}},
		{id: "empty_key_attribute", wantErr: []string{"lookups[0]::key::attributes[1]: must not be empty"}},
		{id: "no_target", wantErr: []string{"lookups[0]::target: is required"}},
		{id: "target_and_prefix", wantErr: []string{"lookups[0]::target: a json value is set with target_prefix or mapping"}},
		{id: "prefix_and_mapping", wantErr: []string{"lookups[0]::mapping: set either target_prefix or mapping, not both"}},
		{id: "string_with_mapping", wantErr: []string{"lookups[0]::format: target_prefix and mapping need format json"}},
		{id: "empty_mapping_attribute", wantErr: []string{`lookups[0]::mapping: field "x": field and attribute names must not be empty`}},
		{id: "bad_format", wantErr: []string{`lookups[0]::format: "xml" is not one of string, json`}},
		{id: "bad_action", wantErr: []string{`lookups[0]::action: "delete" is not one of insert, update, upsert`}},
		{id: "bad_default_scalar", wantErr: []string{"lookups[0]::default: must be a string, number or bool"}},
		{id: "bad_default_object", wantErr: []string{"lookups[0]::default: must be an object for a json value"}},
		{id: "bad_on_missing_key", wantErr: []string{`lookups[0]::on_missing_key: "drop" is not one of skip, default`}},
		{id: "missing_key_default_without_default", wantErr: []string{"lookups[0]::on_missing_key: default needs a default value"}},
		{id: "write_no_attributes", wantErr: []string{"writes[0]::attributes: at least one attribute"}},
		{id: "write_bad_ttl", wantErr: []string{"writes[0]::ttl: must not be negative"}},
		{id: "write_trace_id_on_datapoint", wantErr: []string{"writes[0]::key::trace_id: only the span, span_event and log contexts"}},
		{id: "bad_on_miss", wantErr: []string{`on_miss: "sometimes" is not one of wait, async`}},
		{id: "bad_timeouts", wantErr: []string{"timeout: must be positive"}},
		{id: "fetch_timeout_below_timeout", wantErr: []string{"fetch_timeout: must be at least timeout"}},
		{id: "bad_cache", wantErr: []string{
			"cache::max_bytes: must not be negative",
			"cache::ttl: must be positive",
			"cache::negative_ttl: must not be negative",
			"cache::refresh_after: must be 0 (off) or less than cache::ttl",
			"cache::max_stale: must not be negative",
		}},
		{id: "bad_breaker", wantErr: []string{"circuit_breaker::open_duration: must be positive"}},
		{id: "negative_breaker", wantErr: []string{"circuit_breaker::failure_threshold: must not be negative"}},
		{id: "bad_write_queue", wantErr: []string{
			"write_queue::size: must be positive",
			"write_queue::batch_size: must be positive",
			"write_queue::flush_interval: must be positive",
		}},
		{id: "bad_max_value_size", wantErr: []string{"max_value_size: must not be negative"}},
		{id: "bad_store_id", wantErr: []string{"store"}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.id).String())
			require.NoError(t, err)
			cfg := createDefaultConfig()
			err = sub.Unmarshal(cfg)
			if err == nil {
				err = confmap.Validate(cfg)
			}
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, want := range tt.wantErr {
					assert.ErrorContains(t, err, want)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestDefaultConfigNeedsARule(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.ErrorContains(t, confmap.Validate(cfg), "lookups: at least one lookup or write is required")
	cfg.Lookups = []LookupConfig{strLookup(ContextSpan, "a", "b")}
	require.NoError(t, confmap.Validate(cfg))
}
