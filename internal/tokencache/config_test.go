package tokencache

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

// extConfig embeds Config the way the auth extensions do.
type extConfig struct {
	Refresh Config `mapstructure:"refresh"`
}

// TestConfigValidateThroughConfmap checks the messages as a collector prints
// them: confmap.Validate prefixes the block's path ("refresh: ") once, so
// every problem must be on that line and name its key relative to the block.
func TestConfigValidateThroughConfmap(t *testing.T) {
	cfg := &extConfig{Refresh: NewDefaultConfig()}
	require.NoError(t, confmap.Validate(cfg))

	cfg.Refresh.InitialBackoff = 10 * time.Second
	cfg.Refresh.MaxBackoff = time.Second
	require.EqualError(t, confmap.Validate(cfg), "refresh: max_backoff (1s) must not be less than initial_backoff (10s)")

	cfg.Refresh.Interval = 0
	cfg.Refresh.BeforeExpiry = -time.Minute
	err := confmap.Validate(cfg)
	require.EqualError(t, err, "refresh: before_expiry must not be negative, got -1m0s; interval must be positive, got 0s; max_backoff (1s) must not be less than initial_backoff (10s)")
	assert.NotContains(t, err.Error(), "\n", "one line, so the prefix applies to every problem")
	assert.NotContains(t, err.Error(), "refresh::", "the path is not repeated")
}

func TestOneLineErrorsUnwrap(t *testing.T) {
	first, second := errors.New("first"), errors.New("second")
	err := oneLineErrors{first, second}
	require.ErrorIs(t, err, first)
	require.ErrorIs(t, err, second)
	require.EqualError(t, err, "first; second")
}

func TestValidateHeaderAndScheme(t *testing.T) {
	for _, h := range []string{"Authorization", "X-Api-Key", "x-api-key"} {
		assert.NoError(t, ValidateHeader(h), h)
	}
	for _, h := range []string{"", "Bad Header", "X-Api\r\nInjected", "Naïve", "a:b"} {
		assert.Error(t, ValidateHeader(h), "%q", h)
	}
	for _, s := range []string{"", "Bearer", "Token", "SharedAccessSignature"} {
		assert.NoError(t, ValidateScheme(s), s)
	}
	for _, s := range []string{"Bearer Token", "Bearer\t", "Bear\ner", "Bé"} {
		assert.Error(t, ValidateScheme(s), "%q", s)
	}
	require.EqualError(t, ValidateHeader(""), "must not be empty")
}
