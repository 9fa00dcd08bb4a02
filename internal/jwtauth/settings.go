package jwtauth // import "github.com/otelcol-custom/otelcol-custom/internal/jwtauth"

import (
	"errors"
	"fmt"
	"time"
)

const (
	// MaxClockSkew bounds the clock_skew setting.
	MaxClockSkew = 10 * time.Minute
	// MinKeysRefetchInterval is the floor of keys_min_refetch_interval:
	// below it, every token with a forged kid would cost a discovery and a
	// JWKS fetch.
	MinKeysRefetchInterval = time.Second
)

// ValidateSettings checks the settings every server extension over this
// package has; p prefixes the keys in the errors ("server::").
func ValidateSettings(p string, clockSkew, keysRefresh, keysMinRefetch time.Duration, tokenCacheSize int) error {
	var errs []error
	if clockSkew < 0 || clockSkew > MaxClockSkew {
		errs = append(errs, fmt.Errorf("%sclock_skew: must be between 0 and %s", p, MaxClockSkew))
	}
	if keysRefresh <= 0 {
		errs = append(errs, fmt.Errorf("%skeys_refresh_interval: must be positive", p))
	}
	if keysMinRefetch < MinKeysRefetchInterval {
		errs = append(errs, fmt.Errorf("%skeys_min_refetch_interval: must be at least %s (each token naming an unknown key may trigger a key fetch), got %s", p, MinKeysRefetchInterval, keysMinRefetch))
	}
	if tokenCacheSize < 0 {
		errs = append(errs, fmt.Errorf("%stoken_cache_size: must not be negative (0 disables the cache)", p))
	}
	return errors.Join(errs...)
}
