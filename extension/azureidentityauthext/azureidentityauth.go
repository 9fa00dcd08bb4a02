package azureidentityauthext // import "github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.uber.org/zap"
	"google.golang.org/grpc/credentials"

	"github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/authclient"
	"github.com/otelcol-custom/otelcol-custom/internal/jwtauth"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// azureIdentityAuth is the extension. Its client side is a tokencache
// Refresher over an azidentity credential; its server side a validator over
// a background-refreshed key set.
type azureIdentityAuth struct {
	cfg    *Config
	set    extension.Settings
	logger *zap.Logger
	tb     *metadata.TelemetryBuilder

	// client side (nil when no credential kind is configured)
	src       *credentialSource
	refresher *tokencache.Refresher
	handle    *tokencache.Handle
	scopeSet  []string // configured scopes, sorted
	other     atomic.Pointer[scopeCache]
	policy    *authclient.Policy

	// server side (set by Start when server is configured)
	keys      *keySet
	validator atomic.Pointer[validator]

	transport *http.Transport
}

var (
	_ extension.Extension      = (*azureIdentityAuth)(nil)
	_ extensionauth.HTTPClient = (*azureIdentityAuth)(nil)
	_ extensionauth.GRPCClient = (*azureIdentityAuth)(nil)
	_ extensionauth.Server     = (*azureIdentityAuth)(nil)
	_ azcore.TokenCredential   = (*azureIdentityAuth)(nil)
)

func newExtension(cfg *Config, set extension.Settings) (*azureIdentityAuth, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	e := &azureIdentityAuth{cfg: cfg, set: set, logger: set.Logger, tb: tb,
		policy: authclient.NewPolicy(set.Logger, cfg.SendCredentialOnRedirect)}
	if kinds := cfg.kinds(); len(kinds) == 1 {
		e.src = &credentialSource{
			opts:    policy.TokenRequestOptions{Scopes: slices.Clone(cfg.Scopes)},
			timeout: cfg.Timeout,
			info:    credentialInfo{kind: kinds[0]},
		}
		e.refresher, err = tokencache.New(e.src, cfg.Refresh, tokencache.Settings{
			ID:        set.ID,
			Telemetry: set.TelemetrySettings,
			Kind:      kinds[0],
			Header:    cfg.Header,
			Scheme:    cfg.Scheme,
		})
		if err != nil {
			tb.Shutdown()
			return nil, err
		}
		e.handle = e.refresher.Handle()
		e.scopeSet = slices.Sorted(slices.Values(cfg.Scopes))
	}
	return e, nil
}

// Start builds the credential (resolving environment defaults; a missing
// value fails startup with a clear error) and starts the background refresh
// and key fetching. It never waits for Entra ID.
func (e *azureIdentityAuth) Start(ctx context.Context, host component.Host) error {
	var err error
	if e.transport, err = authclient.IdPTransport(ctx, e.set.ID, e.cfg.TLS); err != nil {
		return err
	}
	httpClient := &http.Client{Transport: e.transport}

	if e.src != nil {
		cred, info, err := e.cfg.newCredential(httpClient)
		if err != nil {
			return fmt.Errorf("%s: %w", e.set.ID, err)
		}
		e.src.cred, e.src.info = cred, info
		if !e.cfg.ManagedIdentity.HasValue() && !e.cfg.AzureCLI.HasValue() {
			// A new credential bypasses azidentity's cache, except for these
			// two kinds (docs/design.md, "azidentity's token cache").
			e.src.rebuild = func() (azcore.TokenCredential, error) {
				c, _, err := e.cfg.newCredential(httpClient)
				return c, err
			}
		}
		// Other scopes get a credential (and azidentity cache) of their own.
		other, _, err := e.cfg.newCredential(httpClient)
		if err != nil {
			return fmt.Errorf("%s: %w", e.set.ID, err)
		}
		e.other.Store(newScopeCache(other, info, e.cfg.Timeout, e.tb))
		e.logger.Info("Azure identity credential configured",
			zap.String("credential", info.String()), zap.Strings("scopes", e.cfg.Scopes))
		if err := e.refresher.Start(ctx, host); err != nil {
			return err
		}
	}
	if e.cfg.Server.HasValue() {
		if err := e.startServer(host, httpClient); err != nil {
			return err
		}
	}
	return nil
}

