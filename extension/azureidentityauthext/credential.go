package azureidentityauthext // import "github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// Environment variables the AKS workload identity webhook injects.
const (
	envTenantID           = "AZURE_TENANT_ID"
	envClientID           = "AZURE_CLIENT_ID"
	envFederatedTokenFile = "AZURE_FEDERATED_TOKEN_FILE"
	// envAuthorityHost is set by the webhook in sovereign clouds (and
	// honoured by azidentity itself when Cloud is left empty).
	envAuthorityHost = "AZURE_AUTHORITY_HOST"
)

func cloudByName(name string) (cloud.Configuration, bool) {
	switch {
	case name == "" || strings.EqualFold(name, cloudPublic):
		return cloud.AzurePublic, true
	case strings.EqualFold(name, cloudGovernment):
		return cloud.AzureGovernment, true
	case strings.EqualFold(name, cloudChina):
		return cloud.AzureChina, true
	}
	return cloud.Configuration{}, false
}

// authorityHost is the Entra ID authority of the configuration, with a
// trailing slash: authority_host, else cloud, else $AZURE_AUTHORITY_HOST,
// else the public cloud.
func (cfg *Config) authorityHost() string {
	if cfg.AuthorityHost != "" {
		return strings.TrimSuffix(cfg.AuthorityHost, "/") + "/"
	}
	if env := os.Getenv(envAuthorityHost); cfg.Cloud == "" && env != "" {
		return strings.TrimSuffix(env, "/") + "/"
	}
	c, _ := cloudByName(cfg.Cloud)
	return c.ActiveDirectoryAuthorityHost
}

// checkEnvAuthority refuses an $AZURE_AUTHORITY_HOST that would be used and
// is not an https URL, naming the variable (it is read at Start, not at
// config load).
func (cfg *Config) checkEnvAuthority() error {
	env := os.Getenv(envAuthorityHost)
	if cfg.AuthorityHost != "" || cfg.Cloud != "" || env == "" {
		return nil
	}
	if u, err := url.Parse(env); err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("$%s: %q must be an https URL like https://login.microsoftonline.us/ (or set cloud or authority_host, which take precedence)", envAuthorityHost, env)
	}
	return nil
}

// clientOptions are the azcore options every credential gets: the authority,
// the transport (trusting tls::*), and no retries inside azidentity: the
// tokencache Refresher retries with backoff and jitter, and an inner retry
// loop would only hide failures and stretch a fetch beyond the timeout.
func (cfg *Config) clientOptions(transport *http.Client) azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: cfg.authorityHost(),
			Services:                     map[cloud.ServiceName]cloud.ServiceConfiguration{},
		},
		Transport: transport,
		Retry:     policy.RetryOptions{MaxRetries: -1, TryTimeout: cfg.Timeout},
		Telemetry: policy.TelemetryOptions{Disabled: true},
	}
}

// credentialInfo describes the configured credential for errors and logs:
// the kind and the tenant/client ids, never a secret.
type credentialInfo struct {
	kind     string
	tenantID string
	clientID string
	detail   string // e.g. "system-assigned", "resource_id=..."
}

func (ci credentialInfo) String() string {
	var parts []string
	if ci.tenantID != "" {
		parts = append(parts, "tenant_id="+ci.tenantID)
	}
	if ci.clientID != "" {
		parts = append(parts, "client_id="+ci.clientID)
	}
	if ci.detail != "" {
		parts = append(parts, ci.detail)
	}
	if len(parts) == 0 {
		return ci.kind
	}
	return ci.kind + " (" + strings.Join(parts, ", ") + ")"
}

