package memkvext

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-custom/otelcol-custom/extension/memkvext/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	withFile := func(path, format string) *Config {
		cfg := NewDefaultConfig()
		cfg.File.Path, cfg.File.Format = path, format
		return cfg
	}
	tests := []struct {
		id          component.ID
		expected    *Config
		wantFormat  string // format the store will use
		errContains []string
	}{
		{id: component.NewID(metadata.Type), expected: NewDefaultConfig()},
		{
			id: component.NewIDWithName(metadata.Type, "all"),
			expected: &Config{
				MaxEntries: 5000,
				MaxBytes:   1 << 20,
				DefaultTTL: 10 * time.Minute,
				File: FileConfig{
					Path:        "/etc/otelcol/lookup.yaml",
					Format:      "yaml",
					Watch:       false,
					ReloadDelay: 2 * time.Second,
				},
			},
			wantFormat: FormatYAML,
		},
		{id: component.NewIDWithName(metadata.Type, "yaml_by_extension"), expected: withFile("/etc/otelcol/lookup.yml", ""), wantFormat: FormatYAML},
		{id: component.NewIDWithName(metadata.Type, "json_by_extension"), expected: withFile("lookup.JSON", ""), wantFormat: FormatJSON},
		{id: component.NewIDWithName(metadata.Type, "csv_by_extension"), expected: withFile("./lookup.csv", ""), wantFormat: FormatCSV},
		{id: component.NewIDWithName(metadata.Type, "format_overrides_extension"), expected: withFile("/etc/otelcol/lookup.txt", "csv"), wantFormat: FormatCSV},
		{id: component.NewIDWithName(metadata.Type, "zero_entries"), errContains: []string{"max_entries must be greater than 0"}},
		{id: component.NewIDWithName(metadata.Type, "negative_bytes"), errContains: []string{"max_bytes must be greater than 0"}},
		{id: component.NewIDWithName(metadata.Type, "negative_ttl"), errContains: []string{"default_ttl must not be negative"}},
		{id: component.NewIDWithName(metadata.Type, "bad_format"), errContains: []string{"file::format must be yaml, json or csv", `"toml"`}},
		{id: component.NewIDWithName(metadata.Type, "format_without_path"), errContains: []string{"file::path is required when file::format is set"}},
		{id: component.NewIDWithName(metadata.Type, "unknown_extension"), errContains: []string{"file::format: cannot tell the format", `".txt"`}},
		{id: component.NewIDWithName(metadata.Type, "negative_reload_delay"), errContains: []string{"file::reload_delay must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if len(tt.errContains) > 0 {
				require.Error(t, err)
				for _, s := range tt.errContains {
					assert.ErrorContains(t, err, s)
				}
				_, err := NewStore(cfg.(*Config), component.TelemetrySettings{})
				require.Error(t, err, "NewStore must refuse an invalid config")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.expected, cfg)
			if tt.wantFormat != "" {
				got, err := cfg.(*Config).File.format()
				require.NoError(t, err)
				assert.Equal(t, tt.wantFormat, got)
			}
		})
	}
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
