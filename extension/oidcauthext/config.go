package oidcauthext // import "github.com/otelcol-custom/otelcol-custom/extension/oidcauthext"

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.opentelemetry.io/collector/config/configtls"

	"github.com/otelcol-custom/otelcol-custom/internal/jwtauth"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// reservedAttributes are the attribute names the extension sets itself.
var reservedAttributes = []string{"subject", "groups", "issuer"}

// Config configures the oidcauth extension.
type Config struct {
	// Issuers are the accepted token issuers; a token is checked against the
	// one its iss names.
	Issuers []IssuerConfig `mapstructure:"issuers"`
	// TLS configures the client fetching discovery documents and keys.
	TLS configtls.ClientConfig `mapstructure:"tls"`
	// Timeout bounds one fetch of discovery document and JWKS. Default 10s.
	Timeout time.Duration `mapstructure:"timeout"`
	// Header is the header carrying the token. Default Authorization.
	Header string `mapstructure:"header"`
	// Scheme precedes the token in Header (default Bearer); "" for a raw token.
	Scheme string `mapstructure:"scheme"`
	// ClockSkew is the allowance for exp and nbf. Default 1m, at most 10m.
	ClockSkew time.Duration `mapstructure:"clock_skew"`
	// KeysRefreshInterval is how often each issuer's keys are re-fetched in
	// the background. Default 1h.
	KeysRefreshInterval time.Duration `mapstructure:"keys_refresh_interval"`
	// KeysMinRefetchInterval rate-limits the re-fetch triggered by a token
	// naming an unknown key id. Default 30s, at least 1s.
	KeysMinRefetchInterval time.Duration `mapstructure:"keys_min_refetch_interval"`
	// TokenCacheSize bounds the cache of validated tokens (0 disables it).
	// Default 4096.
	TokenCacheSize int `mapstructure:"token_cache_size"`
	_              struct{}
}

// IssuerConfig is one accepted issuer.
type IssuerConfig struct {
	// IssuerURL is the exact iss of its tokens; the discovery document is
	// read from IssuerURL/.well-known/openid-configuration and must name the
	// same issuer.
	IssuerURL string `mapstructure:"issuer_url"`
	// Audiences are the accepted aud values (at least one).
	Audiences []string `mapstructure:"audiences"`
	// Algorithms are the accepted signature algorithms: RS256, PS256, ES256.
	// Default [RS256].
	Algorithms []string `mapstructure:"algorithms"`
	// RequiredClaims maps a claim to the value it must have (a string claim)
	// or contain (an array claim); "" only requires the claim to be present.
	RequiredClaims map[string]string `mapstructure:"required_claims"`
	// SubjectClaim is exposed as the "subject" attribute. Default sub.
	SubjectClaim string `mapstructure:"subject_claim"`
	// GroupsClaim is exposed as the "groups" attribute ([]string). Default groups.
	GroupsClaim string `mapstructure:"groups_claim"`
	// Attributes maps an attribute name of client.Info.Auth to a claim, for
	// routing by tenant, organization or client (e.g. tenant: tenant_id).
	Attributes map[string]string `mapstructure:"attributes"`
	_          struct{}
}

func createDefaultConfig() *Config {
	return &Config{
		Timeout:                10 * time.Second,
		Header:                 "Authorization",
		Scheme:                 "Bearer",
		ClockSkew:              time.Minute,
		KeysRefreshInterval:    time.Hour,
		KeysMinRefetchInterval: 30 * time.Second,
		TokenCacheSize:         4096,
	}
}

// algorithms returns the issuer's algorithms (default RS256).
func (ic *IssuerConfig) algorithms() []jose.SignatureAlgorithm {
	if len(ic.Algorithms) == 0 {
		return []jose.SignatureAlgorithm{jose.RS256}
	}
	out := make([]jose.SignatureAlgorithm, len(ic.Algorithms))
	for i, a := range ic.Algorithms {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}

func (ic *IssuerConfig) subjectClaim() string {
	if ic.SubjectClaim == "" {
		return "sub"
	}
	return ic.SubjectClaim
}

func (ic *IssuerConfig) groupsClaim() string {
	if ic.GroupsClaim == "" {
		return "groups"
	}
	return ic.GroupsClaim
}

// Validate checks the configuration; errors name the key.
func (cfg *Config) Validate() error {
	var errs []error
	if len(cfg.Issuers) == 0 {
		errs = append(errs, errors.New("issuers: at least one issuer is required"))
	}
	seen := map[string]int{}
	for i, ic := range cfg.Issuers {
		p := fmt.Sprintf("issuers::%d::", i)
		if j, dup := seen[ic.IssuerURL]; dup && ic.IssuerURL != "" {
			errs = append(errs, fmt.Errorf("%sissuer_url: %q is also issuers::%d", p, ic.IssuerURL, j))
		}
		seen[ic.IssuerURL] = i
		errs = append(errs, ic.validate(p))
	}
	if err := tokencache.ValidateHeader(cfg.Header); err != nil {
		errs = append(errs, fmt.Errorf("header: %w", err))
	}
	if err := tokencache.ValidateScheme(cfg.Scheme); err != nil {
		errs = append(errs, fmt.Errorf("scheme: %w", err))
	}
	if cfg.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be positive"))
	}
	errs = append(errs, jwtauth.ValidateSettings("", cfg.ClockSkew, cfg.KeysRefreshInterval, cfg.KeysMinRefetchInterval, cfg.TokenCacheSize))
	return errors.Join(errs...)
}

func (ic *IssuerConfig) validate(p string) error {
	var errs []error
	if u, err := url.Parse(ic.IssuerURL); ic.IssuerURL == "" || err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("%sissuer_url: %q must be an https URL without query or fragment", p, ic.IssuerURL))
	}
	if len(ic.Audiences) == 0 {
		errs = append(errs, fmt.Errorf("%saudiences: at least one audience is required", p))
	}
	for i, a := range ic.Audiences {
		if strings.TrimSpace(a) == "" {
			errs = append(errs, fmt.Errorf("%saudiences::%d: must not be empty", p, i))
		}
	}
	for i, a := range ic.Algorithms {
		if !slices.Contains(jwtauth.SupportedAlgorithms, jose.SignatureAlgorithm(a)) {
			errs = append(errs, fmt.Errorf("%salgorithms::%d: %q is not accepted (RS256, PS256 or ES256; never none or HMAC)", p, i, a))
		}
	}
	for name := range ic.RequiredClaims {
		if name == "" {
			errs = append(errs, fmt.Errorf("%srequired_claims: a claim name must not be empty", p))
		}
	}
	for attr, claim := range ic.Attributes {
		if slices.Contains(reservedAttributes, attr) {
			errs = append(errs, fmt.Errorf("%sattributes::%s: %q is set by the extension itself (see subject_claim and groups_claim)", p, attr, attr))
		}
		if attr == "" || claim == "" {
			errs = append(errs, fmt.Errorf("%sattributes: attribute and claim names must not be empty (got %q: %q)", p, attr, claim))
		}
	}
	return errors.Join(errs...)
}
