package oidcauthext // import "github.com/otelcol-custom/otelcol-custom/extension/oidcauthext"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-custom/otelcol-custom/extension/oidcauthext/internal/metadata"
)

// NewFactory returns the factory of the oidcauth extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig() },
		func(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
			return newExtension(cfg.(*Config), set)
		},
		metadata.ExtensionStability,
	)
}
