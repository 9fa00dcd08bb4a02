package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// File formats.
const (
	FormatYAML = "yaml"
	FormatJSON = "json"
	FormatCSV  = "csv"
)

// Config is the configuration of the memkv extension, and of the embedded store
// that the kvcache processor builds with NewStore when it names no store.
type Config struct {
	// MaxEntries bounds the number of entries in each layer: written entries are
	// evicted (least likely to be used again first) beyond it, and a file with more
	// entries fails to load. Default 100000.
	MaxEntries int `mapstructure:"max_entries"`
	// MaxBytes bounds the bytes of keys plus values in each layer, like MaxEntries.
	// Default 67108864 (64 MiB).
	MaxBytes int64 `mapstructure:"max_bytes"`
	// DefaultTTL is the lifetime of entries written with a TTL of zero. Zero means
	// such entries never expire (they may still be evicted). Default 0.
	DefaultTTL time.Duration `mapstructure:"default_ttl"`
	// File optionally loads entries from a file. Empty path: no file.
	File FileConfig `mapstructure:"file"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// FileConfig names a file of key-value pairs to load, watch and hot-reload.
type FileConfig struct {
	// Path of the file. Symbolic links are followed.
	Path string `mapstructure:"path"`
	// Format is yaml, json or csv. Empty: taken from the path's extension
	// (.yaml, .yml, .json, .csv).
	Format string `mapstructure:"format"`
	// Watch reloads the file when it changes. Default true.
	Watch bool `mapstructure:"watch"`
	// ReloadDelay is how long the file must stay quiet after a change before it is
	// reloaded, so that a burst of writes leads to one reload. Default 100ms.
	ReloadDelay time.Duration `mapstructure:"reload_delay"`
	// ReloadInterval also re-reads the watched file this often, for file systems
	// that deliver no change notification (like bearerauth's
	// tokens_file_reload_interval). Zero disables it. Default 1m.
	ReloadInterval time.Duration `mapstructure:"reload_interval"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration; each error names the offending key.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.MaxEntries <= 0 {
		errs = append(errs, fmt.Errorf("max_entries must be greater than 0, got %d", cfg.MaxEntries))
	}
	if cfg.MaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("max_bytes must be greater than 0, got %d", cfg.MaxBytes))
	}
	if cfg.DefaultTTL < 0 {
		errs = append(errs, fmt.Errorf("default_ttl must not be negative, got %s", cfg.DefaultTTL))
	}
	if cfg.File.ReloadDelay < 0 {
		errs = append(errs, fmt.Errorf("file::reload_delay must not be negative, got %s", cfg.File.ReloadDelay))
	}
	if cfg.File.ReloadInterval < 0 {
		errs = append(errs, fmt.Errorf("file::reload_interval must not be negative, got %s", cfg.File.ReloadInterval))
	}
	if cfg.File.Path == "" {
		if cfg.File.Format != "" {
			errs = append(errs, errors.New("file::path is required when file::format is set"))
		}
	} else if _, err := cfg.File.format(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// format returns the file's format: the configured one, or the one its extension names.
func (f *FileConfig) format() (string, error) {
	switch strings.ToLower(f.Format) {
	case FormatYAML, "yml":
		return FormatYAML, nil
	case FormatJSON:
		return FormatJSON, nil
	case FormatCSV:
		return FormatCSV, nil
	case "":
	default:
		return "", fmt.Errorf("file::format must be yaml, json or csv, got %q", f.Format)
	}
	switch ext := strings.ToLower(filepath.Ext(f.Path)); ext {
	case ".yaml", ".yml":
		return FormatYAML, nil
	case ".json":
		return FormatJSON, nil
	case ".csv":
		return FormatCSV, nil
	default:
		return "", fmt.Errorf("file::format: cannot tell the format of %q from its extension %q; set file::format to yaml, json or csv", f.Path, ext)
	}
}
