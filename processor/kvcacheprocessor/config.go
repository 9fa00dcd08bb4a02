package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"go.opentelemetry.io/collector/component"
)

// Context names where a rule reads its key and where it reads or writes attributes.
const (
	ContextResource  = "resource"   // the resource of spans, logs and metrics
	ContextScope     = "scope"      // the instrumentation scope
	ContextSpan      = "span"       // spans
	ContextSpanEvent = "span_event" // span events (trace_id is the parent span's)
	ContextLog       = "log"        // log records
	ContextDatapoint = "datapoint"  // metric data points of every metric type
)

// Actions of a lookup.
const (
	ActionInsert = "insert" // set the attribute only when the record does not have it
	ActionUpdate = "update" // set the attribute only when the record already has it
	ActionUpsert = "upsert" // set the attribute in any case
)

// Value formats of a lookup.
const (
	FormatString = "string" // the stored value is one string, set as the `target` attribute
	FormatJSON   = "json"   // the stored value is a JSON object, set as several attributes
)

// on_missing_key choices.
const (
	MissingKeySkip    = "skip"    // leave the record unchanged
	MissingKeyDefault = "default" // apply `default`
)

// on_miss choices.
const (
	OnMissWait  = "wait"  // wait up to `timeout` for keys missing from the local cache
	OnMissAsync = "async" // never wait: the record passes un-enriched, the value is cached for later records
)

// Config is the configuration of the kvcache processor.
type Config struct {
	// Store is the component ID of an extension that provides a kvcache.Store
	// (rediskv, memkv, or an upstream storage extension). When it is not set, the
	// processor uses an embedded, empty memory store of its own.
	Store component.ID `mapstructure:"store"`

	// Lookups enrich records with values read from the store.
	Lookups []LookupConfig `mapstructure:"lookups"`

	// Writes remember attribute values in the store.
	Writes []WriteConfig `mapstructure:"writes"`

	// WriteQueue bounds the asynchronous writes.
	WriteQueue WriteQueueConfig `mapstructure:"write_queue"`

	// Cache is the local cache in front of the store.
	Cache CacheConfig `mapstructure:"cache"`

	// Timeout is how long a batch waits (on_miss: wait) for keys missing from the local
	// cache. What is not back by then passes un-enriched and is cached when it arrives.
	Timeout time.Duration `mapstructure:"timeout"`

	// FetchTimeout bounds one store call in the background (reads, refreshes and
	// writes). It is at least `timeout`.
	FetchTimeout time.Duration `mapstructure:"fetch_timeout"`

	// MaxInflightLoads bounds the store loads in flight (each a goroutine living up
	// to fetch_timeout): a batch whose missing keys find no free slot passes
	// un-enriched (counted), so a slow store cannot grow goroutines without bound.
	MaxInflightLoads int `mapstructure:"max_inflight_loads"`

	// OnMiss is `wait` (default: wait up to `timeout`) or `async` (never wait).
	OnMiss string `mapstructure:"on_miss"`

	// CircuitBreaker stops calling a failing store.
	CircuitBreaker CircuitBreakerConfig `mapstructure:"circuit_breaker"`

	// MaxValueSize is the largest stored value, in bytes, that is used; larger values
	// are skipped and counted. 0 means no limit.
	MaxValueSize int `mapstructure:"max_value_size"`

	// MaxKeySize is the longest key, in bytes, that is looked up or written; a record
	// with a longer key passes un-enriched (counted), and the key is neither cached
	// nor sent to the store. 0 means no limit.
	MaxKeySize int `mapstructure:"max_key_size"`

	_ struct{}
}

// KeyConfig says how a rule computes its store key from a record.
type KeyConfig struct {
	// Attributes whose values, joined with Separator, make the key. A record that lacks
	// any of them has no key.
	Attributes []string `mapstructure:"attributes"`
	// TraceID uses the record's trace ID (lowercase hex) as the key. Only for the span,
	// span_event and log contexts. Exclusive with Attributes.
	TraceID bool `mapstructure:"trace_id"`
	// Separator joins the values of several attributes. Default ":".
	Separator string `mapstructure:"separator"`
	// Lowercase lowercases the attribute values before they are joined.
	Lowercase bool `mapstructure:"lowercase"`
	// Prefix is prepended to the key (after lowercasing, so it keeps its case).
	Prefix string `mapstructure:"prefix"`
	// Expression is an OTTL value expression evaluated in the rule's context (paths
	// name their context: span.name, resource.attributes["k"]); its value is the key.
	// nil or empty means no key; other values than strings use their string form.
	// Exclusive with Attributes and TraceID.
	Expression string `mapstructure:"expression"`

	_ struct{}
}

