package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/time/rate"

	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/localcache"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/metadata"
)

// telemetry is the processor's metrics, logs and component status: it counts
// lookups and unusable values, and is the local cache's Hooks.
type telemetry struct {
	tb          *metadata.TelemetryBuilder
	logger      *zap.Logger
	host        component.Host // set in Start
	openFor     time.Duration
	logLimiter  *rate.Limiter
	optsResult  [numResults]metric.AddOption
	optsError   [numReasons]metric.AddOption   // result=error, by reason
	optsCall    [2][2]metric.MeasurementOption // [op][success, failure]
	optsOp      [2]metric.MeasurementOption    // [op]
	optsDropped [localcache.NumDropReasons]metric.AddOption
	optsInvalid [numBadKinds]metric.AddOption // [badKind]
	// readOpen, writeOpen: the circuits that are open, for the component status.
	readOpen, writeOpen atomic.Bool
}

var _ localcache.Hooks = (*telemetry)(nil)

// Attributes the collector gives each pipeline's component telemetry (as
// instrumentation scope attributes of its meter, and logger fields). One runtime
// serves the traces, metrics and logs pipelines of a configuration, so these would
// name whichever pipeline came first: they are dropped from its telemetry.
const (
	attrPipelineID = "otelcol.pipeline.id"
	attrSignal     = "otelcol.signal"
)

// attrDropper is what the collector's telemetry providers and logger core
// implement to drop the attributes they inject (service's componentattribute; the
// interface is not exported, so it is matched by its method).
type attrDropper[T any] interface {
	DropInjectedAttributes(droppedAttrs ...string) T
}

// sharedTelemetrySettings is ts without the per-pipeline attributes.
func sharedTelemetrySettings(ts component.TelemetrySettings) component.TelemetrySettings {
	drop := []string{attrPipelineID, attrSignal}
	ts.Logger = ts.Logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		if d, ok := c.(attrDropper[zapcore.Core]); ok {
			return d.DropInjectedAttributes(drop...)
		}
		return c
	}))
	if d, ok := ts.MeterProvider.(attrDropper[metric.MeterProvider]); ok {
		ts.MeterProvider = d.DropInjectedAttributes(drop...)
	}
	if d, ok := ts.TracerProvider.(attrDropper[trace.TracerProvider]); ok {
		ts.TracerProvider = d.DropInjectedAttributes(drop...)
	}
	return ts
}

func newTelemetry(set component.TelemetrySettings, openFor time.Duration) (*telemetry, error) {
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	t := &telemetry{tb: tb, logger: set.Logger, openFor: openFor, logLimiter: rate.NewLimiter(rate.Every(time.Second), 10)}
	attrs := func(kv ...string) metric.MeasurementOption {
		a := make([]attribute.KeyValue, 0, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			a = append(a, attribute.String(kv[i], kv[i+1]))
		}
		return metric.WithAttributeSet(attribute.NewSet(a...))
	}
	for r := range numResults {
		t.optsResult[r] = attrs("result", resultNames[r])
	}
	for r := range numReasons {
		t.optsError[r] = attrs("result", resultNames[resultError], "reason", reasonNames[r])
	}
	for op, name := range [2]string{localcache.OpGet: "get", localcache.OpSet: "set"} {
		t.optsCall[op] = [2]metric.MeasurementOption{attrs("operation", name, "outcome", "success"), attrs("operation", name, "outcome", "failure")}
		t.optsOp[op] = attrs("operation", name)
	}
	for r, name := range [localcache.NumDropReasons]string{localcache.DropQueueFull: "queue_full", localcache.DropCircuitOpen: "circuit_open",
		localcache.DropStoreError: "store_error", localcache.DropTooLarge: "too_large", localcache.DropShutdown: "shutdown"} {
		t.optsDropped[r] = attrs("reason", name)
	}
	for _, k := range []badKind{badInvalidJSON, badTooLarge, badWrongShape} {
		t.optsInvalid[k] = attrs("kind", k.String())
	}
	return t, nil
}

// lookups counts one batch's lookups by result, errors by reason.
func (t *telemetry) lookups(ctx context.Context, counts *[numResults]int64, errs *[numReasons]int64) {
	for r := range numResults {
		if n := counts[r]; n > 0 && r != resultError {
			t.tb.ProcessorKvcacheLookups.Add(ctx, n, t.optsResult[r])
		}
	}
	if counts[resultError] == 0 {
		return
	}
	for r := range numReasons {
		if n := errs[r]; n > 0 {
			t.tb.ProcessorKvcacheLookups.Add(ctx, n, t.optsError[r])
		}
	}
}

