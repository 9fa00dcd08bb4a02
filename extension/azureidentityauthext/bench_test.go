package azureidentityauthext

// Client benchmarks side by side in one run: our RoundTripper /
// GetRequestMetadata (served from the tokencache handle) vs the design
// contrib's azure_auth extension uses (every request calls
// credential.GetToken, served from azidentity's own cache) vs the bearerauth
// extension's client path (same core, static token), with floor rows. The
// server validator against go-oidc lives in the bench module
// (bench/authbench, BenchmarkServerValidate).
//
// Run: go test ./extension/azureidentityauthext/ -run '^$' -bench . -benchmem -count 6

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"google.golang.org/grpc/credentials"

	"github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"
	"github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"
	"github.com/otelcol-custom/otelcol-custom/internal/statustest"
)

// perRequestRT is the design contrib's azure_auth extension uses: clone the
// request, ask the credential for a token (azidentity serves its cache), set
// the header.
type perRequestRT struct {
	base   http.RoundTripper
	cred   azcore.TokenCredential
	scopes []string
}

func (rt *perRequestRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r2 := req.Clone(req.Context())
	at, err := rt.cred.GetToken(r2.Context(), policy.TokenRequestOptions{Scopes: rt.scopes})
	if err != nil {
		return nil, err
	}
	r2.Header.Set("Authorization", fmt.Sprintf("Bearer %s", at.Token))
	return rt.base.RoundTrip(r2)
}

// perRequestCreds is the same design for gRPC (contrib has no gRPC client):
// a token and a new metadata map on every call.
type perRequestCreds struct {
	cred   azcore.TokenCredential
	scopes []string
}

func (c *perRequestCreds) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	at, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: c.scopes})
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + at.Token}, nil
}

func (*perRequestCreds) RequireTransportSecurity() bool { return true }

type clientPeers struct {
	ours, contrib, bearer http.RoundTripper
	oursMD, contribMD     credentials.PerRPCCredentials
	bearerMD              credentials.PerRPCCredentials
	base                  http.RoundTripper
	token                 string
}

// benchBases are the bases the RoundTrippers are benchmarked over; neither
// touches the network:
//   - transport: the base confighttp gives an auth RoundTripper, a real
//     *http.Transport whose network part answers at once. Its own work
//     (validating every header byte, the token included) is in the figures,
//     for every peer alike.
//   - middleware: any other base (the auth layer alone, nothing under it);
//     ours then copies the header map per request (see authclient).
func benchBases() []struct {
	name string
	rt   http.RoundTripper
} {
	r := authclienttest.Responder{Response: &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody}}
	return []struct {
		name string
		rt   http.RoundTripper
	}{{"transport", authclienttest.NewTransport(r)}, {"middleware", r}}
}

// setupClientPeers builds the three clients over base against one fake
// authority with a one-hour token lifetime (so azidentity serves its cache,
// as in production). bearerauth sends the same token as ours, so that both
// have the same floor.
func setupClientPeers(b *testing.B, base http.RoundTripper) clientPeers {
	f, ca := testEntra(b)
	f.AddClientSecret(tenantA, clientA, secretA)
	f.SetTokenLifetime(time.Hour)

	cfg := clientConfig(f, ca)
	cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{TenantID: tenantA, ClientID: clientA, ClientSecret: secretA})
	ext, _, _ := started(b, cfg)
	_, err := ext.handle.Wait(context.Background())
	require.NoError(b, err)
	var p clientPeers
	p.ours, err = ext.RoundTripper(base)
	require.NoError(b, err)
	p.oursMD, err = ext.PerRPCCredentials()
	require.NoError(b, err)

	cred, err := azidentity.NewClientSecretCredential(tenantA, clientA, secretA, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: f.AuthorityHost()},
			Transport: f.HTTPClient(),
		},
		DisableInstanceDiscovery: true,
	})
	require.NoError(b, err)
	scopes := []string{defaultScope}
	_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: scopes}) // warm azidentity's cache
	require.NoError(b, err)
	p.contrib = &perRequestRT{base: base, cred: cred, scopes: scopes}
	p.contribMD = &perRequestCreds{cred: cred, scopes: scopes}

	bf := bearerauthext.NewFactory()
	bcfg := bf.CreateDefaultConfig().(*bearerauthext.Config)
	bcfg.Token = configopaque.String(ext.handle.Current().Token.Value)
	bext, err := bf.Create(context.Background(), extensiontest.NewNopSettings(bf.Type()), bcfg)
	require.NoError(b, err)
	require.NoError(b, bext.Start(context.Background(), statustest.NewHost()))
	b.Cleanup(func() { require.NoError(b, bext.Shutdown(context.Background())) })
	type clients interface {
		RoundTripper(http.RoundTripper) (http.RoundTripper, error)
		PerRPCCredentials() (credentials.PerRPCCredentials, error)
	}
	p.bearer, err = bext.(clients).RoundTripper(base)
	require.NoError(b, err)
	p.bearerMD, err = bext.(clients).PerRPCCredentials()
	require.NoError(b, err)
	// bearerauth publishes its first token in the background too.
	_, err = p.bearerMD.GetRequestMetadata(context.Background())
	require.NoError(b, err)
	p.base, p.token = base, ext.handle.Current().HeaderValue()
	return p
}

func BenchmarkClientRoundTripper(b *testing.B) {
	for _, base := range benchBases() {
		p := setupClientPeers(b, base.rt)
		req, err := http.NewRequest(http.MethodPost, "https://ingest.example/v1/traces", http.NoBody)
		require.NoError(b, err)
		req.Header.Set("Content-Type", "application/x-protobuf")
		prepared := req.Clone(context.Background())
		prepared.Header.Set("Authorization", p.token)
		for _, peer := range []struct {
			name string
			rt   http.RoundTripper
		}{
			{"ours", p.ours}, {"contrib_design", p.contrib}, {"bearerauth", p.bearer},
			{"floor", authclienttest.Floor{Base: p.base, Prepared: prepared}},
			{"copy_floor", authclienttest.CopyFloor{Base: p.base, Header: prepared.Header}},
		} {
			name := "base=" + base.name + "/" + peer.name
			b.Run(name+"/serial", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := peer.rt.RoundTrip(req); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(name+"/parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := peer.rt.RoundTrip(req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

func BenchmarkClientGetRequestMetadata(b *testing.B) {
	p := setupClientPeers(b, benchBases()[0].rt)
	ctx := context.Background()
	for _, peer := range []struct {
		name  string
		creds credentials.PerRPCCredentials
	}{{"ours", p.oursMD}, {"contrib_design", p.contribMD}, {"bearerauth", p.bearerMD}} {
		b.Run(peer.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := peer.creds.GetRequestMetadata(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(peer.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := peer.creds.GetRequestMetadata(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