// LookupConfig is one enrichment rule.
type LookupConfig struct {
	// Context is where the key is read and the attributes are set: resource, scope,
	// span, span_event, log or datapoint.
	Context string `mapstructure:"context"`
	// Key computes the store key.
	Key KeyConfig `mapstructure:"key"`
	// Format of the stored value: string or json. Default: json when target_prefix or
	// mapping is set, string otherwise.
	Format string `mapstructure:"format"`
	// Target is the attribute that receives a string value.
	Target string `mapstructure:"target"`
	// TargetPrefix is prepended to each (flattened) field of a JSON value to name its
	// attribute. May be empty (fields become attributes as they are named).
	TargetPrefix string `mapstructure:"target_prefix"`
	// Mapping maps (flattened, dotted) JSON fields to attribute names. Only mapped
	// fields are set. Exclusive with target_prefix.
	Mapping map[string]string `mapstructure:"mapping"`
	// Action is insert, update or upsert (default).
	Action string `mapstructure:"action"`
	// Default is applied when the store has no such key (and, with on_missing_key:
	// default, when the record has no key). A scalar for format string, an object for
	// format json.
	Default any `mapstructure:"default"`
	// OnMissingKey is skip (default) or default.
	OnMissingKey string `mapstructure:"on_missing_key"`
	// Where is an OTTL condition in the rule's context; records that do not match are
	// left alone (no lookup, no default).
	Where string `mapstructure:"where"`

	_ struct{}
}

// WriteConfig is one rule that stores attribute values under a key.
type WriteConfig struct {
	// Context is where the key and the values are read.
	Context string `mapstructure:"context"`
	// Key computes the store key.
	Key KeyConfig `mapstructure:"key"`
	// Attributes are the values to store. One attribute is stored as its string form;
	// several as a JSON object {attribute: value} of those the record has (at least one).
	Attributes []string `mapstructure:"attributes"`
	// TTL of the stored entry; 0 means the store's default.
	TTL time.Duration `mapstructure:"ttl"`
	// Where is an OTTL condition in the rule's context; only matching records write.
	Where string `mapstructure:"where"`

	_ struct{}
}

// WriteQueueConfig bounds the asynchronous writes.
type WriteQueueConfig struct {
	// Size is the number of writes the queue holds; when it is full, new writes are
	// dropped and counted (telemetry is never dropped or delayed).
	Size int `mapstructure:"size"`
	// BatchSize is the largest number of entries in one store Set.
	BatchSize int `mapstructure:"batch_size"`
	// FlushInterval is the longest a queued write waits before it is sent.
	FlushInterval time.Duration `mapstructure:"flush_interval"`

	_ struct{}
}

// CacheConfig configures the local cache.
type CacheConfig struct {
	// MaxEntries bounds the number of entries; 0 leaves only MaxBytes.
	MaxEntries int `mapstructure:"max_entries"`
	// MaxBytes, when not 0, bounds the approximate memory of the entries (key, value
	// and a per-entry overhead); with MaxEntries set too, both bounds hold.
	MaxBytes int64 `mapstructure:"max_bytes"`
	// TTL is how long a fetched value is fresh.
	TTL time.Duration `mapstructure:"ttl"`
	// NegativeTTL is how long a key the store does not have is remembered as absent;
	// 0 disables negative caching.
	NegativeTTL time.Duration `mapstructure:"negative_ttl"`
	// RefreshAfter is the age after which a hit refreshes the value in the background
	// while serving the current one (refresh-ahead while hot); 0 disables it.
	RefreshAfter time.Duration `mapstructure:"refresh_after"`
	// MaxStale is how long after TTL a value may still be served (counted as stale)
	// while it is refreshed in the background or the store is unavailable.
	MaxStale time.Duration `mapstructure:"max_stale"`

	_ struct{}
}

