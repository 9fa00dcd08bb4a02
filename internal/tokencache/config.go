package tokencache // import "github.com/otelcol-custom/otelcol-custom/internal/tokencache"

import (
	"errors"
	"time"
)

// Config is the `refresh:` block of an auth extension's configuration.
type Config struct {
	// BeforeExpiry is how long before a token's expiry it is refreshed. It is
	// capped to half the token's remaining lifetime. Default 5m.
	BeforeExpiry time.Duration `mapstructure:"before_expiry"`
	// Interval is the re-fetch period when a token's expiry is unknown (for a
	// watched file it is the fallback re-read period). Default 1m.
	Interval time.Duration `mapstructure:"interval"`
	// InitialWait bounds how long a request waits for the first token. Default 5s.
	InitialWait time.Duration `mapstructure:"initial_wait"`
	// InitialBackoff is the first retry delay after a failed fetch. Default 1s.
	InitialBackoff time.Duration `mapstructure:"initial_backoff"`
	// MaxBackoff caps the retry delay. Default 1m.
	MaxBackoff time.Duration `mapstructure:"max_backoff"`
	// MinInvalidateInterval is the minimum time between two fetches triggered by
	// Handle.Invalidate (e.g. after HTTP 401). Default 5s.
	MinInvalidateInterval time.Duration `mapstructure:"min_invalidate_interval"`
}

// NewDefaultConfig returns the default refresh configuration.
func NewDefaultConfig() Config {
	return Config{
		BeforeExpiry:          5 * time.Minute,
		Interval:              time.Minute,
		InitialWait:           5 * time.Second,
		InitialBackoff:        time.Second,
		MaxBackoff:            time.Minute,
		MinInvalidateInterval: 5 * time.Second,
	}
}

// Validate checks the configuration; errors name the offending key as
// `refresh::<key>`.
func (c *Config) Validate() error {
	var errs []error
	if c.BeforeExpiry < 0 {
		errs = append(errs, errors.New("refresh::before_expiry must not be negative"))
	}
	if c.Interval <= 0 {
		errs = append(errs, errors.New("refresh::interval must be positive"))
	}
	if c.InitialWait < 0 {
		errs = append(errs, errors.New("refresh::initial_wait must not be negative"))
	}
	if c.InitialBackoff <= 0 {
		errs = append(errs, errors.New("refresh::initial_backoff must be positive"))
	}
	if c.MaxBackoff < c.InitialBackoff {
		errs = append(errs, errors.New("refresh::max_backoff must be >= refresh::initial_backoff"))
	}
	if c.MinInvalidateInterval < 0 {
		errs = append(errs, errors.New("refresh::min_invalidate_interval must not be negative"))
	}
	return errors.Join(errs...)
}
