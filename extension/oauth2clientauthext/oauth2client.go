package oauth2clientauthext // import "github.com/otelcol-custom/otelcol-custom/extension/oauth2clientauthext"

import (
	"context"
	"net/http"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.uber.org/zap"
	"google.golang.org/grpc/credentials"

	"github.com/otelcol-custom/otelcol-custom/internal/authclient"
	"github.com/otelcol-custom/otelcol-custom/internal/filewatch"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

var (
	_ extension.Extension      = (*oauth2Client)(nil)
	_ extensionauth.HTTPClient = (*oauth2Client)(nil)
	_ extensionauth.GRPCClient = (*oauth2Client)(nil)
)

// oauth2Client is the extension: a tokenSource behind the shared refresher,
// and the watchers of its files. Requests only read the refresher's Handle.
type oauth2Client struct {
	cfg       *Config
	set       extension.Settings
	src       *tokenSource
	refresher *tokencache.Refresher
	handle    *tokencache.Handle
	// policy is shared by every adapter of the extension: the credential
	// stays on the configured endpoint's host on a redirect, and each
	// plaintext warning is logged once.
	policy *authclient.Policy

	transport *http.Transport
	watchers  []*filewatch.Watcher
	stop      chan struct{}
	wg        sync.WaitGroup
}

func newExtension(cfg *Config, set extension.Settings) (*oauth2Client, error) {
	src := newTokenSource(cfg)
	r, err := tokencache.New(src, cfg.Refresh, tokencache.Settings{
		ID:        set.ID,
		Telemetry: set.TelemetrySettings,
		Kind:      cfg.GrantType,
		Scheme:    "Bearer",
	})
	if err != nil {
		return nil, err
	}
	src.invalidate = r.Handle().Invalidate
	return &oauth2Client{
		cfg: cfg, set: set, src: src, refresher: r, handle: r.Handle(),
		policy: authclient.NewPolicy(set.Logger, cfg.SendCredentialOnRedirect),
		stop:   make(chan struct{}),
	}, nil
}

// Start loads the tls settings (an invalid CA or client certificate fails
// startup), watches the configured files and starts the refresher. It never
// waits for the identity provider, and a missing file is only an error of the
// token requests, retried in the background.
func (e *oauth2Client) Start(ctx context.Context, host component.Host) error {
	var err error
	if e.transport, err = authclient.IdPTransport(ctx, e.set.ID, e.cfg.TLS); err != nil {
		return err
	}
	e.src.client = &http.Client{
		Transport: e.transport,
		// A token endpoint never redirects legitimately, and following a
		// 307/308 would post the client secret or assertion to the new URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	for _, f := range e.src.files() {
		f.w = filewatch.New(f.path, e.set.Logger, filewatch.Options{})
		if err := f.w.Start(); err != nil {
			e.set.Logger.Warn("cannot watch the file's directory for changes yet; it is still read for every token request",
				zap.String("key", f.key), zap.String("path", f.path), zap.Error(err))
		}
		e.watchers = append(e.watchers, f.w)
	}
	if len(e.watchers) > 0 {
		e.wg.Add(1)
		go e.watch()
	}
	e.set.Logger.Info("OAuth2 client configured",
		zap.String("token_url", e.cfg.TokenURL), zap.String("client_id", e.cfg.ClientID),
		zap.String("grant_type", e.cfg.GrantType), zap.String("client_auth", e.clientAuth()),
		zap.Strings("scopes", e.cfg.Scopes))
	return e.refresher.Start(ctx, host)
}

// watch asks the refresher for an early fetch when a watched file changes
// while fetches are failing (a rotated secret or subject token is what they
// were waiting for). Otherwise a change needs nothing: the next token request
// reads the file anyway, and the current token stays valid.
func (e *oauth2Client) watch() {
	defer e.wg.Done()
	// At most three files (a secret or key file, and a subject token file);
	// a nil channel never receives.
	var ch [3]<-chan struct{}
	for i, w := range e.watchers {
		ch[i] = w.C()
	}
	for {
		select {
		case <-e.stop:
			return
		case <-ch[0]:
		case <-ch[1]:
		case <-ch[2]:
		}
		e.src.fileChanged()
	}
}

func (e *oauth2Client) clientAuth() string {
	switch {
	case e.cfg.PrivateKeyJWT != nil:
		return "private_key_jwt"
	case e.cfg.hasSecret() && e.cfg.ClientAuthMethod != "":
		return e.cfg.ClientAuthMethod
	case e.cfg.hasSecret():
		return "client_secret (basic, or post if refused)"
	}
	return "none"
}

// Shutdown stops the refresher (also during a hanging token request) and the
// file watchers.
func (e *oauth2Client) Shutdown(ctx context.Context) error {
	err := e.refresher.Shutdown(ctx)
	select {
	case <-e.stop:
	default:
		close(e.stop)
	}
	e.wg.Wait()
	for _, w := range e.watchers {
		w.Stop()
	}
	if e.transport != nil {
		e.transport.CloseIdleConnections()
	}
	return err
}

// RoundTripper implements extensionauth.HTTPClient.
func (e *oauth2Client) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	return authclient.NewRoundTripper(base, e.handle, authclient.WithPolicy(e.policy)), nil
}

// PerRPCCredentials implements extensionauth.GRPCClient.
func (e *oauth2Client) PerRPCCredentials() (credentials.PerRPCCredentials, error) {
	return authclient.NewPerRPCCredentials(e.handle, e.cfg.RequireTransportSecurity, authclient.WithPolicy(e.policy)), nil
}
