package httpkvext // import "github.com/otelcol-custom/otelcol-custom/extension/httpkvext"

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
)

// Modes of Config.Mode.
const (
	ModePerKey = "per_key"
	ModeBulk   = "bulk"
)

// keyPlaceholder is where per_key::path puts the escaped key.
const keyPlaceholder = "{key}"

const (
	defaultTimeout         = 5 * time.Second
	defaultPerKeyPath      = "/" + keyPlaceholder
	defaultMaxConcurrency  = 8
	defaultKeysField       = "keys"
	defaultMaxResponseSize = 4 << 20
)

// Config configures the httpkv extension.
type Config struct {
	// ClientConfig is the HTTP client: endpoint (the API's base URL, required),
	// tls, timeout (per request, default 5s), headers, compression (of the bulk
	// request body), auth::authenticator and the rest of confighttp.
	confighttp.ClientConfig `mapstructure:",squash"`

	// Mode is per_key (default: one GET per distinct key) or bulk (one POST per
	// Get carrying all of its keys).
	Mode string `mapstructure:"mode"`

	// PerKey configures mode per_key.
	PerKey PerKeyConfig `mapstructure:"per_key"`

	// Bulk configures mode bulk.
	Bulk BulkConfig `mapstructure:"bulk"`

	// ValuePointer is an RFC 6901 JSON pointer (e.g. "/data/owner") that selects
	// the value inside each answer: the response body in per_key mode, each
	// value of the response object in bulk mode. Empty: per_key takes the body
	// as it is, bulk takes each value whole.
	ValuePointer string `mapstructure:"value_pointer"`

	// MaxResponseSize bounds the body read of one response, in bytes; a larger
	// body fails the call. Default 4 MiB.
	MaxResponseSize int64 `mapstructure:"max_response_size"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// PerKeyConfig configures mode per_key.
type PerKeyConfig struct {
	// Path is appended to endpoint; it holds {key} exactly once, which is
	// replaced by the key escaped for where it stands (path segment escaping
	// before a '?', query escaping after one). Default "/{key}".
	Path string `mapstructure:"path"`

	// MaxConcurrency bounds the GETs in flight at once, across every store
	// call of the extension. Default 8.
	MaxConcurrency int `mapstructure:"max_concurrency"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// BulkConfig configures mode bulk.
type BulkConfig struct {
	// Path is appended to endpoint for the POST. Default "" (the endpoint itself).
	Path string `mapstructure:"path"`

	// KeysField names the field of the request object that carries the keys:
	// {"<keys_field>": ["k1", "k2"]}. Default "keys".
	KeysField string `mapstructure:"keys_field"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	client := confighttp.NewDefaultClientConfig()
	client.Timeout = defaultTimeout
	return &Config{
		ClientConfig:    client,
		Mode:            ModePerKey,
		PerKey:          PerKeyConfig{Path: defaultPerKeyPath, MaxConcurrency: defaultMaxConcurrency},
		Bulk:            BulkConfig{KeysField: defaultKeysField},
		MaxResponseSize: defaultMaxResponseSize,
	}
}

// Validate checks the configuration; errors name the offending key. The
// confighttp part (tls, compression) is validated by its own Validate.
func (cfg *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if err := checkEndpoint(cfg.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if cfg.Timeout <= 0 {
		add("timeout: must be positive (a lookup must not wait forever), got %v", cfg.Timeout)
	}
	switch cfg.Mode {
	case ModePerKey:
		if _, _, err := splitPathTemplate(cfg.PerKey.Path); err != nil {
			add("per_key::path: %w", err)
		}
		if cfg.PerKey.MaxConcurrency < 1 {
			add("per_key::max_concurrency: must be at least 1, got %d", cfg.PerKey.MaxConcurrency)
		}
	case ModeBulk:
		if strings.Contains(cfg.Bulk.Path, keyPlaceholder) {
			add("bulk::path: %s has no meaning in bulk mode (the keys go in the request body)", keyPlaceholder)
		}
		if cfg.Bulk.KeysField == "" {
			add("bulk::keys_field: must not be empty")
		}
	default:
		add("mode: %q is not one of %s, %s", cfg.Mode, ModePerKey, ModeBulk)
	}
	if _, err := parsePointer(cfg.ValuePointer); err != nil {
		add("value_pointer: %w", err)
	}
	if cfg.MaxResponseSize <= 0 {
		add("max_response_size: must be positive, got %d", cfg.MaxResponseSize)
	}
	return errors.Join(errs...)
}

// checkEndpoint requires an absolute http(s) URL without query or fragment (the
// paths are appended to it). The URL is not echoed: it may carry credentials.
func checkEndpoint(endpoint string) error {
	if endpoint == "" {
		return errors.New("endpoint: required (the lookup API's base URL, e.g. https://cmdb.internal/api)")
	}
	u, err := url.Parse(endpoint)
	switch {
	case err != nil:
		return errors.New("endpoint: not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("endpoint: scheme must be http or https, got %q", u.Scheme)
	case u.Host == "":
		return errors.New("endpoint: no host")
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(endpoint, "?#"):
		return errors.New("endpoint: must not have a query or fragment (put a query in per_key::path)")
	}
	return nil
}

// splitPathTemplate splits a per_key path template around its one {key} and
// reports whether the key stands in the query.
func splitPathTemplate(tmpl string) (before, after string, err error) {
	switch n := strings.Count(tmpl, keyPlaceholder); {
	case n == 0:
		return "", "", fmt.Errorf("must contain %s", keyPlaceholder)
	case n > 1:
		return "", "", fmt.Errorf("must contain %s exactly once, found it %d times", keyPlaceholder, n)
	}
	if tmpl != "" && tmpl[0] != '/' && tmpl[0] != '?' {
		return "", "", fmt.Errorf("must start with '/' or '?', got %q", tmpl)
	}
	before, after, _ = strings.Cut(tmpl, keyPlaceholder)
	if strings.Contains(tmpl, "#") {
		return "", "", errors.New("must not contain a fragment ('#')")
	}
	return before, after, nil
}
