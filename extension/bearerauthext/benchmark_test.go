package bearerauthext

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"google.golang.org/grpc/credentials"

	"github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"
)

// Benchmarks run side by side with contrib's bearertokenauthextension
// v0.165.1, created through its factory with the same static token(s):
//
//	go test -run '^$' -bench . -benchmem -count 6 -benchtime 200ms ./extension/bearerauthext/
//
// Sub-benchmark names carry impl=bearerauth|contrib so benchstat (or a
// median script) can pair them.

// benchToken is a realistic opaque token: 43 characters, like 32 random bytes
// in base64url.
func benchToken(i int) string {
	return fmt.Sprintf("k%05dQ7vXw2Lr9Tz4Hn8Ym3Bc6Df1Gj5Kp0Ns-Ua_Ve", i)
}

// newNopTransport is the base confighttp gives an auth RoundTripper, an
// *http.Transport, with its network part answering at once.
func newNopTransport() *http.Transport {
	return authclienttest.NewTransport(authclienttest.Responder{Response: &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}})
}

// benchImpl is one of the two extensions under test.
type benchImpl struct {
	name string
	ext  extension.Extension
}

func startBench(b *testing.B, f extension.Factory, cfg component.Config) extension.Extension {
	b.Helper()
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(b, err)
	require.NoError(b, ext.Start(context.Background(), componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, ext.Shutdown(context.Background())) })
	return ext
}

// clientImpls returns both extensions configured as clients with token.
func clientImpls(b *testing.B, token string) []benchImpl {
	ours := createDefaultConfig().(*Config)
	ours.Token = configopaque.String(token)
	cf := bearertokenauthextension.NewFactory()
	theirs := cf.CreateDefaultConfig().(*bearertokenauthextension.Config)
	theirs.BearerToken = configopaque.String(token)
	impls := []benchImpl{
		{"bearerauth", startBench(b, NewFactory(), ours)},
		{"contrib", startBench(b, cf, theirs)},
	}
	// Ours serves from the refresher: wait for the first token so the
	// benchmark measures the steady state.
	_, err := impls[0].ext.(*bearerAuth).client.handle().Wait(context.Background())
	require.NoError(b, err)
	return impls
}

