package oauth2clientauthext // import "github.com/otelcol-custom/otelcol-custom/extension/oauth2clientauthext"

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configtls"

	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// Grant types (the grant_type key) and the RFC names they send.
const (
	grantClientCredentials = "client_credentials"
	grantTokenExchange     = "token_exchange"
	grantJWTBearer         = "jwt_bearer"

	urnTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange" // RFC 8693
	urnJWTBearer     = "urn:ietf:params:oauth:grant-type:jwt-bearer"     // RFC 7523 §2.1
	urnTokenTypeJWT  = "urn:ietf:params:oauth:token-type:jwt"
	urnAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" // RFC 7523 §2.2
)

// Client authentication methods (client_auth_method), named as in OIDC
// discovery and in the Keycloak and Okta consoles.
const (
	authSecretBasic = "client_secret_basic"
	authSecretPost  = "client_secret_post"
)

const (
	defaultTimeout           = 10 * time.Second
	defaultAssertionLifetime = 5 * time.Minute
	defaultAssertionAlg      = "RS256"
)

// assertionAlgorithms are the algorithms a private_key_jwt assertion may be
// signed with: RSA (PKCS#1 v1.5 and PSS) and ECDSA; never HMAC or none.
var assertionAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// reservedParams are form parameters the extension sets itself; endpoint_params
// may not set them (the key that does is named instead).
var reservedParams = map[string]string{
	"grant_type":            "grant_type",
	"client_id":             "client_id",
	"client_secret":         "client_secret or client_secret_file",
	"client_assertion":      "private_key_jwt",
	"client_assertion_type": "private_key_jwt",
	"subject_token":         "subject_token_file",
	"subject_token_type":    "subject_token_type",
	"requested_token_type":  "requested_token_type",
	"assertion":             "subject_token_file",
	"scope":                 "scopes",
	"audience":              "audience",
}

// Config configures the oauth2client extension.
type Config struct {
	// TokenURL is the identity provider's token endpoint. Required.
	TokenURL string `mapstructure:"token_url"`

	// ClientID is the OAuth2 client id. Required for client_credentials and
	// whenever the client authenticates; optional for a public client's
	// token_exchange or jwt_bearer.
	ClientID string `mapstructure:"client_id"`

	// ClientSecret is the client secret. Mutually exclusive with
	// ClientSecretFile and PrivateKeyJWT.
	ClientSecret configopaque.String `mapstructure:"client_secret"`

	// ClientSecretFile is a file holding the client secret (surrounding
	// whitespace trimmed). It is read for every token request, so the next
	// request after a rotation uses the new secret; it is also watched, so a
	// change while token requests are failing is retried at once.
	ClientSecretFile string `mapstructure:"client_secret_file"`

	// ClientAuthMethod is how the client secret is sent: client_secret_basic
	// (HTTP Basic) or client_secret_post (form parameters). Default: try
	// Basic first and fall back to the form once, remembering what worked.
	ClientAuthMethod string `mapstructure:"client_auth_method"`

	// PrivateKeyJWT authenticates the client with a signed JWT assertion
	// (RFC 7523 §2.2, OIDC private_key_jwt) instead of a secret.
	PrivateKeyJWT *PrivateKeyJWTConfig `mapstructure:"private_key_jwt"`

	// GrantType is client_credentials (default), token_exchange (RFC 8693)
	// or jwt_bearer (RFC 7523 §2.1).
	GrantType string `mapstructure:"grant_type"`

	// SubjectTokenFile holds the token traded for an access token by
	// token_exchange (subject_token) and jwt_bearer (assertion), e.g. a
	// Kubernetes projected service account token. Read for every token
	// request and watched like client_secret_file.
	SubjectTokenFile string `mapstructure:"subject_token_file"`

	// SubjectTokenType is the RFC 8693 subject_token_type (token_exchange
	// only). Default urn:ietf:params:oauth:token-type:jwt.
	SubjectTokenType string `mapstructure:"subject_token_type"`

	// RequestedTokenType is the RFC 8693 requested_token_type
	// (token_exchange only); not sent when empty.
	RequestedTokenType string `mapstructure:"requested_token_type"`

	// Scopes are the requested scopes (the scope parameter).
	Scopes []string `mapstructure:"scopes"`

	// Audience is sent as the audience parameter when set (RFC 8693, Auth0,
	// Okta custom authorization servers).
	Audience string `mapstructure:"audience"`

	// EndpointParams are extra form parameters of every token request, e.g.
	// resource. Parameters the extension sets itself are refused.
	EndpointParams url.Values `mapstructure:"endpoint_params"`

	// TLS configures the connection to the token endpoint (CA, client
	// certificate for mTLS-bound clients, server name).
	TLS configtls.ClientConfig `mapstructure:"tls"`

	// Timeout bounds one token request. Default 10s.
	Timeout time.Duration `mapstructure:"timeout"`

	// RequireTransportSecurity makes gRPC refuse to send the token over a
	// plaintext connection. Default true.
	RequireTransportSecurity bool `mapstructure:"require_transport_security"`

	// SendCredentialOnRedirect sends the token on HTTP redirects to another
	// host or port, or from https to http. Default false: the token goes
	// only to the configured endpoint's host and port.
	SendCredentialOnRedirect bool `mapstructure:"send_credential_on_redirect"`

	// Refresh tunes the background refresher (refresh ahead of expiry, retry
	// with backoff, how long a request waits for the first token).
	Refresh tokencache.Config `mapstructure:"refresh"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// PrivateKeyJWTConfig is the private_key_jwt client authentication.
type PrivateKeyJWTConfig struct {
	// KeyFile is a PEM file with the private key (PKCS#8, PKCS#1 RSA or SEC 1
	// EC, unencrypted). Read for every token request, so a rotated key is
	// used at once. Required.
	KeyFile string `mapstructure:"key_file"`

	// KeyID is the kid header, matching the key registered with the provider
	// (Okta and Keycloak select the key by it when the client has several).
	KeyID string `mapstructure:"key_id"`

	// Algorithm signs the assertion: RS256 (default), RS384, RS512, PS256,
	// PS384, PS512, ES256, ES384 or ES512.
	Algorithm string `mapstructure:"algorithm"`

	// Audience is the assertion's aud claim. Default token_url (what Okta
	// requires; Keycloak accepts it or the realm issuer).
	Audience string `mapstructure:"audience"`

	// Lifetime is how long an assertion is valid (exp - iat). Default 5m.
	Lifetime time.Duration `mapstructure:"lifetime"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	return &Config{
		GrantType:                grantClientCredentials,
		Timeout:                  defaultTimeout,
		RequireTransportSecurity: true,
		Refresh:                  tokencache.NewDefaultConfig(),
	}
}

