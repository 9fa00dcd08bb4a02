package httpkvext // import "github.com/otelcol-custom/otelcol-custom/extension/httpkvext"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-custom/otelcol-custom/extension/httpkvext/internal/metadata"
)

// NewFactory returns the factory of the httpkv extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, createExtension, metadata.ExtensionStability)
}

func createExtension(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newHTTPKV(cfg.(*Config), set)
}
