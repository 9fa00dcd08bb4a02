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

// Defaults of file::csv, applied when the setting is left empty (an unset
// key_columns also selects the key,value layout for a file with a value column).
const (
	defaultCSVKeyColumn = "key"
	defaultCSVSeparator = ":"
)