// badValue counts and logs a key (never its value) whose value cannot be used,
// the log rate-limited.
func (t *telemetry) badValue(key string, kind badKind) {
	t.tb.ProcessorKvcacheInvalidValues.Add(context.Background(), 1, t.optsInvalid[kind])
	if t.logger.Core().Enabled(zap.DebugLevel) && t.logLimiter.Allow() {
		t.logger.Debug("kvcache value skipped", zap.String("key", key), zap.String("kind", kind.String()))
	}
}

func (t *telemetry) circuitState(ctx context.Context, s localcache.CircuitState) {
	t.tb.ProcessorKvcacheCircuitState.Record(ctx, int64(s))
}

func (t *telemetry) StoreCall(ctx context.Context, op localcache.Op, keys int, elapsed time.Duration, err error) {
	i := 0
	if err != nil {
		i = 1
	}
	t.tb.ProcessorKvcacheStoreRequests.Add(ctx, 1, t.optsCall[op][i])
	t.tb.ProcessorKvcacheStoreDuration.Record(ctx, elapsed.Seconds(), t.optsCall[op][i])
	t.tb.ProcessorKvcacheStoreKeys.Record(ctx, int64(keys), t.optsOp[op])
}

// circuitTexts are what is logged and reported when a circuit changes.
type circuitTexts struct {
	opened, closed, halfOpen, status string
}

var (
	readCircuit = circuitTexts{
		opened:   "kvcache store circuit opened: records pass un-enriched (or with stale values) until a probe succeeds",
		closed:   "kvcache store circuit closed: store reachable again",
		halfOpen: "kvcache store circuit half-open: probing",
		status:   "kvcache store unavailable, circuit open",
	}
	writeCircuit = circuitTexts{
		opened:   "kvcache store write circuit opened: writes are dropped (lookups go on) until a probe succeeds",
		closed:   "kvcache store write circuit closed: writes accepted again",
		halfOpen: "kvcache store write circuit half-open: probing",
		status:   "kvcache store refuses writes, write circuit open",
	}
)

func (t *telemetry) CircuitChanged(state localcache.CircuitState, cause error) {
	t.circuitState(context.Background(), state)
	t.circuitChanged(&readCircuit, &t.readOpen, state, cause)
}

func (t *telemetry) WriteCircuitChanged(state localcache.CircuitState, cause error) {
	t.tb.ProcessorKvcacheWriteCircuitState.Record(context.Background(), int64(state))
	t.circuitChanged(&writeCircuit, &t.writeOpen, state, cause)
}

// circuitChanged logs a circuit's new state and reports the component status:
// a recoverable error while either circuit is open, OK once neither is.
func (t *telemetry) circuitChanged(txt *circuitTexts, open *atomic.Bool, state localcache.CircuitState, cause error) {
	open.Store(state == localcache.CircuitOpen)
	switch state {
	case localcache.CircuitOpen:
		t.logger.Warn(txt.opened, zap.Error(cause), zap.Duration("probe_interval", t.openFor))
		componentstatus.ReportStatus(t.host, componentstatus.NewRecoverableErrorEvent(fmt.Errorf("%s: %w", txt.status, cause)))
	case localcache.CircuitClosed:
		t.logger.Info(txt.closed)
		t.reportRecovered()
	case localcache.CircuitHalfOpen:
		t.logger.Debug(txt.halfOpen)
	}
}

// reportRecovered reports StatusOK once neither circuit is open.
func (t *telemetry) reportRecovered() {
	if !t.readOpen.Load() && !t.writeOpen.Load() {
		componentstatus.ReportStatus(t.host, componentstatus.NewEvent(componentstatus.StatusOK))
	}
}

func (t *telemetry) Invalidated() {
	t.tb.ProcessorKvcacheInvalidations.Add(context.Background(), 1)
}

func (t *telemetry) ValueTooLarge(key string) { t.badValue(key, badTooLarge) }

func (t *telemetry) WritesQueued(ctx context.Context, n int64) {
	t.tb.ProcessorKvcacheWritesQueued.Add(ctx, n)
}

func (t *telemetry) WritesDropped(ctx context.Context, reason localcache.DropReason, n int64) {
	t.tb.ProcessorKvcacheWritesDropped.Add(ctx, n, t.optsDropped[reason])
}

func (t *telemetry) KeysTooLarge(ctx context.Context, op localcache.Op, n int64) {
	t.tb.ProcessorKvcacheKeysTooLarge.Add(ctx, n, t.optsOp[op])
}