func BenchmarkRoundTripper(b *testing.B) {
	for _, impl := range clientImpls(b, benchToken(0)) {
		rt, err := impl.ext.(extensionauth.HTTPClient).RoundTripper(newNopTransport())
		require.NoError(b, err)
		newReq := func() *http.Request {
			req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4318/v1/traces", http.NoBody)
			require.NoError(b, err)
			req.Header.Set("Content-Type", "application/x-protobuf")
			req.Header.Set("User-Agent", "otelcol-custom/bench")
			return req
		}
		b.Run("impl="+impl.name+"/serial", func(b *testing.B) {
			req := newReq()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rt.RoundTrip(req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("impl="+impl.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := newReq()
				for pb.Next() {
					if _, err := rt.RoundTrip(req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkGetRequestMetadata(b *testing.B) {
	for _, impl := range clientImpls(b, benchToken(0)) {
		creds, err := impl.ext.(extensionauth.GRPCClient).PerRPCCredentials()
		require.NoError(b, err)
		b.Run("impl="+impl.name+"/serial", func(b *testing.B) {
			benchMetadata(b, creds)
		})
		b.Run("impl="+impl.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
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

func benchMetadata(b *testing.B, creds credentials.PerRPCCredentials) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		md, err := creds.GetRequestMetadata(ctx)
		if err != nil || len(md) != 1 {
			b.Fatal(err)
		}
	}
}

// serverTokens returns n bearerauth server tokens, named client-<i> or
// unnamed.
func serverTokens(n int, named bool) []TokenConfig {
	list := make([]TokenConfig, n)
	for i := range list {
		list[i].Token = configopaque.String(benchToken(i))
		if named {
			list[i].Name = fmt.Sprintf("client-%d", i)
		}
	}
	return list
}

// serverImpls returns both extensions configured as servers accepting the
// same n tokens, unnamed on our side: like contrib, which has no names and
// sets no client.Info, ours then only matches (no subject to publish).
func serverImpls(b *testing.B, n int) []benchImpl {
	ours := createDefaultConfig().(*Config)
	ours.Tokens = serverTokens(n, false)
	cf := bearertokenauthextension.NewFactory()
	theirs := cf.CreateDefaultConfig().(*bearertokenauthextension.Config)
	for i := range n {
		theirs.Tokens = append(theirs.Tokens, configopaque.String(benchToken(i)))
	}
	return []benchImpl{
		{"bearerauth", startBench(b, NewFactory(), ours)},
		{"contrib", startBench(b, cf, theirs)},
	}
}

// BenchmarkAuthenticate presents the last configured token (contrib's worst
// case: it scans the list) in an HTTP-style (canonical) header map. The
// impl=bearerauth and impl=contrib rows are like for like (unnamed tokens,
// nothing published); impl=bearerauth-named adds the cost of publishing the
// matched name as client.Info.Auth's subject (a new context: 2 allocations).
func BenchmarkAuthenticate(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		headers := map[string][]string{
			"Authorization": {"Bearer " + benchToken(n-1)},
			"Content-Type":  {"application/x-protobuf"},
			"User-Agent":    {"otelcol-custom/bench"},
		}
		impls := serverImpls(b, n)
		if n == 1 {
			named := createDefaultConfig().(*Config)
			named.Tokens = serverTokens(n, true)
			impls = append(impls, benchImpl{"bearerauth-named", startBench(b, NewFactory(), named)})
		}
		for _, impl := range impls {
			srv := impl.ext.(extensionauth.Server)
			b.Run(fmt.Sprintf("impl=%s/tokens=%d", impl.name, n), func(b *testing.B) {
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

// BenchmarkAuthenticateRefused measures a wrong token (same length as the
// real ones) at 1 and 10,000 tokens: refusals must be as cheap and as
// independent of the set size as acceptances.
func BenchmarkAuthenticateRefused(b *testing.B) {
	wrong := strings.Replace(benchToken(0), "k", "z", 1)
	headers := map[string][]string{"Authorization": {"Bearer " + wrong}}
	for _, n := range []int{1, 10000} {
		for _, impl := range serverImpls(b, n) {
			srv := impl.ext.(extensionauth.Server)
			b.Run(fmt.Sprintf("impl=%s/tokens=%d", impl.name, n), func(b *testing.B) {
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

// hmacTokenSet is the alternative keyed hash we measured against maphash in
// tokenSet: HMAC-SHA256 of the presented token indexes the map, then the
// stored token is compared in constant time. Hashers are pooled to give it
// its best case.
type hmacTokenSet struct {
	pool  sync.Pool
	byMAC map[[sha256.Size]byte]*acceptedToken
}

func newHMACTokenSet(list []namedToken) *hmacTokenSet {
	key := []byte("0123456789abcdef0123456789abcdef")
	s := &hmacTokenSet{byMAC: make(map[[sha256.Size]byte]*acceptedToken, len(list))}
	s.pool.New = func() any { return hmac.New(sha256.New, key) }
	for _, nt := range list {
		s.byMAC[s.mac(nt.token)] = &acceptedToken{value: []byte(nt.token), auth: &authData{subject: nt.name}}
	}
	return s
}

func (s *hmacTokenSet) mac(tok string) [sha256.Size]byte {
	h := s.pool.Get().(hash.Hash)
	h.Reset()
	_, _ = io.WriteString(h, tok)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	s.pool.Put(h)
	return sum
}

func (s *hmacTokenSet) lookup(tok string) *acceptedToken {
	e := s.byMAC[s.mac(tok)]
	if e == nil || subtle.ConstantTimeCompare(e.value, []byte(tok)) != 1 {
		return nil
	}
	return e
}

func BenchmarkTokenSetLookup(b *testing.B) {
	for _, n := range []int{1, 10000} {
		list := make([]namedToken, n)
		for i := range list {
			list[i] = namedToken{name: fmt.Sprint(i), token: benchToken(i)}
		}
		presented := benchToken(n - 1)
		mh, err := newTokenSet(list)
		require.NoError(b, err)
		hm := newHMACTokenSet(list)
		b.Run(fmt.Sprintf("hash=maphash/tokens=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if mh.lookup(presented) == nil {
					b.Fatal("miss")
				}
			}
		})
		b.Run(fmt.Sprintf("hash=hmac-sha256/tokens=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if hm.lookup(presented) == nil {
					b.Fatal("miss")
				}
			}
		})
	}
}

// BenchmarkAuthenticateBreakdown splits our 1-token Authenticate of a named
// token into its two parts: matching (header lookup, parsing, keyed hash,
// constant-time compare; the work contrib does, and all an unnamed token
// costs) and publishing the subject in client.Info (two allocations:
// context.WithValue and boxing the Info; contrib does not set client.Info).
func BenchmarkAuthenticateBreakdown(b *testing.B) {
	impls := serverImpls(b, 1)
	a := impls[0].ext.(*bearerAuth).server.auth
	headers := map[string][]string{"Authorization": {"Bearer " + benchToken(0)}}
	b.Run("step=match", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r := a.match(headers); r.err != nil {
				b.Fatal(r.err)
			}
		}
	})
	auth := &authData{subject: "client-0"}
	b.Run("step=client.Info", func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			info := client.FromContext(ctx)
			info.Auth = auth
			_ = client.NewContext(ctx, info)
		}
	})
}

// BenchmarkConstantTimeEqual compares the token comparison of tokenSet.lookup
// (8 bytes per step) with crypto/subtle.ConstantTimeCompare (1 byte per step)
// on equal values: a 43-byte opaque token and a 1 KiB JWT-sized one.
func BenchmarkConstantTimeEqual(b *testing.B) {
	for _, n := range []int{43, 1024} {
		x := []byte(strings.Repeat(benchToken(0), 1+n/43)[:n])
		y := bytes.Clone(x)
		b.Run(fmt.Sprintf("impl=words/bytes=%d", n), func(b *testing.B) {
			for b.Loop() {
				if !constantTimeEqual(x, y) {
					b.Fatal("differ")
				}
			}
		})
		b.Run(fmt.Sprintf("impl=crypto-subtle/bytes=%d", n), func(b *testing.B) {
			for b.Loop() {
				if subtle.ConstantTimeCompare(x, y) != 1 {
					b.Fatal("differ")
				}
			}
		})
	}
}
