package tokencache // import "github.com/otelcol-custom/otelcol-custom/internal/tokencache"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
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

// Defaults of Config.
const (
	defaultBeforeExpiry          = 5 * time.Minute
	defaultInterval              = time.Minute
	defaultInitialWait           = 5 * time.Second
	defaultInitialBackoff        = time.Second
	defaultMaxBackoff            = time.Minute
	defaultMinInvalidateInterval = 5 * time.Second
)

// NewDefaultConfig returns the default refresh configuration.
func NewDefaultConfig() Config {
	return Config{
		BeforeExpiry:          defaultBeforeExpiry,
		Interval:              defaultInterval,
		InitialWait:           defaultInitialWait,
		InitialBackoff:        defaultInitialBackoff,
		MaxBackoff:            defaultMaxBackoff,
		MinInvalidateInterval: defaultMinInvalidateInterval,
	}
}

// Validate checks the configuration. Messages name the key relative to the
// block; confmap.Validate prefixes its path ("refresh: max_backoff ..."), so
// several problems go on one line, separated by "; ", each under the prefix.
func (c *Config) Validate() error {
	var errs []error
	if c.BeforeExpiry < 0 {
		errs = append(errs, fmt.Errorf("before_expiry must not be negative, got %s", c.BeforeExpiry))
	}
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("interval must be positive, got %s", c.Interval))
	}
	if c.InitialWait < 0 {
		errs = append(errs, fmt.Errorf("initial_wait must not be negative, got %s", c.InitialWait))
	}
	if c.InitialBackoff <= 0 {
		errs = append(errs, fmt.Errorf("initial_backoff must be positive, got %s", c.InitialBackoff))
	}
	if c.MaxBackoff < c.InitialBackoff {
		errs = append(errs, fmt.Errorf("max_backoff (%s) must not be less than initial_backoff (%s)", c.MaxBackoff, c.InitialBackoff))
	}
	if c.MinInvalidateInterval < 0 {
		errs = append(errs, fmt.Errorf("min_invalidate_interval must not be negative, got %s", c.MinInvalidateInterval))
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return oneLineErrors(errs)
}

// oneLineErrors joins errors like errors.Join (errors.Is and errors.As see
// each), but prints them on one line: errors.Join puts each on its own line,
// and only the first would carry the path confmap.Validate prefixes.
type oneLineErrors []error

func (e oneLineErrors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e oneLineErrors) Unwrap() []error { return e }

// ValidateHeader checks a configured header name: an HTTP field name (RFC 9110
// token). Both auth extensions validate their `header` key with it, so the
// rule that New enforces is stated once.
func ValidateHeader(name string) error {
	if name == "" {
		return errors.New("must not be empty")
	}
	if !httpguts.ValidHeaderFieldName(name) {
		return fmt.Errorf("%q is not a valid HTTP header name", name)
	}
	return nil
}

// ValidateScheme checks a configured auth scheme: an RFC 9110 auth-scheme (a
// token), or "" to send the raw token.
func ValidateScheme(scheme string) error {
	if scheme != "" && !httpguts.ValidHeaderFieldName(scheme) {
		return fmt.Errorf("%q is not a valid authentication scheme (letters, digits and !#$%%&'*+-.^_`|~ only; empty sends the raw token)", scheme)
	}
	return nil
}
