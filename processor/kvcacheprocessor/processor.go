package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/metadata"
)

// result is the outcome of one lookup of one record (the `result` metric attribute).
type result uint8

const (
	resultHit result = iota
	resultMiss
	resultStale
	resultError
	resultNegative
	numResults
)

var resultNames = [numResults]string{"hit", "miss", "stale", "error", "negative"}

// clock returns nanoseconds; tests replace it with a fake one that is then also
// otter's clock, so that entry expiry and freshness follow the same fake time.
type clock interface {
	NowNano() int64
	Tick(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) NowNano() int64 { return time.Now().UnixNano() }

// Tick is never called: otter keeps its own clock unless a test passes one.
func (realClock) Tick(time.Duration) <-chan time.Time { return nil }

// kvProcessor is the runtime of one kvcache processor configuration. Traces, metrics
// and logs pipelines that use the same configuration share it (one local cache, one
// store, one write queue).
type kvProcessor struct {
	cfg       *Config
	id        component.ID
	logger    *zap.Logger
	telemetry component.TelemetrySettings
	tb        *metadata.TelemetryBuilder
	clock     clock

	lookups  []*lookup
	byLevel  [numLevels][]*lookup
	writesBy [numLevels][]*writeRule
	// active[level]: some rule applies at this level.
	active [numLevels]bool

	ttl, negTTL, refreshAfter, maxStale, fetchTimeout int64

	// set in Start
	host        component.Host
	store       kvcache.Store
	embedded    component.Component
	unsubscribe func()
	cache       *otter.Cache[string, *entry]
	loader      otter.BulkLoader[string, *entry]
	breaker     *breaker
	writer      *writer

	// inval is the last "everything changed" notification: entries loaded before it
	// (a lower generation) are stale.
	inval atomic.Pointer[invalidation]
	invMu sync.Mutex

	bgCtx    context.Context
	bgCancel context.CancelFunc
	// closeMu guards closed and wg.Add against Shutdown's wg.Wait.
	closeMu sync.RWMutex
	closed  bool
	wg      sync.WaitGroup

	batches    sync.Pool
	logLimiter *rate.Limiter

	optsResult   [numResults]metric.AddOption
	optsGet      [2]metric.MeasurementOption // success, failure
	optsSet      [2]metric.MeasurementOption
	optsKeysGet  metric.RecordOption
	optsKeysSet  metric.RecordOption
	optsDropped  map[string]metric.AddOption
	optsInvalid  map[badKind]metric.AddOption
	startOnce    sync.Once
	startErr     error
	shutdownOnce sync.Once
	shutdownErr  error
	started      atomic.Bool
}

func newKVProcessor(set processor.Settings, cfg *Config) (*kvProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &kvProcessor{
		cfg:          cfg,
		id:           set.ID,
		logger:       set.Logger,
		telemetry:    set.TelemetrySettings,
		tb:           tb,
		clock:        realClock{},
		ttl:          int64(cfg.Cache.TTL),
		negTTL:       int64(cfg.Cache.NegativeTTL),
		refreshAfter: int64(cfg.Cache.RefreshAfter),
		maxStale:     int64(cfg.Cache.MaxStale),
		fetchTimeout: int64(cfg.FetchTimeout),
		logLimiter:   rate.NewLimiter(rate.Every(time.Second), 10),
	}
	for i := range cfg.Lookups {
		l := newLookup(i, &cfg.Lookups[i])
		p.lookups = append(p.lookups, l)
		p.byLevel[l.level] = append(p.byLevel[l.level], l)
		p.active[l.level] = true
	}
	for i := range cfg.Writes {
		w := &cfg.Writes[i]
		r := &writeRule{level: levelOf(w.Context), key: newKeySpec(w.Key), attrs: w.Attributes, ttl: int64(w.TTL)}
		p.writesBy[r.level] = append(p.writesBy[r.level], r)
		p.active[r.level] = true
	}
	p.inval.Store(&invalidation{})
	p.batches.New = func() any {
		return &batchState{memo: make([]memoSlot, len(p.lookups)), missing: map[string]int32{}}
	}
	for r := range numResults {
		p.optsResult[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", resultNames[r])))
	}
	for i, outcome := range []string{"success", "failure"} {
		p.optsGet[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", "get"), attribute.String("outcome", outcome)))
		p.optsSet[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", "set"), attribute.String("outcome", outcome)))
	}
	p.optsKeysGet = metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", "get")))
	p.optsKeysSet = metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", "set")))
	p.optsDropped = map[string]metric.AddOption{}
	for _, r := range []string{dropQueueFull, dropCircuitOpen, dropStoreError} {
		p.optsDropped[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))
	}
	p.optsInvalid = map[badKind]metric.AddOption{}
	for _, k := range []badKind{badInvalidJSON, badTooLarge, badWrongShape} {
		p.optsInvalid[k] = metric.WithAttributeSet(attribute.NewSet(attribute.String("kind", k.String())))
	}
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
	p.host = host
	p.bgCtx, p.bgCancel = context.WithCancel(context.Background())
	store, err := p.openStore(ctx, host)
	if err != nil {
		return err
	}
	p.store = store
	p.breaker = newBreaker(p.cfg.CircuitBreaker.FailureThreshold, p.cfg.CircuitBreaker.OpenDuration,
		func() time.Time { return time.Unix(0, p.clock.NowNano()) }, p.onCircuitChange)
	p.tb.ProcessorKvcacheCircuitState.Record(ctx, int64(circuitClosed))
	cache, err := otter.New(p.cacheOptions())
	if err != nil {
		return fmt.Errorf("kvcache local cache: %w", err)
	}
	p.cache = cache
	p.loader = bulkLoader{p: p}
	if inv, ok := store.(kvcache.Invalidator); ok {
		p.unsubscribe = inv.OnInvalidate(p.onInvalidate)
	}
	if p.hasWrites() {
		p.writer = newWriter(p)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.writer.run()
		}()
	}
	return nil
}

func (p *kvProcessor) hasWrites() bool {
	for _, w := range p.writesBy {
		if len(w) > 0 {
			return true
		}
	}
	return false
}

// openStore returns the configured provider's store, or the embedded one.
func (p *kvProcessor) openStore(ctx context.Context, host component.Host) (kvcache.Store, error) {
	if p.cfg.Store != (component.ID{}) {
		store, err := kvcache.GetStore(ctx, host, p.cfg.Store, p.id)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return store, nil
	}
	store, comp, err := newEmbeddedStore(p.telemetry)
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	if comp != nil {
		if err := comp.Start(ctx, host); err != nil {
			return nil, fmt.Errorf("embedded store: %w", err)
		}
		p.embedded = comp
	}
	return store, nil
}

func (p *kvProcessor) cacheOptions() *otter.Options[string, *entry] {
	o := &otter.Options[string, *entry]{
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *entry]) time.Duration {
			return e.Value.hardTTL(p)
		}),
		// Refreshes are asked for explicitly (BulkRefresh) by hits past refreshAt; this
		// calculator only enables them and keeps otter from starting its own.
		RefreshCalculator: otter.RefreshWriting[string, *entry](time.Duration(math.MaxInt64 / 4)),
		Executor:          p.execute,
		Logger:            otterLogger{p.logger},
	}
	if _, real := p.clock.(realClock); !real {
		o.Clock = p.clock // tests: otter expires entries by the same fake time
	}
	if p.cfg.Cache.MaxBytes > 0 {
		o.MaximumWeight = uint64(p.cfg.Cache.MaxBytes)
		o.Weigher = func(k string, v *entry) uint32 { return v.weight(k) }
	} else {
		o.MaximumSize = p.cfg.Cache.MaxEntries
	}
	return o
}

