package bearerauthext // import "github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"

import (
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-custom/otelcol-custom/extension/bearerauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

const (
	defaultHeader                   = "Authorization"
	defaultScheme                   = "Bearer"
	defaultTokensFileReloadInterval = time.Minute
	defaultTokensFileReloadDelay    = 100 * time.Millisecond
)

// NewFactory returns the factory of the bearerauth extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, createExtension, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{
		Refresh:                  tokencache.NewDefaultConfig(),
		RequireTransportSecurity: true,
		TokensFileReloadInterval: defaultTokensFileReloadInterval,
		TokensFileReloadDelay:    defaultTokensFileReloadDelay,
		Header:                   defaultHeader,
		Scheme:                   defaultScheme,
	}
}
