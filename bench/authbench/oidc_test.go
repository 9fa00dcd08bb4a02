package authbench

import (
	"context"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/oidcauthextension"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensionauth"

	"github.com/otelcol-custom/otelcol-custom/extension/oidcauthext"
	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
)

// The oidcauth server against contrib's oidcauthextension v0.165.1, both
// configured from their YAML keys against the same fake provider and
// validating the same RS256 access token, keys already fetched. Contrib has
// no validated-token cache: every call verifies the signature, as
// ours_uncached does. Run:
//
//	cd bench && go test -run '^$' -bench OIDCAuthenticate -benchmem -count 6 -benchtime 200ms ./authbench/

const oidcAudience = "otel-gateway"

func BenchmarkOIDCAuthenticate(b *testing.B) {
	f, ca := fakeoidc.Start(b, fakeoidc.New)
	now := time.Now()
	tok, err := f.CurrentKey().Sign(map[string]any{
		"iss": f.Issuer(), "sub": "collector-a", "aud": oidcAudience, "groups": []string{"ops"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(),
	})
	require.NoError(b, err)
	headers := map[string][]string{"Authorization": {"Bearer " + tok}}

	ours := func(cacheSize int) map[string]any {
		return map[string]any{
			"issuers": []any{map[string]any{"issuer_url": f.Issuer(), "audiences": []any{oidcAudience}}},
			"tls":     map[string]any{"ca_file": ca}, "token_cache_size": cacheSize,
		}
	}
	cached := acceptingServer(b, oidcauthext.NewFactory(), ours(4096), tok)
	uncached := acceptingServer(b, oidcauthext.NewFactory(), ours(0), tok)
	contrib := acceptingServer(b, oidcauthextension.NewFactory(), map[string]any{
		"providers": []any{map[string]any{"issuer_url": f.Issuer(), "audience": oidcAudience, "issuer_ca_path": ca, "groups_claim": "groups"}},
	}, tok)

	// floor_verify is the least an uncached validation does: parse the JWS
	// and check its RS256 signature with go-jose (no claims, no key lookup).
	floor := floorVerifier{pub: f.CurrentPublicKey()}

	for _, peer := range []struct {
		name string
		srv  extensionauth.Server
	}{{"ours_cached", cached}, {"ours_uncached", uncached}, {"contrib", contrib}, {"floor_verify", floor}} {
		ctx := context.Background()
		b.Run("impl="+peer.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := peer.srv.Authenticate(ctx, headers); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("impl="+peer.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := peer.srv.Authenticate(ctx, headers); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// floorVerifier verifies the signature only.
type floorVerifier struct{ pub *rsa.PublicKey }

func (v floorVerifier) Authenticate(ctx context.Context, h map[string][]string) (context.Context, error) {
	jws, err := jose.ParseSignedCompact(h["Authorization"][0][len("Bearer "):], []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return ctx, err
	}
	_, err = jws.Verify(v.pub)
	return ctx, err
}
