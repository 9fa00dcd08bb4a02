// Package statustest is a component.Host for tests that records the component
// status events reported to it (through componentstatus.ReportStatus), so a test
// can assert what a component told the collector about its health.
package statustest // import "github.com/otelcol-custom/otelcol-custom/internal/statustest"

import (
	"slices"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
)

// Host is a no-op component.Host that keeps every status event reported to it.
// It is safe for concurrent use.
type Host struct {
	component.Host
	mu     sync.Mutex
	events []*componentstatus.Event
}

var _ componentstatus.Reporter = (*Host)(nil)

// NewHost returns a Host with no extensions and no events.
func NewHost() *Host { return &Host{Host: componenttest.NewNopHost()} }

// Report implements componentstatus.Reporter.
func (h *Host) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
}

// Events returns a copy of the events reported so far, oldest first.
func (h *Host) Events() []*componentstatus.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

// Last returns the latest event, or nil when none was reported.
func (h *Host) Last() *componentstatus.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.events) == 0 {
		return nil
	}
	return h.events[len(h.events)-1]
}

// Statuses returns the status of each event so far, oldest first.
func (h *Host) Statuses() []componentstatus.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []componentstatus.Status
	for _, ev := range h.events {
		out = append(out, ev.Status())
	}
	return out
}

// Errors returns the errors of the events so far (events without one are
// skipped), oldest first.
func (h *Host) Errors() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []error
	for _, ev := range h.events {
		if err := ev.Err(); err != nil {
			out = append(out, err)
		}
	}
	return out
}
