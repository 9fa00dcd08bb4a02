package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/memkvext"
)

// newEmbeddedStore returns the store used when the configuration names none: an
// empty memkv store of the processor's own (default memkv settings, no file). It
// holds what `writes` store, so lookups can read it back. To load values from a
// file, configure a memkv extension and name it in `store`.
func newEmbeddedStore(set component.TelemetrySettings) (kvcache.Store, component.Component, error) {
	s, err := memkvext.NewStore(memkvext.NewDefaultConfig(), set)
	if err != nil {
		return nil, nil, err
	}
	return s, s, nil
}
