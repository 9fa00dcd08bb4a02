package azureidentityauthext // import "github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"

	"github.com/otelcol-custom/otelcol-custom/internal/jwtauth"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

const (
	cloudPublic     = "AzurePublic"
	cloudGovernment = "AzureGovernment"
	cloudChina      = "AzureChina"
)

// Credential kinds: the config keys, also used in errors, logs and the
// tokencache Settings.Kind.
const (
	kindManagedIdentity  = "managed_identity"
	kindWorkloadIdentity = "workload_identity"
	kindServicePrincipal = "service_principal"
	kindDefault          = "default"
	kindAzureCLI         = "azure_cli"
)

// Config configures the azureidentityauth extension. An instance is a client
// (exactly one credential kind), a server (the server block), or both. A
// block is set when its key is written, even empty (`managed_identity:`).
type Config struct {
	// ManagedIdentity authenticates as the Azure managed identity of the host:
	// system-assigned by default, user-assigned with one of its ids.
	ManagedIdentity configoptional.Optional[ManagedIdentityConfig] `mapstructure:"managed_identity"`

	// WorkloadIdentity authenticates with a federated Kubernetes service
	// account token (AKS workload identity).
	WorkloadIdentity configoptional.Optional[WorkloadIdentityConfig] `mapstructure:"workload_identity"`

	// ServicePrincipal authenticates an app registration with a client secret
	// or a client certificate.
	ServicePrincipal configoptional.Optional[ServicePrincipalConfig] `mapstructure:"service_principal"`

	// Default uses azidentity's DefaultAzureCredential chain (environment,
	// workload identity, managed identity, Azure CLI, Azure Developer CLI).
	Default configoptional.Optional[DefaultCredentialConfig] `mapstructure:"default"`

	// AzureCLI uses the account logged in to the Azure CLI (developer machines).
	AzureCLI configoptional.Optional[AzureCLIConfig] `mapstructure:"azure_cli"`

	// Scopes are the scopes of the token the client sends. Default
	// ["https://monitor.azure.com/.default"]. managed_identity and azure_cli
	// take exactly one.
	Scopes []string `mapstructure:"scopes"`

	// Cloud selects the Entra ID authority: AzurePublic (default),
	// AzureGovernment or AzureChina. Mutually exclusive with AuthorityHost.
	Cloud string `mapstructure:"cloud"`

	// AuthorityHost is the Entra ID authority for a sovereign or private
	// cloud, e.g. https://login.example.internal/. Mutually exclusive with Cloud.
	AuthorityHost string `mapstructure:"authority_host"`

	// DisableInstanceDiscovery skips Entra's instance metadata request to
	// login.microsoft.com, for disconnected or private clouds (Azure Stack) and
	// for an authority_host that is not a Microsoft one. With it set, the
	// configured authority is trusted as is.
	DisableInstanceDiscovery bool `mapstructure:"disable_instance_discovery"`

	// AdditionallyAllowedTenants lets the credential acquire tokens for these
	// tenants besides its own (through the azcore.TokenCredential interface);
	// "*" allows any.
	AdditionallyAllowedTenants []string `mapstructure:"additionally_allowed_tenants"`

	// TLS configures how the extension's own HTTPS calls (to the authority for
	// tokens, and to the issuer for discovery and signing keys) verify the
	// server, e.g. ca_file for a TLS-inspecting proxy or private cloud.
	TLS configtls.ClientConfig `mapstructure:"tls"`

	// Timeout bounds one token request (to Entra ID, the managed identity
	// endpoint or the Azure CLI). Failed requests are retried by the refresher
	// with backoff, not inside azidentity. Default 30s.
	Timeout time.Duration `mapstructure:"timeout"`

	// Refresh tunes the background refresher (refresh ahead of expiry, retry
	// backoff, how long a request waits for the first token).
	Refresh tokencache.Config `mapstructure:"refresh"`

	// RequireTransportSecurity makes gRPC refuse to send the token over a
	// plaintext connection. Default true. gRPC only: HTTP clients log a
	// warning once for an http:// endpoint that is not loopback.
	RequireTransportSecurity bool `mapstructure:"require_transport_security"`

	// SendCredentialOnRedirect sends the token on HTTP redirects to another
	// host or port, or from https to http. Default false.
	SendCredentialOnRedirect bool `mapstructure:"send_credential_on_redirect"`

	// Header is the header carrying the token, on both sides. Default Authorization.
	Header string `mapstructure:"header"`

	// Scheme is the authentication scheme before the token (default Bearer);
	// the server matches it case-insensitively. Empty means the raw token.
	Scheme string `mapstructure:"scheme"`

	// Server enables extensionauth.Server: incoming requests must carry an
	// Entra-issued JWT that this block accepts.
	Server configoptional.Optional[ServerConfig] `mapstructure:"server"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// ManagedIdentityConfig selects the managed identity. All ids empty means the
// system-assigned identity; set at most one to use a user-assigned identity.
type ManagedIdentityConfig struct {
	// ClientID is the client (application) id of a user-assigned identity.
	ClientID string `mapstructure:"client_id"`
	// ResourceID is the Azure resource id of a user-assigned identity.
	ResourceID string `mapstructure:"resource_id"`
	// ObjectID is the object (principal) id of a user-assigned identity.
	ObjectID string `mapstructure:"object_id"`

	_ struct{}
}

// WorkloadIdentityConfig is AKS workload identity. Empty fields default to the
// variables the workload identity webhook injects.
type WorkloadIdentityConfig struct {
	// TenantID defaults to $AZURE_TENANT_ID.
	TenantID string `mapstructure:"tenant_id"`
	// ClientID defaults to $AZURE_CLIENT_ID.
	ClientID string `mapstructure:"client_id"`
	// TokenFile is the projected service account token; defaults to
	// $AZURE_FEDERATED_TOKEN_FILE. It is re-read as Kubernetes rotates it.
	TokenFile string `mapstructure:"token_file"`

	_ struct{}
}

// ServicePrincipalConfig is an app registration with either a client secret
// or a client certificate.
type ServicePrincipalConfig struct {
	// TenantID is the directory (tenant) id.
	TenantID string `mapstructure:"tenant_id"`
	// ClientID is the application (client) id.
	ClientID string `mapstructure:"client_id"`
	// ClientSecret is the client secret. Mutually exclusive with ClientCertificatePath.
	ClientSecret configopaque.String `mapstructure:"client_secret"`
	// ClientCertificatePath is a PEM file (certificate and unencrypted private
	// key) or a PKCS#12 file (.pfx/.p12) with the certificate and its RSA key.
	ClientCertificatePath string `mapstructure:"client_certificate_path"`
	// ClientCertificatePassword decrypts a PKCS#12 file.
	ClientCertificatePassword configopaque.String `mapstructure:"client_certificate_password"`
	// SendCertificateChain sends the certificate chain (x5c) with each token
	// request, for subject name/issuer authentication.
	SendCertificateChain bool `mapstructure:"send_certificate_chain"`

	_ struct{}
}

// DefaultCredentialConfig configures azidentity's DefaultAzureCredential.
type DefaultCredentialConfig struct {
	// TenantID overrides the tenant of the chain's credentials (optional).
	TenantID string `mapstructure:"tenant_id"`

	_ struct{}
}

// AzureCLIConfig configures the Azure CLI credential.
type AzureCLIConfig struct {
	// TenantID is the tenant to request tokens from (optional; default: the
	// CLI's current tenant).
	TenantID string `mapstructure:"tenant_id"`
	// Subscription is a subscription name or id selecting the account (optional).
	Subscription string `mapstructure:"subscription"`

	_ struct{}
}

// ServerConfig validates incoming Entra ID access tokens.
type ServerConfig struct {
	// Issuer is the exact issuer (iss) accepted; its OIDC discovery document
	// (<issuer>/.well-known/openid-configuration) gives the signing keys.
	// Mutually exclusive with TenantID.
	Issuer string `mapstructure:"issuer"`

	// TenantID accepts the tenant's Entra v1 and v2 issuers: its id (a GUID)
	// or a domain name of it (contoso.onmicrosoft.com; the id is then read
	// from the discovery document). "organizations" or "common" accepts any
	// tenant listed in allowed_tenants (multi-tenant applications). Mutually
	// exclusive with Issuer.
	TenantID string `mapstructure:"tenant_id"`

	// Audiences are the accepted aud values (the application id URI and/or
	// client id of the API). Required.
	Audiences []string `mapstructure:"audiences"`

	// AllowedTenants restricts the token's tid (tenant GUIDs). Defaults to
	// tenant_id's tenant; required for organizations/common.
	AllowedTenants []string `mapstructure:"allowed_tenants"`

	// RequiredRoles must all be in the token's roles claim (app roles).
	RequiredRoles []string `mapstructure:"required_roles"`

	// RequiredScopes must all be in the token's scp claim (delegated scopes).
	RequiredScopes []string `mapstructure:"required_scopes"`

	// ClockSkew is the allowance for exp and nbf. Default 1m, at most 10m.
	ClockSkew time.Duration `mapstructure:"clock_skew"`

	// KeysRefreshInterval is how often the signing keys are re-fetched in the
	// background. Default 1h.
	KeysRefreshInterval time.Duration `mapstructure:"keys_refresh_interval"`

	// KeysMinRefetchInterval rate-limits the re-fetch triggered by a token
	// signed with an unknown key id. Default 30s, at least 1s.
	KeysMinRefetchInterval time.Duration `mapstructure:"keys_min_refetch_interval"`

	// TokenCacheSize bounds the cache of already validated tokens (a token is
	// verified once, then only its times are checked until it expires). 0
	// disables the cache. Default 4096.
	TokenCacheSize int `mapstructure:"token_cache_size"`

	_ struct{}
}

var _ component.Config = (*Config)(nil)

// kinds returns the configured credential kinds, in config order.
func (cfg *Config) kinds() []string {
	var k []string
	if cfg.ManagedIdentity.HasValue() {
		k = append(k, kindManagedIdentity)
	}
	if cfg.WorkloadIdentity.HasValue() {
		k = append(k, kindWorkloadIdentity)
	}
	if cfg.ServicePrincipal.HasValue() {
		k = append(k, kindServicePrincipal)
	}
	if cfg.Default.HasValue() {
		k = append(k, kindDefault)
	}
	if cfg.AzureCLI.HasValue() {
		k = append(k, kindAzureCLI)
	}
	return k
}

func (cfg *Config) isClient() bool { return len(cfg.kinds()) > 0 }

// Validate checks the configuration. Errors name the offending key as
// `section::key` and never contain a secret. Workload identity values that
// default from the environment are checked at Start, when the environment is
// final. The refresh and tls blocks are validated by their own Validate.
func (cfg *Config) Validate() error {
	var errs []error
	kinds := cfg.kinds()
	switch {
	case len(kinds) == 0 && !cfg.Server.HasValue():
		errs = append(errs, errors.New("nothing to do: configure one credential kind (managed_identity, workload_identity, service_principal, default or azure_cli) for the client, and/or server"))
	case len(kinds) > 1:
		errs = append(errs, fmt.Errorf("%s: configure exactly one credential kind, found %d", strings.Join(kinds, " and "), len(kinds)))
	}
	if cfg.ManagedIdentity.HasValue() {
		errs = append(errs, cfg.ManagedIdentity.Get().validate())
	}
	if cfg.WorkloadIdentity.HasValue() {
		errs = append(errs, cfg.WorkloadIdentity.Get().validate())
	}
	if cfg.ServicePrincipal.HasValue() {
		errs = append(errs, cfg.ServicePrincipal.Get().validate())
	}
	if cfg.Default.HasValue() {
		errs = append(errs, checkTenant(kindDefault+"::tenant_id", cfg.Default.Get().TenantID, true))
	}
	if cfg.AzureCLI.HasValue() {
		errs = append(errs, checkTenant(kindAzureCLI+"::tenant_id", cfg.AzureCLI.Get().TenantID, true))
	}
	errs = append(errs, cfg.validateScopes(), cfg.validateAuthority())
	for i, t := range cfg.AdditionallyAllowedTenants {
		if t != "*" {
			errs = append(errs, checkTenant(fmt.Sprintf("additionally_allowed_tenants[%d]", i), t, false))
		}
	}
	if cfg.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be positive"))
	}
	if err := tokencache.ValidateHeader(cfg.Header); err != nil {
		errs = append(errs, fmt.Errorf("header: %w", err))
	}
	if err := tokencache.ValidateScheme(cfg.Scheme); err != nil {
		errs = append(errs, fmt.Errorf("scheme: %w", err))
	}
	if cfg.Server.HasValue() {
		errs = append(errs, cfg.Server.Get().validate())
	}
	return errors.Join(errs...)
}

func (m *ManagedIdentityConfig) validate() error {
	var set []string
	for _, kv := range [][2]string{{"client_id", m.ClientID}, {"resource_id", m.ResourceID}, {"object_id", m.ObjectID}} {
		if kv[1] != "" {
			set = append(set, kindManagedIdentity+"::"+kv[0])
		}
	}
	if len(set) > 1 {
		return fmt.Errorf("%s: set at most one id of a user-assigned identity (none means system-assigned)", strings.Join(set, " and "))
	}
	return nil
}

func (w *WorkloadIdentityConfig) validate() error {
	return errors.Join(
		checkTenant(kindWorkloadIdentity+"::tenant_id", w.TenantID, true),
		checkID(kindWorkloadIdentity+"::client_id", w.ClientID, true),
	)
}

func (sp *ServicePrincipalConfig) validate() error {
	const p = kindServicePrincipal + "::"
	errs := []error{
		checkTenant(p+"tenant_id", sp.TenantID, false),
		checkID(p+"client_id", sp.ClientID, false),
	}
	switch {
	case sp.ClientSecret != "" && sp.ClientCertificatePath != "":
		errs = append(errs, errors.New(p+"client_secret and "+p+"client_certificate_path: set only one of them"))
	case sp.ClientSecret == "" && sp.ClientCertificatePath == "":
		errs = append(errs, errors.New(p+"client_secret or "+p+"client_certificate_path: one is required"))
	}
	if sp.ClientCertificatePassword != "" && sp.ClientCertificatePath == "" {
		errs = append(errs, errors.New(p+"client_certificate_password: only used with "+p+"client_certificate_path"))
	}
	if sp.SendCertificateChain && sp.ClientCertificatePath == "" {
		errs = append(errs, errors.New(p+"send_certificate_chain: only used with "+p+"client_certificate_path"))
	}
	return errors.Join(errs...)
}

func (cfg *Config) validateScopes() error {
	if !cfg.isClient() {
		return nil
	}
	var errs []error
	if len(cfg.Scopes) == 0 {
		errs = append(errs, errors.New("scopes: at least one scope is required"))
	}
	for i, s := range cfg.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"'") {
			errs = append(errs, fmt.Errorf("scopes[%d]: %q is not a valid scope (no spaces or quotes)", i, s))
		}
	}
	if len(cfg.Scopes) > 1 && (cfg.ManagedIdentity.HasValue() || cfg.AzureCLI.HasValue()) {
		errs = append(errs, fmt.Errorf("scopes: %s takes exactly one scope, found %d", cfg.kinds()[0], len(cfg.Scopes)))
	}
	return errors.Join(errs...)
}

func (cfg *Config) validateAuthority() error {
	if cfg.Cloud != "" && cfg.AuthorityHost != "" {
		return errors.New("cloud and authority_host: set only one of them")
	}
	if cfg.Cloud != "" {
		if _, ok := cloudByName(cfg.Cloud); !ok {
			return fmt.Errorf("cloud: %q is not one of %s, %s, %s (use authority_host for another cloud)", cfg.Cloud, cloudPublic, cloudGovernment, cloudChina)
		}
	}
	if cfg.AuthorityHost != "" {
		u, err := url.Parse(cfg.AuthorityHost)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("authority_host: %q must be an https URL like https://login.example.com/", cfg.AuthorityHost)
		}
	}
	return nil
}

func (s *ServerConfig) validate() error {
	const p = "server::"
	var errs []error
	switch {
	case s.Issuer != "" && s.TenantID != "":
		errs = append(errs, errors.New(p+"issuer and "+p+"tenant_id: set only one of them"))
	case s.Issuer == "" && s.TenantID == "":
		errs = append(errs, errors.New(p+"issuer or "+p+"tenant_id: one is required"))
	case s.Issuer != "":
		if u, err := url.Parse(s.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf(p+"issuer: %q must be an https URL", s.Issuer))
		}
	default:
		errs = append(errs, checkServerTenant(p+"tenant_id", s.TenantID))
		if isMultiTenant(s.TenantID) && len(s.AllowedTenants) == 0 {
			errs = append(errs, fmt.Errorf(p+"allowed_tenants: required when "+p+"tenant_id is %q (list the tenants whose tokens are accepted)", s.TenantID))
		}
	}
	if len(s.Audiences) == 0 {
		errs = append(errs, errors.New(p+"audiences: at least one audience is required"))
	}
	for i, a := range s.Audiences {
		if a == "" {
			errs = append(errs, fmt.Errorf(p+"audiences[%d]: must not be empty", i))
		}
	}
	for i, t := range s.AllowedTenants {
		if t == "" || isMultiTenant(t) || t == "*" {
			errs = append(errs, fmt.Errorf(p+"allowed_tenants[%d]: %q is not a tenant id", i, t))
			continue
		}
		if !isGUID(t) {
			errs = append(errs, fmt.Errorf(p+"allowed_tenants[%d]: %q is not a tenant id: tokens carry the directory (tenant) id, a GUID, never a domain name", i, t))
		}
	}
	for i, r := range s.RequiredRoles {
		if r == "" {
			errs = append(errs, fmt.Errorf(p+"required_roles[%d]: must not be empty", i))
		}
	}
	for i, sc := range s.RequiredScopes {
		if sc == "" || strings.ContainsAny(sc, " \t") {
			errs = append(errs, fmt.Errorf(p+"required_scopes[%d]: %q must be one scope name without spaces", i, sc))
		}
	}
	errs = append(errs, jwtauth.ValidateSettings(p, s.ClockSkew, s.KeysRefreshInterval, s.KeysMinRefetchInterval, s.TokenCacheSize))
	return errors.Join(errs...)
}

func isMultiTenant(t string) bool {
	return strings.EqualFold(t, "organizations") || strings.EqualFold(t, "common")
}

// checkTenant accepts what azidentity accepts as a tenant id: letters, digits,
// '-' and '.' (a GUID or a domain name).
func checkTenant(key, v string, optional bool) error {
	if v == "" {
		if optional {
			return nil
		}
		return fmt.Errorf("%s: required", key)
	}
	for _, r := range v {
		if !isAlnum(r) && r != '-' && r != '.' {
			return fmt.Errorf("%s: %q is not a valid tenant id (letters, digits, '-' and '.' only)", key, v)
		}
	}
	return nil
}

// checkServerTenant accepts a tenant GUID, organizations/common, or a domain
// name of the tenant (contoso.onmicrosoft.com), whose tenant id is then read
// from the discovery document's issuer.
func checkServerTenant(key, v string) error {
	if v == "" {
		return fmt.Errorf("%s: required", key)
	}
	if isGUID(v) || isMultiTenant(v) || isDomainName(v) {
		return nil
	}
	return fmt.Errorf("%s: %q is neither a tenant id (a GUID), \"organizations\"/\"common\", nor a domain name of the tenant like contoso.onmicrosoft.com", key, v)
}

// isGUID reports whether v has the 8-4-4-4-12 hexadecimal form of a tenant id.
func isGUID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// isDomainName reports whether v is a DNS name of at least two labels
// (letters, digits and inner hyphens, 1 to 63 bytes each).
func isDomainName(v string) bool {
	if len(v) > 253 {
		return false
	}
	labels := strings.Split(v, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !isAlnum(r) && r != '-' {
				return false
			}
		}
	}
	return true
}

// checkID accepts a client id (a GUID, but any printable value without
// spaces is passed on).
func checkID(key, v string, optional bool) error {
	if v == "" {
		if optional {
			return nil
		}
		return fmt.Errorf("%s: required", key)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= 0x20 || c > 0x7e {
			return fmt.Errorf("%s: must be printable ASCII without spaces", key)
		}
	}
	return nil
}

func isAlnum(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}