// hasSecret reports whether a client secret is configured.
func (cfg *Config) hasSecret() bool { return cfg.ClientSecret != "" || cfg.ClientSecretFile != "" }

// Validate checks the configuration. Errors name the offending key and never
// contain a secret. tls and refresh are validated by their own Validate,
// which confmap calls.
func (cfg *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if cfg.TokenURL == "" {
		add("token_url: required")
	} else if u, err := url.Parse(cfg.TokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add("token_url: %q is not an http(s) URL", cfg.TokenURL)
	}

	// Client authentication: at most one of the three.
	var auth []string
	if cfg.ClientSecret != "" {
		auth = append(auth, "client_secret")
	}
	if cfg.ClientSecretFile != "" {
		auth = append(auth, "client_secret_file")
	}
	if cfg.PrivateKeyJWT != nil {
		auth = append(auth, "private_key_jwt")
		errs = append(errs, cfg.PrivateKeyJWT.validate()...)
	}
	if len(auth) > 1 {
		add("%s: set only one client authentication", strings.Join(auth, " and "))
	}
	switch cfg.ClientAuthMethod {
	case "", authSecretBasic, authSecretPost:
		if cfg.ClientAuthMethod != "" && !cfg.hasSecret() {
			add("client_auth_method: only applies to client_secret or client_secret_file")
		}
	default:
		add("client_auth_method: %q is not one of %s, %s", cfg.ClientAuthMethod, authSecretBasic, authSecretPost)
	}
	if len(auth) > 0 && cfg.ClientID == "" {
		add("client_id: required with %s", auth[0])
	}

	// Grant.
	switch cfg.GrantType {
	case grantClientCredentials:
		if len(auth) == 0 {
			add("client_secret, client_secret_file or private_key_jwt: one is required for grant_type client_credentials")
			if cfg.ClientID == "" {
				add("client_id: required for grant_type client_credentials")
			}
		}
		if cfg.SubjectTokenFile != "" {
			add("subject_token_file: only for grant_type token_exchange or jwt_bearer")
		}
	case grantTokenExchange, grantJWTBearer:
		if cfg.SubjectTokenFile == "" {
			add("subject_token_file: required for grant_type %s", cfg.GrantType)
		}
	default:
		add("grant_type: %q is not one of %s, %s, %s", cfg.GrantType, grantClientCredentials, grantTokenExchange, grantJWTBearer)
	}
	if cfg.GrantType != grantTokenExchange {
		if cfg.SubjectTokenType != "" {
			add("subject_token_type: only for grant_type token_exchange")
		}
		if cfg.RequestedTokenType != "" {
			add("requested_token_type: only for grant_type token_exchange")
		}
	}

	for i, s := range cfg.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			add("scopes[%d]: %q is not a valid scope (RFC 6749 scope-token: no spaces, quotes or backslashes)", i, s)
		}
	}
	for _, k := range sortedKeys(cfg.EndpointParams) {
		if by, ok := reservedParams[k]; ok {
			add("endpoint_params::%s: set by the extension (use %s)", k, by)
		}
	}
	if cfg.Timeout <= 0 {
		add("timeout: must be positive, got %s", cfg.Timeout)
	}
	return errors.Join(errs...)
}

func (p *PrivateKeyJWTConfig) validate() []error {
	var errs []error
	if p.KeyFile == "" {
		errs = append(errs, errors.New("private_key_jwt::key_file: required"))
	}
	if p.Algorithm != "" && !slices.Contains(assertionAlgorithms, p.Algorithm) {
		errs = append(errs, fmt.Errorf("private_key_jwt::algorithm: %q is not one of %s", p.Algorithm, strings.Join(assertionAlgorithms, ", ")))
	}
	if p.Lifetime < 0 {
		errs = append(errs, fmt.Errorf("private_key_jwt::lifetime: must not be negative, got %s", p.Lifetime))
	}
	if p.Audience != "" {
		if u, err := url.Parse(p.Audience); err != nil || u.Scheme == "" {
			errs = append(errs, fmt.Errorf("private_key_jwt::audience: %q is not a URL", p.Audience))
		}
	}
	return errs
}

func sortedKeys(v url.Values) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
