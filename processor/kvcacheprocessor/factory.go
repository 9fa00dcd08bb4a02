package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/metadata"
)

// Defaults.
const (
	defaultWriteQueueSize   = 10000
	defaultWriteBatchSize   = 500
	defaultFlushInterval    = 100 * time.Millisecond
	defaultCacheMaxEntries  = 100000
	defaultCacheMaxBytes    = 64 << 20
	defaultMaxKeySize       = 1024
	defaultCacheTTL         = 5 * time.Minute
	defaultNegativeTTL      = time.Minute
	defaultRefreshAfter     = 4 * time.Minute
	defaultMaxStale         = 5 * time.Minute
	defaultTimeout          = 50 * time.Millisecond
	defaultFetchTimeout     = 2 * time.Second
	defaultMaxInflightLoads = 64
	defaultFailureThreshold = 5
	defaultOpenDuration     = time.Second
	defaultMaxValueSize     = 64 * 1024
	defaultKeySeparator     = ":"
	defaultLookupAction     = ActionUpsert
	defaultOnMissingKey     = MissingKeySkip
)

// NewFactory returns the factory of the kvcache processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
		processor.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		WriteQueue: WriteQueueConfig{
			Size:          defaultWriteQueueSize,
			BatchSize:     defaultWriteBatchSize,
			FlushInterval: defaultFlushInterval,
		},
		Cache: CacheConfig{
			MaxEntries:   defaultCacheMaxEntries,
			MaxBytes:     defaultCacheMaxBytes,
			TTL:          defaultCacheTTL,
			NegativeTTL:  defaultNegativeTTL,
			RefreshAfter: defaultRefreshAfter,
			MaxStale:     defaultMaxStale,
		},
		Timeout:          defaultTimeout,
		FetchTimeout:     defaultFetchTimeout,
		MaxInflightLoads: defaultMaxInflightLoads,
		OnMiss:           OnMissWait,
		CircuitBreaker: CircuitBreakerConfig{
			FailureThreshold: defaultFailureThreshold,
			OpenDuration:     defaultOpenDuration,
		},
		MaxValueSize: defaultMaxValueSize,
		MaxKeySize:   defaultMaxKeySize,
	}
}

var processorCapabilities = consumer.Capabilities{MutatesData: true}

func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	p, err := shared.acquire(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(func(ctx context.Context) error { return shared.release(ctx, cfg.(*Config)) }))
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := shared.acquire(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(func(ctx context.Context) error { return shared.release(ctx, cfg.(*Config)) }))
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := shared.acquire(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(processorCapabilities),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(func(ctx context.Context) error { return shared.release(ctx, cfg.(*Config)) }))
}

// shared lets the traces, metrics and logs processors built from one configuration
// share one runtime (local cache, store, write queue), as core's internal
// sharedcomponent does for receivers: the runtime starts with the first Start and
// stops with the last Shutdown.
var shared = &registry{m: map[*Config]*sharedEntry{}}

type registry struct {
	mu sync.Mutex
	m  map[*Config]*sharedEntry
}

type sharedEntry struct {
	p    *kvProcessor
	refs int
}

func (r *registry) acquire(set processor.Settings, cfg *Config) (*kvProcessor, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[cfg]; ok {
		e.refs++
		return e.p, nil
	}
	p, err := newKVProcessor(set, cfg)
	if err != nil {
		return nil, err
	}
	r.m[cfg] = &sharedEntry{p: p, refs: 1}
	return p, nil
}

func (r *registry) release(ctx context.Context, cfg *Config) error {
	r.mu.Lock()
	e, ok := r.m[cfg]
	if !ok {
		r.mu.Unlock()
		return nil
	}
	e.refs--
	if e.refs > 0 {
		r.mu.Unlock()
		return nil
	}
	delete(r.m, cfg)
	r.mu.Unlock()
	return e.p.shutdown(ctx)
}
