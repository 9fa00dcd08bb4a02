package authbench

import (
	"context"
	"crypto"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensionauth"

	"github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"
	"github.com/otelcol-custom/otelcol-custom/internal/fakeentra"
	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
)

// The azureidentityauth server against a plain go-oidc verifier, validating
// one valid Entra v2 token with the signing keys already fetched. Run:
//
//	cd bench && go test -run '^$' -bench ServerValidate -benchmem -count 6 -benchtime 200ms ./authbench/

const (
	entraTenant   = "aaaaaaaa-0000-4000-8000-00000000000a"
	entraClient   = "c11e0000-0000-4000-8000-0000000000c1"
	entraAudience = "api://otel-gateway"
)

// azureServer starts an azureidentityauth server against f, configured as a
// user would (from its YAML keys), and waits until it accepts tok.
func azureServer(b *testing.B, f *fakeentra.Server, caFile string, cacheSize int, tok string) extensionauth.Server {
	return acceptingServer(b, azureidentityauthext.NewFactory(), map[string]any{
		"authority_host": f.AuthorityHost(),
		"tls":            map[string]any{"ca_file": caFile},
		"timeout":        "5s",
		"server": map[string]any{
			"tenant_id":                 entraTenant,
			"audiences":                 []any{entraAudience},
			"keys_min_refetch_interval": "1s",
			"token_cache_size":          cacheSize,
		},
	}, tok)
}

// BenchmarkServerValidate: ours_cached is the steady state (the same token on
// every request); ours_uncached verifies the signature every time, like
// go-oidc.
func BenchmarkServerValidate(b *testing.B) {
	f, ca := fakeoidc.Start(b, fakeentra.New)
	tok, err := f.IssueToken(fakeentra.TokenClaims{Tenant: entraTenant, Audience: entraAudience, AppID: entraClient, Roles: []string{"Telemetry.Write"}})
	require.NoError(b, err)
	headers := map[string][]string{"Authorization": {"Bearer " + tok}}

	cached := azureServer(b, f, ca, 4096, tok)
	uncached := azureServer(b, f, ca, 0, tok)
	verifier := oidc.NewVerifier(f.Issuer(entraTenant),
		&oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{f.CurrentPublicKey()}},
		&oidc.Config{ClientID: entraAudience, SupportedSigningAlgs: []string{oidc.RS256}})
	authenticate := func(srv extensionauth.Server) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := srv.Authenticate(ctx, headers)
			return err
		}
	}
	for _, peer := range []struct {
		name string
		auth func(context.Context) error
	}{
		{"ours_cached", authenticate(cached)},
		{"ours_uncached", authenticate(uncached)},
		{"go-oidc", func(ctx context.Context) error {
			_, err := verifier.Verify(ctx, headers["Authorization"][0][len("Bearer "):])
			return err
		}},
	} {
		ctx := context.Background()
		require.NoError(b, peer.auth(ctx), peer.name)
		b.Run("impl="+peer.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := peer.auth(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("impl="+peer.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := peer.auth(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
