package bearerauthext

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-custom/otelcol-custom/extension/bearerauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"
)

// Design benchmarks of the token set. The side-by-side comparison with
// contrib's bearertokenauthextension lives in the bench module
// (bench/authbench). Run:
//
//	go test -run '^$' -bench . -benchmem -count 6 -benchtime 200ms ./extension/bearerauthext/

// benchToken is a realistic opaque token (shared with bench/authbench).
var benchToken = authclienttest.Token

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
	cfg := createDefaultConfig().(*Config)
	cfg.Tokens = []TokenConfig{{Token: configopaque.String(benchToken(0))}}
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(b, err)
	require.NoError(b, ext.Start(context.Background(), componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, ext.Shutdown(context.Background())) })
	a := ext.(*bearerAuth).server.auth
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