func (e *azureIdentityAuth) startServer(host component.Host, httpClient *http.Client) error {
	s := e.cfg.Server.Get()
	e.keys = entraKeys(jwtauth.KeySetConfig{Client: httpClient, Timeout: e.cfg.Timeout}, s, e.cfg.authorityHost(), e.logger)
	v, err := newValidator(s, e.keys, e.cfg.Header, e.cfg.Scheme, e.tb)
	if err != nil {
		return err
	}
	status := jwtauth.NewFetchStatus(host, func(_ string, err error) error {
		return fmt.Errorf("%s: fetching the token issuer's signing keys failed: %w", e.set.ID, err)
	})
	e.keys.SetOnFetch(jwtauth.OnFetch(jwtauth.FetchMetrics{
		Keys: e.tb.AzureidentityauthServerSigningKeys, Fetches: e.tb.AzureidentityauthServerSigningKeyFetches,
	}, v.InvalidateCache, func(err error) { status.Report("server", err) }))
	e.validator.Store(v)
	e.keys.Start()
	return nil
}

// Shutdown stops the refresher and key fetching, also during a hanging fetch.
func (e *azureIdentityAuth) Shutdown(ctx context.Context) error {
	var errs []error
	if e.refresher != nil {
		errs = append(errs, e.refresher.Shutdown(ctx))
	}
	if e.keys != nil {
		e.keys.Shutdown()
	}
	if e.transport != nil {
		e.transport.CloseIdleConnections()
	}
	e.tb.Shutdown()
	return errors.Join(errs...)
}

func (e *azureIdentityAuth) errNoClient() error {
	return fmt.Errorf("%s: no credential kind is configured (managed_identity, workload_identity, service_principal, default or azure_cli); this instance is a server only", e.set.ID)
}

// RoundTripper implements extensionauth.HTTPClient.
func (e *azureIdentityAuth) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	if e.handle == nil {
		return nil, e.errNoClient()
	}
	return authclient.NewRoundTripper(base, e.handle, authclient.WithPolicy(e.policy)), nil
}

// PerRPCCredentials implements extensionauth.GRPCClient.
func (e *azureIdentityAuth) PerRPCCredentials() (credentials.PerRPCCredentials, error) {
	if e.handle == nil {
		return nil, e.errNoClient()
	}
	return authclient.NewPerRPCCredentials(e.handle, e.cfg.RequireTransportSecurity, authclient.WithPolicy(e.policy)), nil
}

// Authenticate implements extensionauth.Server.
func (e *azureIdentityAuth) Authenticate(ctx context.Context, headers map[string][]string) (context.Context, error) {
	v := e.validator.Load()
	if v == nil {
		if !e.cfg.Server.HasValue() {
			return ctx, jwtauth.Refuse(reasonNotConfigured, "azureidentityauth: %s has no server block: it does not authenticate incoming requests", e.set.ID)
		}
		return ctx, jwtauth.Refuse(reasonNotConfigured, "azureidentityauth: %s is not started", e.set.ID)
	}
	return v.Authenticate(ctx, headers)
}

// GetToken implements azcore.TokenCredential, so Azure SDK clients can use the
// extension as their credential. A request for the configured scopes (any
// order) in the credential's own tenant is served from the background
// refresher's current token without I/O. Other scopes or tenants are fetched
// through azidentity and cached until shortly before they expire. A request
// carrying claims (a CAE or conditional access challenge) always goes to
// azidentity, and, for the configured scopes, also triggers an early refresh.
func (e *azureIdentityAuth) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if e.handle == nil {
		return azcore.AccessToken{}, e.errNoClient()
	}
	own := e.ownScopes(opts)
	if own && opts.Claims == "" {
		ent := e.handle.Current()
		if ent == nil {
			var err error
			if ent, err = e.handle.Wait(ctx); err != nil {
				return azcore.AccessToken{}, err
			}
		}
		return azcore.AccessToken{Token: ent.Token.Value, ExpiresOn: ent.Token.Expiry, RefreshOn: ent.Token.RefreshAt}, nil
	}
	sc := e.other.Load()
	if sc == nil {
		return azcore.AccessToken{}, fmt.Errorf("%s: extension is not started", e.set.ID)
	}
	if opts.Claims != "" {
		if own {
			e.handle.Invalidate()
		}
		return sc.fetch(ctx, opts)
	}
	return sc.get(ctx, opts)
}

// ownScopes reports whether opts asks for exactly the configured scopes in
// the credential's own tenant.
func (e *azureIdentityAuth) ownScopes(opts policy.TokenRequestOptions) bool {
	if opts.TenantID != "" && !strings.EqualFold(opts.TenantID, e.ownTenant()) {
		return false
	}
	if len(opts.Scopes) != len(e.scopeSet) {
		return false
	}
	if len(opts.Scopes) == 1 {
		return opts.Scopes[0] == e.scopeSet[0]
	}
	return slices.Equal(slices.Sorted(slices.Values(opts.Scopes)), e.scopeSet)
}

func (e *azureIdentityAuth) ownTenant() string {
	switch {
	case e.cfg.ServicePrincipal.HasValue():
		return e.cfg.ServicePrincipal.Get().TenantID
	case e.src != nil && e.src.info.tenantID != "":
		return e.src.info.tenantID
	}
	return ""
}
