package kvcacheprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-custom/otelcol-custom/internal/configtest"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	full := createDefaultConfig().(*Config)
	full.Store = component.MustNewIDWithName("rediskv", "shared")
	full.Timeout = 20 * time.Millisecond
	full.FetchTimeout = time.Second
	full.OnMiss = OnMissAsync
	full.MaxValueSize = 4096
	full.Cache = CacheConfig{MaxEntries: 5000, MaxBytes: defaultCacheMaxBytes, TTL: 10 * time.Minute, NegativeTTL: 30 * time.Second, RefreshAfter: 8 * time.Minute, MaxStale: time.Hour}
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

	ottlCfg := createDefaultConfig().(*Config)
	ottlCfg.Lookups = []LookupConfig{
		{
			Context: ContextSpan,
			Key:     KeyConfig{Expression: `Concat([resource.attributes["service.name"], span.attributes["http.route"]], ":")`, Prefix: "route:"},
			Target:  "route.owner",
			Where:   "span.kind == SPAN_KIND_SERVER",
		},
		{Context: ContextLog, Key: KeyConfig{Expression: `ConvertCase(log.attributes["user.email"], "lower")`}, TargetPrefix: "user."},
		{Context: ContextDatapoint, Key: KeyConfig{Attributes: []string{"host.name"}}, Target: "host.rack", Where: `metric.name == "system.cpu.time"`},
	}
	ottlCfg.Writes = []WriteConfig{{
		Context: ContextSpan, Key: KeyConfig{Expression: "span.trace_id.string"}, Attributes: []string{"user.id"},
		Where: `span.attributes["user.id"] != nil`,
	}}

	// bad_store_id is rejected while decoding the component.ID, so unmarshal errors count as the expected error.
	configtest.Run(t, filepath.Join("testdata", "config.yaml"), metadata.Type, createDefaultConfig, []configtest.Case{
		{ID: "minimal", Expected: minimal},
		{ID: "full", Expected: full},
		{ID: "max_bytes", Expected: maxBytes},
		{ID: "writes_only", Expected: writesOnly},
		{ID: "ottl", Expected: ottlCfg},
		{ID: "ottl_bad_expression", ErrContains: []string{`lookups[2]::key::expression: segment "nope" from path "span.nope" is not a valid path`}},
		{ID: "ottl_bad_function", ErrContains: []string{`lookups[0]::key::expression: undefined function "NoSuchFunc"`}},
		{ID: "ottl_bad_where", ErrContains: []string{`writes[0]::where: condition has invalid syntax`}},
		{ID: "ottl_unprefixed_path", ErrContains: []string{`lookups[0]::key::expression: missing context name for path`, `resource.attributes[service.name]`}},
		{ID: "ottl_expression_and_attributes", ErrContains: []string{
			"lookups[0]::key: set one of attributes, trace_id and expression",
			"lookups[0]::key::separator: joins key::attributes",
			"lookups[0]::key::lowercase: applies to key::attributes; use ConvertCase",
		}},
		{ID: "empty", ErrContains: []string{"lookups: at least one lookup or write is required"}},
		{ID: "bad_context", ErrContains: []string{`lookups[0]::context: "spans" is not one of`}},
		{ID: "no_context", ErrContains: []string{"lookups[0]::context: is required"}},
		{ID: "no_key", ErrContains: []string{"lookups[0]::key: set attributes or trace_id"}},
		{ID: "both_keys", ErrContains: []string{"lookups[0]::key: set either attributes or trace_id, not both"}},
		{ID: "trace_id_on_resource", ErrContains: []string{"lookups[1]::key::trace_id: only the span, span_event and log contexts"}},
		{ID: "empty_key_attribute", ErrContains: []string{"lookups[0]::key::attributes[1]: must not be empty"}},
		{ID: "no_target", ErrContains: []string{"lookups[0]::target: is required"}},
		{ID: "target_and_prefix", ErrContains: []string{"lookups[0]::target: a json value is set with target_prefix or mapping"}},
		{ID: "prefix_and_mapping", ErrContains: []string{"lookups[0]::mapping: set either target_prefix or mapping, not both"}},
		{ID: "string_with_mapping", ErrContains: []string{"lookups[0]::format: target_prefix and mapping need format json"}},
		{ID: "empty_mapping_attribute", ErrContains: []string{`lookups[0]::mapping: field "x": field and attribute names must not be empty`}},
		{ID: "bad_format", ErrContains: []string{`lookups[0]::format: "xml" is not one of string, json`}},
		{ID: "bad_action", ErrContains: []string{`lookups[0]::action: "delete" is not one of insert, update, upsert`}},
		{ID: "bad_default_scalar", ErrContains: []string{"lookups[0]::default: must be a string, number or bool"}},
		{ID: "bad_default_object", ErrContains: []string{"lookups[0]::default: must be an object for a json value"}},
		{ID: "bad_on_missing_key", ErrContains: []string{`lookups[0]::on_missing_key: "drop" is not one of skip, default`}},
		{ID: "missing_key_default_without_default", ErrContains: []string{"lookups[0]::on_missing_key: default needs a default value"}},
		{ID: "write_no_attributes", ErrContains: []string{"writes[0]::attributes: at least one attribute"}},
		{ID: "write_bad_ttl", ErrContains: []string{"writes[0]::ttl: must not be negative"}},
		{ID: "write_trace_id_on_datapoint", ErrContains: []string{"writes[0]::key::trace_id: only the span, span_event and log contexts"}},
		{ID: "bad_on_miss", ErrContains: []string{`on_miss: "sometimes" is not one of wait, async`}},
		{ID: "bad_timeouts", ErrContains: []string{"timeout: must be positive"}},
		{ID: "fetch_timeout_below_timeout", ErrContains: []string{"fetch_timeout: must be at least timeout"}},
		{ID: "bad_cache", ErrContains: []string{
			"cache::max_bytes: must not be negative",
			"cache::ttl: must be positive",
			"cache::negative_ttl: must not be negative",
			"cache::refresh_after: must be 0 (off) or less than cache::ttl",
			"cache::max_stale: must not be negative",
		}},
		{ID: "bad_breaker", ErrContains: []string{"circuit_breaker::open_duration: must be positive"}},
		{ID: "negative_breaker", ErrContains: []string{"circuit_breaker::failure_threshold: must not be negative"}},
		{ID: "bad_write_queue", ErrContains: []string{
			"write_queue::size: must be positive",
			"write_queue::batch_size: must be positive",
			"write_queue::flush_interval: must be positive",
		}},
		{ID: "bad_max_value_size", ErrContains: []string{"max_value_size: must not be negative"}},
		{ID: "bad_store_id", ErrContains: []string{"store"}},
	}, configtest.AllowUnmarshalError())
}

func TestDefaultConfigNeedsARule(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.ErrorContains(t, confmap.Validate(cfg), "lookups: at least one lookup or write is required")
	cfg.Lookups = []LookupConfig{strLookup(ContextSpan, "a", "b")}
	require.NoError(t, confmap.Validate(cfg))
}
