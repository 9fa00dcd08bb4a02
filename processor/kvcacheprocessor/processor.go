package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/processor"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/memkvext"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache"
)

// kvProcessor is the runtime of one kvcache processor configuration: the compiled
// rules over one local cache. Traces, metrics and logs pipelines that use the same
// configuration share it (see shared in factory.go).
type kvProcessor struct {
	cfg  *Config
	id   component.ID
	tel  *telemetry
	tset component.TelemetrySettings
	rule rules
	// clock is nil (the real clock) unless a test sets it before Start.
	clock localcache.Clock

	// set in Start
	store    kvcache.Store
	embedded component.Component
	cache    *localcache.Cache[*decoded]

	batches      sync.Pool
	startOnce    sync.Once
	startErr     error
	shutdownOnce sync.Once
	shutdownErr  error
	started      atomic.Bool
}

func newKVProcessor(set processor.Settings, cfg *Config) (*kvProcessor, error) {
	tset := sharedTelemetrySettings(set.TelemetrySettings) // shared by the pipelines
	tel, err := newTelemetry(tset, cfg.CircuitBreaker.OpenDuration)
	if err != nil {
		return nil, err
	}
	p := &kvProcessor{cfg: cfg, id: set.ID, tel: tel, tset: tset, rule: compileRules(cfg)}
	if err := p.rule.compileOTTL(cfg, tset); err != nil {
		p.tel.tb.Shutdown()
		return nil, err
	}
	p.batches.New = func() any { return new(batchState) }
	return p, nil
}

// start is called by every signal's processor; only the first call starts.
func (p *kvProcessor) start(ctx context.Context, host component.Host) error {
	p.startOnce.Do(func() {
		p.startErr = p.doStart(ctx, host)
		p.started.Store(p.startErr == nil)
	})
	return p.startErr
}

func (p *kvProcessor) doStart(ctx context.Context, host component.Host) error {
	p.tel.host = host
	store, err := p.openStore(ctx, host)
	if err != nil {
		return err
	}
	if p.rule.hasWrites {
		// A read-only store (httpkv) would drop every write: refuse to start.
		if err := kvcache.CheckWritable(store, p.cfg.Store, p.id); err != nil {
			_ = store.Close(ctx)
			return err
		}
	}
	p.store = store
	p.tel.circuitState(ctx, localcache.CircuitClosed)
	p.tel.tb.ProcessorKvcacheWriteCircuitState.Record(ctx, int64(localcache.CircuitClosed))
	nLookups := len(p.rule.lookups)
	p.cache, err = localcache.New(p.cacheConfig(), localcache.Settings[*decoded]{
		Store:   store,
		Hooks:   p.tel,
		Logger:  p.tel.logger,
		Clock:   p.clock,
		NewMemo: func() *decoded { return newDecoded(nLookups) },
	})
	return err
}

func (p *kvProcessor) cacheConfig() localcache.Config {
	c := p.cfg
	lc := localcache.Config{
		MaxEntries:       c.Cache.MaxEntries,
		MaxBytes:         c.Cache.MaxBytes,
		TTL:              c.Cache.TTL,
		NegativeTTL:      c.Cache.NegativeTTL,
		RefreshAfter:     c.Cache.RefreshAfter,
		MaxStale:         c.Cache.MaxStale,
		FetchTimeout:     c.FetchTimeout,
		MaxInflightLoads: c.MaxInflightLoads,
		MaxValueSize:     c.MaxValueSize,
		MaxKeySize:       c.MaxKeySize,
		FailureThreshold: c.CircuitBreaker.FailureThreshold,
		OpenDuration:     c.CircuitBreaker.OpenDuration,
	}
	if p.rule.hasWrites {
		lc.WriteQueue = localcache.WriteQueue{Size: c.WriteQueue.Size, BatchSize: c.WriteQueue.BatchSize, FlushInterval: c.WriteQueue.FlushInterval}
	}
	return lc
}

// openStore returns the configured provider's store or, when none is configured,
// an empty memkv store of the processor's own (default memkv settings, no file): it
// holds what `writes` store, so lookups can read it back.
func (p *kvProcessor) openStore(ctx context.Context, host component.Host) (kvcache.Store, error) {
	if p.cfg.Store != (component.ID{}) {
		store, err := kvcache.GetStore(ctx, host, p.cfg.Store, p.id)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return store, nil
	}
	s, err := memkvext.NewStore(memkvext.NewDefaultConfig(), p.tset)
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	if err := s.Start(ctx, host); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	p.embedded = s
	return s, nil
}

// shutdown is called by every signal's processor; the shared runtime stops once.
func (p *kvProcessor) shutdown(ctx context.Context) error {
	p.shutdownOnce.Do(func() { p.shutdownErr = p.doShutdown(ctx) })
	return p.shutdownErr
}

func (p *kvProcessor) doShutdown(ctx context.Context) error {
	defer p.tel.tb.Shutdown()
	var errs []error
	if p.cache != nil {
		errs = append(errs, p.cache.Close(ctx))
	}
	if p.store != nil {
		if err := p.store.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("closing store: %w", err))
		}
	}
	if p.embedded != nil {
		if err := p.embedded.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("embedded store: %w", err))
		}
	}
	return errors.Join(errs...)
}