// newCredential builds the azidentity credential of the configured kind.
// Errors name the kind and key; values that default from the environment are
// resolved here, at Start.
func (cfg *Config) newCredential(transport *http.Client) (azcore.TokenCredential, credentialInfo, error) {
	if err := cfg.checkEnvAuthority(); err != nil {
		return nil, credentialInfo{}, err
	}
	opts := cfg.clientOptions(transport)
	switch {
	case cfg.ManagedIdentity.HasValue():
		return newManagedIdentity(cfg.ManagedIdentity.Get(), opts)
	case cfg.WorkloadIdentity.HasValue():
		return cfg.newWorkloadIdentity(opts)
	case cfg.ServicePrincipal.HasValue():
		return cfg.newServicePrincipal(opts)
	case cfg.Default.HasValue():
		ci := credentialInfo{kind: kindDefault, tenantID: cfg.Default.Get().TenantID}
		c, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions:              opts,
			AdditionallyAllowedTenants: cfg.AdditionallyAllowedTenants,
			DisableInstanceDiscovery:   cfg.DisableInstanceDiscovery,
			TenantID:                   cfg.Default.Get().TenantID,
		})
		return c, ci, wrapInit(ci, err)
	case cfg.AzureCLI.HasValue():
		ci := credentialInfo{kind: kindAzureCLI, tenantID: cfg.AzureCLI.Get().TenantID}
		c, err := azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{
			AdditionallyAllowedTenants: cfg.AdditionallyAllowedTenants,
			Subscription:               cfg.AzureCLI.Get().Subscription,
			TenantID:                   cfg.AzureCLI.Get().TenantID,
		})
		return c, ci, wrapInit(ci, err)
	}
	return nil, credentialInfo{}, errors.New("no credential kind configured")
}

func newManagedIdentity(mi *ManagedIdentityConfig, opts azcore.ClientOptions) (azcore.TokenCredential, credentialInfo, error) {
	ci := credentialInfo{kind: kindManagedIdentity, detail: "system-assigned"}
	o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
	switch {
	case mi.ClientID != "":
		o.ID, ci.clientID, ci.detail = azidentity.ClientID(mi.ClientID), mi.ClientID, ""
	case mi.ResourceID != "":
		o.ID, ci.detail = azidentity.ResourceID(mi.ResourceID), "resource_id="+mi.ResourceID
	case mi.ObjectID != "":
		o.ID, ci.detail = azidentity.ObjectID(mi.ObjectID), "object_id="+mi.ObjectID
	}
	c, err := azidentity.NewManagedIdentityCredential(o)
	return c, ci, wrapInit(ci, err)
}

func (cfg *Config) newWorkloadIdentity(opts azcore.ClientOptions) (azcore.TokenCredential, credentialInfo, error) {
	w := *cfg.WorkloadIdentity.Get()
	var missing []string
	fill := func(v *string, env, key string) {
		if *v == "" {
			*v = os.Getenv(env)
		}
		if *v == "" {
			missing = append(missing, fmt.Sprintf("%s::%s (or $%s)", kindWorkloadIdentity, key, env))
		}
	}
	fill(&w.TenantID, envTenantID, "tenant_id")
	fill(&w.ClientID, envClientID, "client_id")
	fill(&w.TokenFile, envFederatedTokenFile, "token_file")
	ci := credentialInfo{kind: kindWorkloadIdentity, tenantID: w.TenantID, clientID: w.ClientID}
	if len(missing) > 0 {
		return nil, ci, fmt.Errorf("%s: not set: %s; on AKS, label the pod azure.workload.identity/use=true and give it a service account annotated with azure.workload.identity/client-id",
			ci, strings.Join(missing, ", "))
	}
	if err := checkTenant(kindWorkloadIdentity+"::tenant_id", w.TenantID, false); err != nil {
		return nil, ci, err
	}
	c, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions:              opts,
		AdditionallyAllowedTenants: cfg.AdditionallyAllowedTenants,
		DisableInstanceDiscovery:   cfg.DisableInstanceDiscovery,
		TenantID:                   w.TenantID,
		ClientID:                   w.ClientID,
		TokenFilePath:              w.TokenFile,
	})
	return c, ci, wrapInit(ci, err)
}

