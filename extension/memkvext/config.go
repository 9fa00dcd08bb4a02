package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
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
	// CSV says how a csv file is read: as a table with one row per entry, or in the
	// key,value layout.
	CSV CSVConfig `mapstructure:"csv"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// CSV column types (file::csv::types).
const (
	CSVTypeString = "string"
	CSVTypeInt    = "int"
	CSVTypeDouble = "double"
	CSVTypeBool   = "bool"
)

// CSVConfig reads a CSV file as a table: the key columns make the key and every
// other column becomes a field of the entry's JSON object. A file whose header has
// a value column, read with neither KeyColumns nor Types set, keeps the key,value
// layout: the value column is stored as it is and other columns are ignored.
type CSVConfig struct {
	// KeyColumns are the columns whose cells, joined with Separator, make the key.
	// Default [key].
	KeyColumns []string `mapstructure:"key_columns"`
	// Separator joins the cells of several key columns, as the kvcache processor
	// joins the attributes of a composite key. Default ":".
	Separator string `mapstructure:"separator"`
	// Types gives the JSON type of a column's cells: int, double, bool or string
	// (the default for every column not named).
	Types map[string]string `mapstructure:"types"`

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
	errs = append(errs, cfg.File.validateCSV()...)
	return errors.Join(errs...)
}

// validateCSV checks file::csv.
func (f *FileConfig) validateCSV() []error {
	c := &f.CSV
	if c.KeyColumns == nil && c.Separator == "" && len(c.Types) == 0 {
		return nil
	}
	var errs []error
	if format, err := f.format(); f.Path == "" || (err == nil && format != FormatCSV) {
		errs = append(errs, errors.New("file::csv is set, but file::path names no csv file"))
	}
	if c.KeyColumns != nil && len(c.KeyColumns) == 0 {
		errs = append(errs, errors.New("file::csv::key_columns must name at least one column"))
	}
	keys := map[string]bool{}
	for i, col := range c.KeyColumns {
		switch {
		case strings.TrimSpace(col) == "":
			errs = append(errs, fmt.Errorf("file::csv::key_columns[%d] must not be empty", i))
		case keys[col]:
			errs = append(errs, fmt.Errorf("file::csv::key_columns[%d]: column %q is named twice", i, col))
		}
		keys[col] = true
	}
	for _, col := range slices.Sorted(maps.Keys(c.Types)) {
		switch c.Types[col] {
		case CSVTypeString, CSVTypeInt, CSVTypeDouble, CSVTypeBool:
		default:
			errs = append(errs, fmt.Errorf("file::csv::types::%s must be int, double, bool or string, got %q", col, c.Types[col]))
		}
		if c.isKeyColumn(col) {
			errs = append(errs, fmt.Errorf("file::csv::types::%s: %q is a key column; key columns are not typed", col, col))
		}
	}
	return errs
}

// isKeyColumn reports whether col is one of the key columns (the default key
// column matches in any case, as the key,value layout always did).
func (c *CSVConfig) isKeyColumn(col string) bool {
	if c.KeyColumns == nil {
		return strings.EqualFold(strings.TrimSpace(col), defaultCSVKeyColumn)
	}
	return slices.Contains(c.KeyColumns, col)
}

// separator returns the composite key separator.
func (c *CSVConfig) separator() string {
	if c.Separator == "" {
		return defaultCSVSeparator
	}
	return c.Separator
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
