package azureidentityauthext // import "github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

const (
	defaultHeader  = "Authorization"
	defaultScheme  = "Bearer"
	defaultScope   = "https://monitor.azure.com/.default"
	defaultTimeout = 30 * time.Second

	// Defaults of the server block.
	defaultClockSkew              = time.Minute
	defaultKeysRefreshInterval    = time.Hour
	defaultKeysMinRefetchInterval = 30 * time.Second
	defaultTokenCacheSize         = 4096
)

// NewFactory creates a factory for the azureidentityauth extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(
		metadata.Type,
		createDefaultConfig,
		func(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
			return newExtension(cfg.(*Config), set)
		},
		metadata.ExtensionStability,
	)
}

// createDefaultConfig enables no credential kind and no server: each block
// counts as set once its key is written, even empty (`managed_identity:`),
// and the server block then starts from its defaults.
func createDefaultConfig() component.Config {
	return &Config{
		ManagedIdentity:          configoptional.Default(ManagedIdentityConfig{}),
		WorkloadIdentity:         configoptional.Default(WorkloadIdentityConfig{}),
		ServicePrincipal:         configoptional.Default(ServicePrincipalConfig{}),
		Default:                  configoptional.Default(DefaultCredentialConfig{}),
		AzureCLI:                 configoptional.Default(AzureCLIConfig{}),
		Scopes:                   []string{defaultScope},
		Timeout:                  defaultTimeout,
		Refresh:                  tokencache.NewDefaultConfig(),
		RequireTransportSecurity: true,
		Header:                   defaultHeader,
		Scheme:                   defaultScheme,
		Server: configoptional.Default(ServerConfig{
			ClockSkew:              defaultClockSkew,
			KeysRefreshInterval:    defaultKeysRefreshInterval,
			KeysMinRefetchInterval: defaultKeysMinRefetchInterval,
			TokenCacheSize:         defaultTokenCacheSize,
		}),
	}
}
