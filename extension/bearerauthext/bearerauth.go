package bearerauthext // import "github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"google.golang.org/grpc/credentials"

	"github.com/otelcol-custom/otelcol-custom/extension/bearerauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/authclient"
)

var (
	_ extension.Extension      = (*bearerAuth)(nil)
	_ extensionauth.Server     = (*bearerAuth)(nil)
	_ extensionauth.HTTPClient = (*bearerAuth)(nil)
	_ extensionauth.GRPCClient = (*bearerAuth)(nil)
)

// bearerAuth is the extension: a client half, a server half, or both.
type bearerAuth struct {
	id     component.ID
	cfg    *Config
	tb     *metadata.TelemetryBuilder
	client *clientSide // nil unless token or token_file is set
	policy *authclient.Policy
	server *serverSide // nil unless tokens or tokens_file is set
	// authenticate is the server's Authenticate, or a refusal when this
	// instance has no server tokens.
	authenticate extensionauth.ServerAuthenticateFunc
}

func createExtension(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newBearerAuth(cfg.(*Config), set)
}

func newBearerAuth(cfg *Config, set extension.Settings) (*bearerAuth, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	b := &bearerAuth{id: set.ID, cfg: cfg, tb: tb, policy: authclient.NewPolicy(set.Logger, cfg.SendCredentialOnRedirect)}
	if cfg.isClient() {
		if b.client, err = newClientSide(cfg, set); err != nil {
			tb.Shutdown()
			return nil, err
		}
	}
	if cfg.isServer() {
		if b.server, err = newServerSide(cfg, set.Logger, tb); err != nil {
			tb.Shutdown()
			return nil, err
		}
		b.authenticate = b.server.auth.Authenticate
	} else {
		b.authenticate = newAuthenticator(cfg.Header, cfg.Scheme, tb).Authenticate
	}
	return b, nil
}

// Start loads tokens_file (an unreadable token list fails Start) and starts the
// client refresher, which never blocks Start: a missing token_file is waited
// for in the background.
func (b *bearerAuth) Start(ctx context.Context, host component.Host) error {
	if b.server != nil {
		if err := b.server.start(host); err != nil {
			return err
		}
	}
	if b.client != nil {
		return b.client.start(ctx, host)
	}
	return nil
}

// Shutdown stops the refresher and the file watchers.
func (b *bearerAuth) Shutdown(ctx context.Context) error {
	var err error
	if b.client != nil {
		err = b.client.shutdown(ctx)
	}
	if b.server != nil {
		b.server.shutdown()
	}
	b.tb.Shutdown()
	return err
}

// Authenticate implements extensionauth.Server.
func (b *bearerAuth) Authenticate(ctx context.Context, headers map[string][]string) (context.Context, error) {
	return b.authenticate(ctx, headers)
}

var errNoClientToken = errors.New("has no client token: set token or token_file to use it in a client's auth settings")

// RoundTripper implements extensionauth.HTTPClient.
func (b *bearerAuth) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	if b.client == nil {
		return nil, fmt.Errorf("%s %w", b.id, errNoClientToken)
	}
	return authclient.NewRoundTripper(base, b.client.handle(), authclient.WithPolicy(b.policy)), nil
}

// PerRPCCredentials implements extensionauth.GRPCClient.
func (b *bearerAuth) PerRPCCredentials() (credentials.PerRPCCredentials, error) {
	if b.client == nil {
		return nil, fmt.Errorf("%s %w", b.id, errNoClientToken)
	}
	return authclient.NewPerRPCCredentials(b.client.handle(), b.cfg.RequireTransportSecurity, authclient.WithPolicy(b.policy)), nil
}
