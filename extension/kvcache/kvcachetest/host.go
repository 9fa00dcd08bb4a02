package kvcachetest // import "github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"

import (
	"maps"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
)

// Host is a component.Host that carries extensions (for kvcache.GetStore) and
// records the status events reported to it (through componentstatus.ReportStatus).
type Host struct {
	exts   map[component.ID]component.Component
	events chan *componentstatus.Event
}

var _ componentstatus.Reporter = (*Host)(nil)

// NewHost returns a Host with a copy of exts. It keeps the last 1,000 status
// events; Events drains them.
func NewHost(exts map[component.ID]component.Component) *Host {
	return &Host{exts: maps.Clone(exts), events: make(chan *componentstatus.Event, 1000)}
}

// GetExtensions implements component.Host.
func (h *Host) GetExtensions() map[component.ID]component.Component { return h.exts }

// Report implements componentstatus.Reporter. When the buffer is full, the oldest
// event is dropped.
func (h *Host) Report(ev *componentstatus.Event) {
	for {
		select {
		case h.events <- ev:
			return
		default:
			select {
			case <-h.events:
			default:
			}
		}
	}
}

// Events returns the channel of reported status events, oldest first.
func (h *Host) Events() <-chan *componentstatus.Event { return h.events }
