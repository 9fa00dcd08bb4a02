package memkvext

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-custom/otelcol-custom/extension/memkvext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/configtest"
)

func TestLoadConfig(t *testing.T) {
	withFile := func(path, format string) *Config {
		cfg := NewDefaultConfig()
		cfg.File.Path, cfg.File.Format = path, format
		return cfg
	}
	// hasFormat checks the format the store will use.
	hasFormat := func(want string) func(*testing.T, component.Config) {
		return func(t *testing.T, cfg component.Config) {
			got, err := cfg.(*Config).File.format()
			require.NoError(t, err)
			assert.Equal(t, want, got)
		}
	}
	refusedByStore := func(t *testing.T, cfg component.Config) {
		_, err := NewStore(cfg.(*Config), component.TelemetrySettings{})
		require.Error(t, err, "NewStore must refuse an invalid config")
	}
	configtest.Run(t, filepath.Join("testdata", "config.yaml"), metadata.Type, NewFactory().CreateDefaultConfig, []configtest.Case{
		{ID: "", Expected: NewDefaultConfig()},
		{
			ID: "all",
			Expected: &Config{
				MaxEntries: 5000,
				MaxBytes:   1 << 20,
				DefaultTTL: 10 * time.Minute,
				File: FileConfig{
					Path:           "/etc/otelcol/lookup.yaml",
					Format:         "yaml",
					Watch:          false,
					ReloadDelay:    2 * time.Second,
					ReloadInterval: 5 * time.Minute,
				},
			},
			Check: hasFormat(FormatYAML),
		},
		{ID: "yaml_by_extension", Expected: withFile("/etc/otelcol/lookup.yml", ""), Check: hasFormat(FormatYAML)},
		{ID: "json_by_extension", Expected: withFile("lookup.JSON", ""), Check: hasFormat(FormatJSON)},
		{ID: "csv_by_extension", Expected: withFile("./lookup.csv", ""), Check: hasFormat(FormatCSV)},
		{ID: "format_overrides_extension", Expected: withFile("/etc/otelcol/lookup.txt", "csv"), Check: hasFormat(FormatCSV)},
		{
			ID: "csv_table",
			Expected: func() *Config {
				cfg := withFile("/etc/otelcol/services.csv", "")
				cfg.File.CSV = CSVConfig{
					KeyColumns: []string{"service", "env"},
					Separator:  "|",
					Types:      map[string]string{"tier": CSVTypeInt, "weight": CSVTypeDouble, "active": CSVTypeBool, "owner": CSVTypeString},
				}
				return cfg
			}(),
			Check: hasFormat(FormatCSV),
		},
		{
			ID: "csv_types_only",
			Expected: func() *Config {
				cfg := withFile("services.csv", "")
				cfg.File.CSV.Types = map[string]string{"tier": CSVTypeInt}
				return cfg
			}(),
		},
		{ID: "csv_empty_key_columns", ErrContains: []string{"file::csv::key_columns must name at least one column"}, Check: refusedByStore},
		{ID: "csv_blank_key_column", ErrContains: []string{"file::csv::key_columns[1] must not be empty"}, Check: refusedByStore},
		{ID: "csv_repeated_key_column", ErrContains: []string{`file::csv::key_columns[1]: column "service" is named twice`}, Check: refusedByStore},
		{ID: "csv_bad_type", ErrContains: []string{`file::csv::types::tier must be int, double, bool or string, got "integer"`}, Check: refusedByStore},
		{ID: "csv_typed_key_column", ErrContains: []string{`file::csv::types::service: "service" is a key column`}, Check: refusedByStore},
		{ID: "csv_typed_default_key_column", ErrContains: []string{`file::csv::types::Key: "Key" is a key column`}, Check: refusedByStore},
		{ID: "csv_on_a_json_file", ErrContains: []string{"file::csv is set, but file::path names no csv file"}, Check: refusedByStore},
		{ID: "csv_without_path", ErrContains: []string{"file::csv is set, but file::path names no csv file"}, Check: refusedByStore},
		{ID: "zero_entries", ErrContains: []string{"max_entries must be greater than 0"}, Check: refusedByStore},
		{ID: "negative_bytes", ErrContains: []string{"max_bytes must be greater than 0"}, Check: refusedByStore},
		{ID: "negative_ttl", ErrContains: []string{"default_ttl must not be negative"}, Check: refusedByStore},
		{ID: "bad_format", ErrContains: []string{"file::format must be yaml, json or csv", `"toml"`}, Check: refusedByStore},
		{ID: "format_without_path", ErrContains: []string{"file::path is required when file::format is set"}, Check: refusedByStore},
		{ID: "unknown_extension", ErrContains: []string{"file::format: cannot tell the format", `".txt"`}, Check: refusedByStore},
		{ID: "negative_reload_delay", ErrContains: []string{"file::reload_delay must not be negative"}, Check: refusedByStore},
		{ID: "negative_reload_interval", ErrContains: []string{"file::reload_interval must not be negative"}, Check: refusedByStore},
	}, configtest.CoveredElsewhere("unknown_key")) // TestLoadConfigUnknownKey
}

func TestLoadConfigUnknownKey(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "unknown_key").String())
	require.NoError(t, err)
	err = sub.Unmarshal(NewFactory().CreateDefaultConfig())
	require.ErrorContains(t, err, "max_entry")
}

func TestValidateJoinsErrors(t *testing.T) {
	cfg := NewDefaultConfig()
	cfg.MaxEntries, cfg.MaxBytes, cfg.DefaultTTL = -1, 0, -time.Second
	err := cfg.Validate()
	for _, key := range []string{"max_entries", "max_bytes", "default_ttl"} {
		assert.ErrorContains(t, err, key)
	}
}
