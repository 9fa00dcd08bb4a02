package kvcache // import "github.com/otelcol-custom/otelcol-custom/extension/kvcache"

import (
	"context"
	"errors"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.uber.org/zap"
)

// Health turns the outcome of a provider extension's backend calls into
// component status and log lines, once per change rather than once per call:
// the first success reports StatusOK; the first failure after that (or before
// any success) logs Failing at Warn and reports a recoverable error; the first
// success after failing logs Recovered at Info and reports StatusOK. Before
// Start changes are logged but not reported; after Shutdown nothing is. Safe
// for concurrent use.
type Health struct {
	// Logger receives the two messages below.
	Logger *zap.Logger
	// Failing is logged, with the error, when calls start failing.
	Failing string
	// Recovered is logged when calls succeed again after failing.
	Recovered string

	host   component.Host // set by Start, before any call can complete
	closed atomic.Bool
	state  atomic.Int32 // healthUnknown, healthOK, healthFailing
}

const (
	healthUnknown int32 = iota
	healthOK
	healthFailing
)

// Start sets the host that changes are reported to. Call it from the
// extension's Start before the first backend call.
func (h *Health) Start(host component.Host) { h.host = host }

// Shutdown stops reporting and logging: what completes afterwards is not news.
func (h *Health) Shutdown() { h.closed.Store(true) }

// OK records a successful call.
func (h *Health) OK() {
	prev := h.state.Swap(healthOK)
	if prev == healthOK || h.closed.Load() {
		return
	}
	if prev == healthFailing {
		h.Logger.Info(h.Recovered)
	}
	h.report(componentstatus.NewEvent(componentstatus.StatusOK))
}

// Failed records a failed call with its error. An error wrapping
// context.Canceled changes nothing: the caller gave up, which says nothing
// about the backend. A missed deadline does count: the backend did not answer
// in the time the caller had (the kvcache processor's fetch_timeout is below
// some providers' own timeouts, so a hung backend only ever shows as that).
func (h *Health) Failed(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	if h.state.Swap(healthFailing) == healthFailing || h.closed.Load() {
		return
	}
	h.Logger.Warn(h.Failing, zap.Error(err))
	h.report(componentstatus.NewRecoverableErrorEvent(err))
}

func (h *Health) report(ev *componentstatus.Event) {
	if h.host != nil {
		componentstatus.ReportStatus(h.host, ev)
	}
}