// CircuitBreakerConfig configures the circuit breaker in front of the store.
type CircuitBreakerConfig struct {
	// FailureThreshold is the number of consecutive failed store calls that opens the
	// circuit; 0 disables the breaker.
	FailureThreshold int `mapstructure:"failure_threshold"`
	// OpenDuration is how long the circuit stays open before one probe call is let
	// through (and again after each failed probe): the probe interval.
	OpenDuration time.Duration `mapstructure:"open_duration"`

	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration; errors name the offending key.
func (cfg *Config) Validate() error {
	var errs []error
	if len(cfg.Lookups) == 0 && len(cfg.Writes) == 0 {
		errs = append(errs, errors.New("lookups: at least one lookup or write is required"))
	}
	for i := range cfg.Lookups {
		errs = append(errs, cfg.Lookups[i].validate(fmt.Sprintf("lookups[%d]", i))...)
	}
	for i := range cfg.Writes {
		errs = append(errs, cfg.Writes[i].validate(fmt.Sprintf("writes[%d]", i))...)
	}
	errs = append(errs, cfg.WriteQueue.validate()...)
	errs = append(errs, cfg.Cache.validate()...)
	if cfg.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be positive"))
	}
	if cfg.FetchTimeout < cfg.Timeout {
		errs = append(errs, errors.New("fetch_timeout: must be at least timeout"))
	}
	if cfg.MaxInflightLoads <= 0 {
		errs = append(errs, errors.New("max_inflight_loads: must be positive"))
	}
	switch cfg.OnMiss {
	case OnMissWait, OnMissAsync:
	default:
		errs = append(errs, fmt.Errorf("on_miss: %q is not one of wait, async", cfg.OnMiss))
	}
	if cfg.CircuitBreaker.FailureThreshold < 0 {
		errs = append(errs, errors.New("circuit_breaker::failure_threshold: must not be negative"))
	}
	if cfg.CircuitBreaker.FailureThreshold > 0 && cfg.CircuitBreaker.OpenDuration <= 0 {
		errs = append(errs, errors.New("circuit_breaker::open_duration: must be positive"))
	}
	if cfg.MaxValueSize < 0 {
		errs = append(errs, errors.New("max_value_size: must not be negative"))
	}
	if cfg.MaxKeySize < 0 {
		errs = append(errs, errors.New("max_key_size: must not be negative"))
	}
	return errors.Join(errs...)
}

func validateContext(prefix, c string) error {
	switch c {
	case ContextResource, ContextScope, ContextSpan, ContextSpanEvent, ContextLog, ContextDatapoint:
		return nil
	case "":
		return fmt.Errorf("%s::context: is required (resource, scope, span, span_event, log or datapoint)", prefix)
	default:
		return fmt.Errorf("%s::context: %q is not one of resource, scope, span, span_event, log, datapoint", prefix, c)
	}
}

func (k *KeyConfig) validate(prefix, context string) []error {
	var errs []error
	if k.Expression != "" {
		if k.TraceID || len(k.Attributes) > 0 {
			errs = append(errs, fmt.Errorf("%s::key: set one of attributes, trace_id and expression", prefix))
		}
		if k.Separator != "" {
			errs = append(errs, fmt.Errorf("%s::key::separator: joins key::attributes; build a composite key::expression with Concat", prefix))
		}
		if k.Lowercase {
			errs = append(errs, fmt.Errorf("%s::key::lowercase: applies to key::attributes; use ConvertCase in key::expression", prefix))
		}
		return errs
	}
	switch {
	case k.TraceID && len(k.Attributes) > 0:
		errs = append(errs, fmt.Errorf("%s::key: set either attributes or trace_id, not both", prefix))
	case !k.TraceID && len(k.Attributes) == 0:
		errs = append(errs, fmt.Errorf("%s::key: set attributes or trace_id, or an expression", prefix))
	case k.TraceID && context != ContextSpan && context != ContextSpanEvent && context != ContextLog:
		errs = append(errs, fmt.Errorf("%s::key::trace_id: only the span, span_event and log contexts have a trace ID", prefix))
	}
	for i, a := range k.Attributes {
		if a == "" {
			errs = append(errs, fmt.Errorf("%s::key::attributes[%d]: must not be empty", prefix, i))
		}
	}
	return errs
}

func (l *LookupConfig) format() string {
	if l.Format != "" {
		return l.Format
	}
	if l.TargetPrefix != "" || len(l.Mapping) > 0 {
		return FormatJSON
	}
	return FormatString
}

func (l *LookupConfig) action() string {
	if l.Action == "" {
		return defaultLookupAction
	}
	return l.Action
}

func (l *LookupConfig) onMissingKey() string {
	if l.OnMissingKey == "" {
		return defaultOnMissingKey
	}
	return l.OnMissingKey
}

