package rediskvext // import "github.com/otelcol-custom/otelcol-custom/extension/rediskvext"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-custom/otelcol-custom/extension/rediskvext/internal/metadata"
)

const (
	defaultEndpoint          = "localhost:6379"
	defaultMode              = ModeStandalone
	defaultDialTimeout       = 2 * time.Second
	defaultReadTimeout       = time.Second
	defaultWriteTimeout      = time.Second
	defaultClientSideCaching = true
)

// NewFactory returns the factory of the rediskv extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, createExtension, metadata.ExtensionStability)
}

// createDefaultConfig connects to a local Redis over plain TCP.
func createDefaultConfig() component.Config {
	tls := configtls.NewDefaultClientConfig()
	tls.Insecure = true
	return &Config{
		Endpoints:         []string{defaultEndpoint},
		Mode:              defaultMode,
		TLS:               tls,
		DialTimeout:       defaultDialTimeout,
		ReadTimeout:       defaultReadTimeout,
		WriteTimeout:      defaultWriteTimeout,
		ClientSideCaching: defaultClientSideCaching,
	}
}

func createExtension(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newRedisKV(cfg.(*Config), set)
}
