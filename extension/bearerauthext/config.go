package bearerauthext // import "github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// maxTokenLength bounds every token, configured or presented (large JWTs are a
// few KiB). A longer header is refused unread; the bound is a constant, so the
// refusal says nothing about the configured tokens.
const maxTokenLength = 16 << 10

// Config configures the bearerauth extension. One instance can act as a client
// (token or token_file), as a server (tokens and/or tokens_file), or both.
type Config struct {
	// Token is the static token the client sends. Mutually exclusive with TokenFile.
	Token configopaque.String `mapstructure:"token,omitempty"`

	// TokenFile is a file holding the token the client sends. It is re-read when
	// the file (or, for Kubernetes secrets, its directory's ..data link) changes,
	// and every refresh::interval as a fallback. Surrounding whitespace is
	// trimmed. Mutually exclusive with Token.
	TokenFile string `mapstructure:"token_file,omitempty"`

	// Refresh tunes the background refresher that reads the client token
	// (refresh ahead of a JWT's exp, retry with backoff, how long a request
	// waits for the first token).
	Refresh tokencache.Config `mapstructure:"refresh"`

	// RequireTransportSecurity makes gRPC refuse to send the token over a
	// plaintext connection. Default true; set false only for loopback or
	// otherwise protected links. gRPC only: HTTP clients send the token to
	// whatever endpoint is configured, and log a warning once for an http://
	// endpoint that is not loopback.
	RequireTransportSecurity bool `mapstructure:"require_transport_security"`

	// SendCredentialOnRedirect sends the token on HTTP redirects to another
	// host or port, or from https to http. Default false: the token goes
	// only to the configured endpoint's host and port.
	SendCredentialOnRedirect bool `mapstructure:"send_credential_on_redirect"`

	// Tokens are the tokens the server accepts, each with an optional name; a
	// named token's name is published as the authenticated subject.
	Tokens []TokenConfig `mapstructure:"tokens,omitempty"`

	// TokensFile is a file of tokens the server accepts: one per line, either
	// "token" (unnamed) or "name:token"; blank lines and lines starting with # are
	// ignored. It is reloaded on change; a reload that fails keeps the previous
	// set.
	TokensFile string `mapstructure:"tokens_file,omitempty"`

	// TokensFileReloadInterval re-reads TokensFile periodically in addition to
	// watching it, for file systems without change notification. 0 disables it.
	TokensFileReloadInterval time.Duration `mapstructure:"tokens_file_reload_interval"`

	// TokensFileReloadDelay is how long TokensFile must stay unchanged before a
	// change is loaded, so a file written in place in several steps is never
	// loaded half-written. 0 loads at once.
	TokensFileReloadDelay time.Duration `mapstructure:"tokens_file_reload_delay"`

	// Header is the header carrying the token, on both sides. Default Authorization.
	Header string `mapstructure:"header"`

	// Scheme is the authentication scheme before the token (default Bearer). The
	// server matches it case-insensitively. Empty means the header holds the
	// raw token.
	Scheme string `mapstructure:"scheme"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// TokenConfig is one token the server accepts.
type TokenConfig struct {
	// Name identifies the token's holder. Optional: when set, a request with
	// this token carries it as client.Info.Auth's "subject" for downstream
	// components; an unnamed token publishes nothing (and costs nothing to
	// authenticate beyond the lookup). Names are unique.
	Name string `mapstructure:"name,omitempty"`

	// Token is the secret.
	Token configopaque.String `mapstructure:"token"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

func (cfg *Config) isClient() bool { return cfg.Token != "" || cfg.TokenFile != "" }
func (cfg *Config) isServer() bool { return len(cfg.Tokens) > 0 || cfg.TokensFile != "" }

// Validate checks the configuration. Errors name the offending key (for
// example tokens[3]::token) and never contain a secret. The refresh block is
// validated by its own Validate, which confmap calls.
func (cfg *Config) Validate() error {
	var errs []error
	if !cfg.isClient() && !cfg.isServer() {
		errs = append(errs, errors.New("nothing to do: set token or token_file (client), and/or tokens or tokens_file (server)"))
	}
	if cfg.Token != "" && cfg.TokenFile != "" {
		errs = append(errs, errors.New("token and token_file: set only one of them"))
	}
	if err := tokencache.ValidateHeader(cfg.Header); err != nil {
		errs = append(errs, fmt.Errorf("header: %w", err))
	}
	if err := tokencache.ValidateScheme(cfg.Scheme); err != nil {
		errs = append(errs, fmt.Errorf("scheme: %w", err))
	}
	if cfg.Token != "" {
		if err := checkClientToken(string(cfg.Token)); err != nil {
			errs = append(errs, fmt.Errorf("token: %w", err))
		}
	}
	if cfg.TokensFileReloadInterval < 0 {
		errs = append(errs, errors.New("tokens_file_reload_interval: must not be negative"))
	}
	if cfg.TokensFileReloadDelay < 0 {
		errs = append(errs, errors.New("tokens_file_reload_delay: must not be negative"))
	}
	if _, err := buildConfigTokens(cfg.Tokens, cfg.Scheme); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// buildConfigTokens checks the tokens list. Each entry keeps tokens[i] as its
// origin label for errors (which never quote the value); only a configured
// name is published.
func buildConfigTokens(list []TokenConfig, scheme string) ([]namedToken, error) {
	var errs []error
	out := make([]namedToken, 0, len(list))
	for i, tc := range list {
		key := fmt.Sprintf("tokens[%d]", i)
		if err := checkServerToken(string(tc.Token), scheme); err != nil {
			errs = append(errs, fmt.Errorf("%s::token: %w", key, err))
			continue
		}
		if tc.Name != "" {
			if err := checkName(tc.Name); err != nil {
				errs = append(errs, fmt.Errorf("%s::name: %w", key, err))
				continue
			}
		}
		out = append(out, namedToken{name: tc.Name, token: string(tc.Token), origin: key})
	}
	if err := checkDuplicates(out); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// checkName accepts printable ASCII without ':' (which separates name and
// token in tokens_file) and without surrounding spaces.
func checkName(n string) error {
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < 0x20 || c > 0x7e || c == ':' {
			return fmt.Errorf("must be printable ASCII without ':' (invalid byte at position %d)", i)
		}
	}
	if n[0] == ' ' || n[len(n)-1] == ' ' {
		return errors.New("must not start or end with a space")
	}
	return nil
}
