package kvcache // import "github.com/otelcol-custom/otelcol-custom/extension/kvcache"

import (
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.uber.org/zap"
)

// Health turns the outcome of a provider extension's backend calls into
// component status and log lines, once per change rather than once per call:
// the first success reports StatusOK; the first failure after that (or before
// any success) logs Failing at Warn and reports a recoverable error; the first
// success after failing logs Recovered at Info and reports StatusOK. It is safe
// for concurrent use; the zero state is "no call yet".
type Health struct {
	// Logger receives the two messages below.
	Logger *zap.Logger
	// Failing is logged, with the error, when calls start failing.
	Failing string
	// Recovered is logged when calls succeed again after failing.
	Recovered string

	state atomic.Int32 // healthUnknown, healthOK, healthFailing
}

const (
	healthUnknown int32 = iota
	healthOK
	healthFailing
)

// OK records a successful call. host may be nil (not started): then nothing is
// reported, but the change is still logged.
func (h *Health) OK(host component.Host) {
	prev := h.state.Swap(healthOK)
	if prev == healthOK {
		return
	}
	if prev == healthFailing {
		h.Logger.Info(h.Recovered)
	}
	if host != nil {
		componentstatus.ReportStatus(host, componentstatus.NewEvent(componentstatus.StatusOK))
	}
}

// Failed records a failed call with its error; host as for OK.
func (h *Health) Failed(host component.Host, err error) {
	if h.state.Swap(healthFailing) == healthFailing {
		return
	}
	h.Logger.Warn(h.Failing, zap.Error(err))
	if host != nil {
		componentstatus.ReportStatus(host, componentstatus.NewRecoverableErrorEvent(err))
	}
}