func (cfg *Config) newServicePrincipal(opts azcore.ClientOptions) (azcore.TokenCredential, credentialInfo, error) {
	sp := cfg.ServicePrincipal.Get()
	ci := credentialInfo{kind: kindServicePrincipal, tenantID: sp.TenantID, clientID: sp.ClientID}
	if sp.ClientSecret != "" {
		c, err := azidentity.NewClientSecretCredential(sp.TenantID, sp.ClientID, string(sp.ClientSecret),
			&azidentity.ClientSecretCredentialOptions{
				ClientOptions:              opts,
				AdditionallyAllowedTenants: cfg.AdditionallyAllowedTenants,
				DisableInstanceDiscovery:   cfg.DisableInstanceDiscovery,
			})
		return c, ci, wrapInit(ci, err)
	}
	data, err := os.ReadFile(sp.ClientCertificatePath)
	if err != nil {
		return nil, ci, fmt.Errorf("%s: %s::client_certificate_path: %w", ci, kindServicePrincipal, err)
	}
	var password []byte
	if sp.ClientCertificatePassword != "" {
		password = []byte(sp.ClientCertificatePassword)
	}
	certs, key, err := azidentity.ParseCertificates(data, password)
	if err != nil {
		// ParseCertificates' errors describe the file, not the password.
		return nil, ci, fmt.Errorf("%s: %s::client_certificate_path %q: %w (PEM needs the certificate and an unencrypted private key; PKCS#12 needs legacy 3DES/SHA1 encryption, see the README)",
			ci, kindServicePrincipal, sp.ClientCertificatePath, err)
	}
	c, err := azidentity.NewClientCertificateCredential(sp.TenantID, sp.ClientID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{
			ClientOptions:              opts,
			AdditionallyAllowedTenants: cfg.AdditionallyAllowedTenants,
			DisableInstanceDiscovery:   cfg.DisableInstanceDiscovery,
			SendCertificateChain:       sp.SendCertificateChain,
		})
	return c, ci, wrapInit(ci, err)
}

func wrapInit(ci credentialInfo, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", ci, err)
}

// credentialSource is the tokencache.Source of the extension: one GetToken
// through azidentity per refresh. It runs only on the Refresher goroutine.
type credentialSource struct {
	cred    azcore.TokenCredential
	opts    policy.TokenRequestOptions
	timeout time.Duration
	info    credentialInfo
	// rebuild makes a new credential with an empty token cache (nil: not
	// possible for this kind).
	rebuild func() (azcore.TokenCredential, error)
	last    string // the token returned by the previous Fetch
}

var _ tokencache.Source = (*credentialSource)(nil)

// Fetch gets a token. When it gets the token it already has (azidentity's
// cache answered an early refresh), the credential is rebuilt once so that
// the Refresher, not that cache, decides when a token is replaced
// (docs/design.md, "azidentity's token cache").
func (s *credentialSource) Fetch(ctx context.Context) (tokencache.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	at, err := s.cred.GetToken(ctx, s.opts)
	if err != nil {
		return tokencache.Token{}, fetchError(ctx, s.info, s.opts.Scopes, err)
	}
	if at.Token == s.last && s.rebuild != nil {
		if fresh, rerr := s.rebuild(); rerr == nil {
			if at2, ferr := fresh.GetToken(ctx, s.opts); ferr == nil {
				s.cred, at = fresh, at2
			}
		}
	}
	s.last = at.Token
	return tokencache.Token{Value: at.Token, Expiry: at.ExpiresOn, RefreshAt: at.RefreshOn}, nil
}

// fetchError names the credential (kind, tenant, client id) and the scopes,
// and wraps azidentity's error, which carries Entra's response and no secret
// (docs/design.md, "azidentity's token cache").
func fetchError(ctx context.Context, info credentialInfo, scopes []string, err error) error {
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("%s: token request for %s timed out: %w", info, strings.Join(scopes, " "), err)
	}
	return fmt.Errorf("%s: token request for %s failed: %w", info, strings.Join(scopes, " "), err)
}
