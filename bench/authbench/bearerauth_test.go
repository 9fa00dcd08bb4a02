package authbench

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"

	"github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"
	"github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"
)

// bearerauth against contrib's bearertokenauthextension v0.165.1, both created
// through their factories with the same token(s). Run:
//
//	cd bench && go test -run '^$' -bench 'RoundTripper$|GetRequestMetadata$|Authenticate' -benchmem -count 6 -benchtime 200ms ./authbench/
//
// Sub-benchmark names carry impl=bearerauth|contrib|floor|copy_floor so
// benchstat -col /impl pivots them.

// token is a realistic opaque token (shared with bearerauthext's benchmarks).
var token = authclienttest.Token

type impl struct {
	name string
	ext  extension.Extension
}

// clientImpls returns both extensions configured as clients sending tok.
func clientImpls(b *testing.B, tok string) []impl {
	bf := bearerauthext.NewFactory()
	ours := bf.CreateDefaultConfig().(*bearerauthext.Config)
	ours.Token = configopaque.String(tok)
	cf := bearertokenauthextension.NewFactory()
	theirs := cf.CreateDefaultConfig().(*bearertokenauthextension.Config)
	theirs.BearerToken = configopaque.String(tok)
	return []impl{{"bearerauth", startExt(b, bf, ours)}, {"contrib", startExt(b, cf, theirs)}}
}

// exporterRequest looks like what the otlphttp exporter sends.
func exporterRequest() *http.Request {
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4318/v1/traces", http.NoBody)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "otelcol-custom/0.1.0 (linux/amd64)")
	req.Header.Set("Content-Encoding", "gzip")
	return req
}

// BenchmarkRoundTripper: the HTTP client path over each base, with the floor
// rows (the base alone; one shallow copy with a prebuilt header map) in the
// same run.
func BenchmarkRoundTripper(b *testing.B) {
	for _, bs := range benchBases() {
		prepared := exporterRequest()
		prepared.Header.Set("Authorization", "Bearer "+token(0))
		type namedRT struct {
			name string
			rt   http.RoundTripper
		}
		var rts []namedRT
		for _, im := range clientImpls(b, token(0)) {
			rt, err := im.ext.(extensionauth.HTTPClient).RoundTripper(bs.rt)
			require.NoError(b, err)
			// bearerauth publishes its first token in the background: the
			// first request waits for it, so the loop measures the steady state.
			_, err = rt.RoundTrip(exporterRequest())
			require.NoError(b, err)
			rts = append(rts, namedRT{im.name, rt})
		}
		rts = append(rts,
			namedRT{"floor", authclienttest.Floor{Base: bs.rt, Prepared: prepared}},
			namedRT{"copy_floor", authclienttest.CopyFloor{Base: bs.rt, Header: prepared.Header}})
		for _, r := range rts {
			benchRoundTrip(b, "base="+bs.name+"/impl="+r.name, r.rt, exporterRequest)
		}
	}
}

func BenchmarkGetRequestMetadata(b *testing.B) {
	for _, im := range clientImpls(b, token(0)) {
		creds, err := im.ext.(extensionauth.GRPCClient).PerRPCCredentials()
		require.NoError(b, err)
		ctx := context.Background()
		_, err = creds.GetRequestMetadata(ctx) // waits for bearerauth's first token
		require.NoError(b, err)
		b.Run("impl="+im.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if md, err := creds.GetRequestMetadata(ctx); err != nil || len(md) != 1 {
					b.Fatal(err)
				}
			}
		})
		b.Run("impl="+im.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := creds.GetRequestMetadata(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// serverImpls returns both extensions configured as servers accepting the
// same n tokens. Ours are unnamed, so like contrib it only matches (a named
// token also publishes its subject in client.Info: the bearerauth-named row).
func serverImpls(b *testing.B, n int, named bool) []impl {
	bf := bearerauthext.NewFactory()
	ours := bf.CreateDefaultConfig().(*bearerauthext.Config)
	cf := bearertokenauthextension.NewFactory()
	theirs := cf.CreateDefaultConfig().(*bearertokenauthextension.Config)
	for i := range n {
		tc := bearerauthext.TokenConfig{Token: configopaque.String(token(i))}
		if named {
			tc.Name = fmt.Sprintf("client-%d", i)
		}
		ours.Tokens = append(ours.Tokens, tc)
		theirs.Tokens = append(theirs.Tokens, configopaque.String(token(i)))
	}
	name := "bearerauth"
	if named {
		name = "bearerauth-named"
	}
	impls := []impl{{name, startExt(b, bf, ours)}}
	if !named {
		impls = append(impls, impl{"contrib", startExt(b, cf, theirs)})
	}
	return impls
}

// BenchmarkAuthenticate presents the last configured token (contrib's worst
// case: it scans its list) in an HTTP-style (canonical) header map.
func BenchmarkAuthenticate(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		headers := map[string][]string{
			"Authorization": {"Bearer " + token(n-1)},
			"Content-Type":  {"application/x-protobuf"},
			"User-Agent":    {"otelcol-custom/bench"},
		}
		impls := serverImpls(b, n, false)
		if n == 1 {
			impls = append(impls, serverImpls(b, n, true)...)
		}
		for _, im := range impls {
			srv := im.ext.(extensionauth.Server)
			b.Run(fmt.Sprintf("impl=%s/tokens=%d", im.name, n), func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := srv.Authenticate(ctx, headers); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkAuthenticateRefused presents a wrong token of the same length as
// the real ones: refusals must be as cheap, and as independent of the number
// of tokens, as acceptances.
func BenchmarkAuthenticateRefused(b *testing.B) {
	headers := map[string][]string{"Authorization": {"Bearer " + strings.Replace(token(0), "k", "z", 1)}}
	for _, n := range []int{1, 10000} {
		for _, im := range serverImpls(b, n, false) {
			srv := im.ext.(extensionauth.Server)
			b.Run(fmt.Sprintf("impl=%s/tokens=%d", im.name, n), func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := srv.Authenticate(ctx, headers); err == nil {
						b.Fatal("accepted a wrong token")
					}
				}
			})
		}
	}
}
