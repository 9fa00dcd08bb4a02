package jwtauth // import "github.com/otelcol-custom/otelcol-custom/internal/jwtauth"

import (
	"context"
	"slices"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The telemetry every server extension over this package reports the same
// way: refusals by reason, key fetches by outcome, the number of keys held,
// and the component status of key fetching.

// CountRefusals returns a Config.OnRefuse that adds 1 to counter with the
// attribute reason. The attribute sets of Reasons and of the extension's own
// reasons (extra) are built once, so their refusals allocate nothing; any
// other reason is still counted, with a set built on the spot.
func CountRefusals(counter metric.Int64Counter, extra ...string) func(context.Context, string) {
	opt := func(r string) metric.AddOption {
		return metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))
	}
	opts := make(map[string]metric.AddOption, len(Reasons)+len(extra))
	for _, r := range slices.Concat(Reasons, extra) {
		opts[r] = opt(r)
	}
	return func(ctx context.Context, reason string) {
		o, ok := opts[reason]
		if !ok {
			o = opt(reason)
		}
		counter.Add(ctx, 1, o)
	}
}

// FetchMetrics are the instruments a key set's fetches are recorded in.
type FetchMetrics struct {
	Keys    metric.Int64Gauge    // keys held after the fetch
	Fetches metric.Int64Counter  // fetches, with outcome=success|failure
	Attrs   []attribute.KeyValue // added to both (e.g. the issuer)
}

// OnFetch returns a KeySetConfig.OnFetch that records m, calls invalidate
// when a key was withdrawn (tokens it signed must be verified again) and
// passes the outcome to status.
func OnFetch(m FetchMetrics, invalidate func(), status func(error)) func(err error, keys int, removed bool) {
	keys := metric.WithAttributeSet(attribute.NewSet(m.Attrs...))
	outcome := func(o string) metric.AddOption {
		return metric.WithAttributeSet(attribute.NewSet(slices.Concat(m.Attrs, []attribute.KeyValue{attribute.String("outcome", o)})...))
	}
	success, failure := outcome("success"), outcome("failure")
	return func(err error, n int, removed bool) {
		ctx := context.Background()
		m.Keys.Record(ctx, int64(n), keys)
		if err != nil {
			m.Fetches.Add(ctx, 1, failure)
		} else {
			m.Fetches.Add(ctx, 1, success)
		}
		if removed {
			invalidate()
		}
		status(err)
	}
}

// FetchStatus reports the key fetching of one or more named key sets as
// component status: a recoverable error when one starts to fail, OK when all
// have recovered; once per change of state.
type FetchStatus struct {
	host     component.Host
	describe func(name string, err error) error
	mu       sync.Mutex
	failing  map[string]bool
}

// NewFetchStatus reports to host; describe gives the status error for a
// failed fetch of the key set name.
func NewFetchStatus(host component.Host, describe func(name string, err error) error) *FetchStatus {
	return &FetchStatus{host: host, describe: describe, failing: map[string]bool{}}
}

// Report records the outcome of a fetch of the key set name (err nil: it
// succeeded).
func (s *FetchStatus) Report(name string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := len(s.failing) > 0
	if err != nil {
		if !s.failing[name] {
			s.failing[name] = true
			componentstatus.ReportStatus(s.host, componentstatus.NewRecoverableErrorEvent(s.describe(name, err)))
		}
		return
	}
	delete(s.failing, name)
	if was && len(s.failing) == 0 {
		componentstatus.ReportStatus(s.host, componentstatus.NewEvent(componentstatus.StatusOK))
	}
}
