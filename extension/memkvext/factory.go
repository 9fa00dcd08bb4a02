package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-custom/otelcol-custom/extension/memkvext/internal/metadata"
)

const (
	defaultMaxEntries      = 100_000
	defaultMaxBytes        = 64 << 20
	defaultFileWatch       = true
	defaultFileReloadDelay = 100 * time.Millisecond
	// The same fallback period as bearerauth's tokens_file_reload_interval.
	defaultFileReloadInterval = time.Minute
)

// NewFactory returns the factory of the memkv extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, createExtension, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config { return NewDefaultConfig() }

// NewDefaultConfig returns the default configuration (no file, no default
// TTL), also for components that embed a store with NewStore.
func NewDefaultConfig() *Config {
	return &Config{
		MaxEntries: defaultMaxEntries,
		MaxBytes:   defaultMaxBytes,
		File: FileConfig{
			Watch:          defaultFileWatch,
			ReloadDelay:    defaultFileReloadDelay,
			ReloadInterval: defaultFileReloadInterval,
		},
	}
}

// Defaults of file::csv, applied when the setting is left empty (an unset
// key_columns also selects the key,value layout for a file with a value column).
const (
	defaultCSVKeyColumn = "key"
	defaultCSVSeparator = ":"
)