// execute runs otter's asynchronous tasks (refreshes, maintenance) on goroutines that
// Shutdown waits for.
func (p *kvProcessor) execute(fn func()) {
	p.closeMu.RLock()
	if p.closed {
		p.closeMu.RUnlock()
		go fn()
		return
	}
	p.wg.Add(1)
	p.closeMu.RUnlock()
	go func() {
		defer p.wg.Done()
		fn()
	}()
}

// goTracked runs fn on a goroutine Shutdown waits for; false after Shutdown began.
func (p *kvProcessor) goTracked(fn func()) bool {
	p.closeMu.RLock()
	defer p.closeMu.RUnlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		fn()
	}()
	return true
}

// shutdown is called by every signal's processor; the shared runtime stops once.
func (p *kvProcessor) shutdown(ctx context.Context) error {
	p.shutdownOnce.Do(func() { p.shutdownErr = p.doShutdown(ctx) })
	return p.shutdownErr
}

func (p *kvProcessor) doShutdown(ctx context.Context) error {
	defer p.tb.Shutdown()
	if p.bgCancel == nil {
		return nil // never started
	}
	if p.unsubscribe != nil {
		p.unsubscribe()
	}
	var errs []error
	if p.writer != nil {
		p.writer.stop(ctx)
	}
	p.closeMu.Lock()
	p.closed = true
	p.closeMu.Unlock()
	p.bgCancel()
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("waiting for store calls: %w", ctx.Err()))
	}
	if p.cache != nil {
		p.cache.StopAllGoroutines()
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

func (p *kvProcessor) onInvalidate(keys []string) {
	p.tb.ProcessorKvcacheInvalidations.Add(context.Background(), 1)
	if keys == nil {
		// Everything may have changed (a flush, a reloaded file, or a provider that
		// lost its invalidation channel, as Redis does while it is down). With
		// max_stale, entries are kept as stale fallbacks and revalidated on their next
		// hit, so an outage does not empty the cache; without it they are dropped.
		if p.maxStale > 0 {
			p.invMu.Lock()
			p.inval.Store(&invalidation{gen: p.inval.Load().gen + 1, at: p.clock.NowNano()})
			p.invMu.Unlock()
		} else {
			p.cache.InvalidateAll()
		}
		return
	}
	for _, k := range keys {
		p.cache.Invalidate(k)
	}
}

func (p *kvProcessor) onCircuitChange(state circuitState, cause error) {
	p.tb.ProcessorKvcacheCircuitState.Record(context.Background(), int64(state))
	switch state {
	case circuitOpen:
		p.logger.Warn("kvcache store circuit opened: records pass un-enriched (or with stale values) until a probe succeeds",
			zap.Error(cause), zap.Duration("probe_interval", p.cfg.CircuitBreaker.OpenDuration))
		componentstatus.ReportStatus(p.host, componentstatus.NewRecoverableErrorEvent(
			fmt.Errorf("kvcache store unavailable, circuit open: %w", cause)))
	case circuitClosed:
		p.logger.Info("kvcache store circuit closed: store reachable again")
		componentstatus.ReportStatus(p.host, componentstatus.NewEvent(componentstatus.StatusOK))
	case circuitHalfOpen:
		p.logger.Debug("kvcache store circuit half-open: probing")
	}
}

// logBadValue logs a key (never its value) whose value cannot be used, rate-limited.
func (p *kvProcessor) logBadValue(key string, kind badKind) {
	p.tb.ProcessorKvcacheInvalidValues.Add(context.Background(), 1, p.optsInvalid[kind])
	if p.logger.Core().Enabled(zap.DebugLevel) && p.logLimiter.Allow() {
		p.logger.Debug("kvcache value skipped", zap.String("key", key), zap.String("kind", kind.String()))
	}
}