func (l *LookupConfig) validate(prefix string) []error {
	var errs []error
	if err := validateContext(prefix, l.Context); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, l.Key.validate(prefix, l.Context)...)
	errs = append(errs, validateOTTL(prefix, l.Context, l.Key.Expression, l.Where)...)
	switch l.format() {
	case FormatString:
		if l.Target == "" {
			errs = append(errs, fmt.Errorf("%s::target: is required for a string value", prefix))
		}
		if l.TargetPrefix != "" || len(l.Mapping) > 0 {
			errs = append(errs, fmt.Errorf("%s::format: target_prefix and mapping need format json", prefix))
		}
		if l.Default != nil && !isScalar(l.Default) {
			errs = append(errs, fmt.Errorf("%s::default: must be a string, number or bool for a string value", prefix))
		}
	case FormatJSON:
		if l.Target != "" {
			errs = append(errs, fmt.Errorf("%s::target: a json value is set with target_prefix or mapping, not target", prefix))
		}
		if l.TargetPrefix != "" && len(l.Mapping) > 0 {
			errs = append(errs, fmt.Errorf("%s::mapping: set either target_prefix or mapping, not both", prefix))
		}
		for _, field := range sortedKeys(l.Mapping) {
			if field == "" || l.Mapping[field] == "" {
				errs = append(errs, fmt.Errorf("%s::mapping: field %q: field and attribute names must not be empty", prefix, field))
			}
		}
		if l.Default != nil {
			if _, ok := l.Default.(map[string]any); !ok {
				errs = append(errs, fmt.Errorf("%s::default: must be an object for a json value", prefix))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("%s::format: %q is not one of string, json", prefix, l.Format))
	}
	switch l.action() {
	case ActionInsert, ActionUpdate, ActionUpsert:
	default:
		errs = append(errs, fmt.Errorf("%s::action: %q is not one of insert, update, upsert", prefix, l.Action))
	}
	switch l.onMissingKey() {
	case MissingKeySkip:
	case MissingKeyDefault:
		if l.Default == nil {
			errs = append(errs, fmt.Errorf("%s::on_missing_key: default needs a default value", prefix))
		}
	default:
		errs = append(errs, fmt.Errorf("%s::on_missing_key: %q is not one of skip, default", prefix, l.OnMissingKey))
	}
	return errs
}

func (w *WriteConfig) validate(prefix string) []error {
	var errs []error
	if err := validateContext(prefix, w.Context); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, w.Key.validate(prefix, w.Context)...)
	errs = append(errs, validateOTTL(prefix, w.Context, w.Key.Expression, w.Where)...)
	if len(w.Attributes) == 0 {
		errs = append(errs, fmt.Errorf("%s::attributes: at least one attribute to store is required", prefix))
	}
	for i, a := range w.Attributes {
		if a == "" {
			errs = append(errs, fmt.Errorf("%s::attributes[%d]: must not be empty", prefix, i))
		}
	}
	if w.TTL < 0 {
		errs = append(errs, fmt.Errorf("%s::ttl: must not be negative", prefix))
	}
	return errs
}

// validateOTTL parses a rule's key expression and where condition, naming the
// rule in OTTL's errors (`lookups[2]::key::expression: ...`).
func validateOTTL(prefix, context, expr, where string) []error {
	_, errs := compileProgram(context, expr, where, validationSettings())
	for i, err := range errs {
		errs[i] = fmt.Errorf("%s::%w", prefix, err)
	}
	return errs
}

func (q *WriteQueueConfig) validate() []error {
	var errs []error
	if q.Size <= 0 {
		errs = append(errs, errors.New("write_queue::size: must be positive"))
	}
	if q.BatchSize <= 0 {
		errs = append(errs, errors.New("write_queue::batch_size: must be positive"))
	}
	if q.FlushInterval <= 0 {
		errs = append(errs, errors.New("write_queue::flush_interval: must be positive"))
	}
	return errs
}

func (c *CacheConfig) validate() []error {
	var errs []error
	if c.MaxBytes < 0 {
		errs = append(errs, errors.New("cache::max_bytes: must not be negative"))
	}
	if c.MaxBytes == 0 && c.MaxEntries <= 0 {
		errs = append(errs, errors.New("cache::max_entries: must be positive (or set cache::max_bytes)"))
	}
	if c.TTL <= 0 {
		errs = append(errs, errors.New("cache::ttl: must be positive"))
	}
	if c.NegativeTTL < 0 {
		errs = append(errs, errors.New("cache::negative_ttl: must not be negative"))
	}
	if c.RefreshAfter < 0 || (c.RefreshAfter > 0 && c.RefreshAfter >= c.TTL) {
		errs = append(errs, errors.New("cache::refresh_after: must be 0 (off) or less than cache::ttl"))
	}
	if c.MaxStale < 0 {
		errs = append(errs, errors.New("cache::max_stale: must not be negative"))
	}
	return errs
}

// isScalar reports whether v is a default for a string value: what scalarField
// converts, lists aside.
func isScalar(v any) bool {
	if _, list := v.([]any); list {
		return false
	}
	_, ok := scalarField("", v)
	return ok
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
