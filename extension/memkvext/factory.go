package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-custom/otelcol-custom/extension/memkvext/internal/metadata"
)

// NewFactory returns the factory of the memkv extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(
		metadata.Type,
		func() component.Config { return NewDefaultConfig() },
		createExtension,
		metadata.ExtensionStability,
	)
}
