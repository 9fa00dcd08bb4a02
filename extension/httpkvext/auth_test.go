package httpkvext

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
)

var clientAuthID = component.MustNewIDWithName("bearerauth", "client")

func newToken(t testing.TB, gen int) string {
	b := make([]byte, 12)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return fmt.Sprintf("tok-%03d-%s", gen, hex.EncodeToString(b))
}

// writeAtomic replaces path by writing a temporary file and renaming it (how
// secrets are rotated on disk).
func writeAtomic(t testing.TB, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

// startBearerAuth creates and starts a real bearerauth extension.
func startBearerAuth(t testing.TB, id component.ID, configure func(*bearerauthext.Config)) extension.Extension {
	t.Helper()
	f := bearerauthext.NewFactory()
	cfg := f.CreateDefaultConfig().(*bearerauthext.Config)
	configure(cfg)
	require.NoError(t, cfg.Validate())
	set := extensiontest.NewNopSettings(f.Type())
	set.ID = id
	ext, err := f.Create(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return ext
}

// guardedAPI is an apiServer guarded by the real bearerauth server side, whose
// accepted tokens are read from a watched tokens_file, and an httpkv client
// whose bearerauth client side reads its token from a watched token_file.
type guardedAPI struct {
	*apiServer
	server     extensionauth.Server
	tokensFile string // the server's accepted tokens
	tokenFile  string // the client's token
	rejected   atomic.Int64
	// onReject, when set, runs when a request is refused (before the 401).
	onReject atomic.Pointer[func(presented string)]
	lastSeen atomic.Pointer[string] // the token of the last accepted request
}

func newGuardedAPI(t *testing.T, first string) *guardedAPI {
	dir := t.TempDir()
	g := &guardedAPI{apiServer: newAPIServer(t), tokensFile: filepath.Join(dir, "tokens"), tokenFile: filepath.Join(dir, "token")}
	writeAtomic(t, g.tokensFile, first+"\n")
	writeAtomic(t, g.tokenFile, first+"\n")
	g.server = startBearerAuth(t, component.MustNewIDWithName("bearerauth", "server"), func(c *bearerauthext.Config) {
		c.TokensFile = g.tokensFile
	}).(extensionauth.Server)
	g.authenticate = func(r *http.Request) error {
		_, err := g.server.Authenticate(r.Context(), r.Header)
		presented := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if err != nil {
			g.rejected.Add(1)
			if f := g.onReject.Load(); f != nil {
				(*f)(presented)
			}
			return err
		}
		g.lastSeen.Store(&presented)
		return nil
	}
	return g
}

// accepts reports whether the server side currently accepts tok.
func (g *guardedAPI) accepts(tok string) bool {
	_, err := g.server.Authenticate(context.Background(), map[string][]string{"Authorization": {"Bearer " + tok}})
	return err == nil
}

// store starts httpkv with cfg authenticated by a bearerauth client on tokenFile.
func (g *guardedAPI) store(t *testing.T, cfg *Config) kvcache.Store {
	client := startBearerAuth(t, clientAuthID, func(c *bearerauthext.Config) { c.TokenFile = g.tokenFile })
	cfg.Auth = authConfig(clientAuthID.String())
	host := kvcachetest.NewHost(map[component.ID]component.Component{clientAuthID: client})
	s, err := startExt(t, cfg, host).Store(context.Background(), component.MustNewID("kvcache"))
	require.NoError(t, err)
	return s
}

// TestBearerAuthGuarded: the client's token really is checked: lookups succeed
// with it, and an httpkv without auth is refused (an error naming 401).
func TestBearerAuthGuarded(t *testing.T) {
	g := newGuardedAPI(t, newToken(t, 0))
	g.put("svc", "payments")
	s := g.store(t, perKeyConfig(g.apiServer))
	res, err := s.Get(ctxT(t), []string{"svc"})
	require.NoError(t, err)
	assert.Equal(t, "payments", string(res[0].Value))

	noAuth := newStore(t, perKeyConfig(g.apiServer))
	_, err = noAuth.Get(ctxT(t), []string{"svc"})
	require.ErrorContains(t, err, "unexpected status 401 Unauthorized")
}

// TestUnauthorizedRefreshesAndRetries: when the server stops accepting the
// client's token (it rotated before the client noticed), the 401 goes through
// bearerauth's refresh: the request is retried once with the new token (the
// bulk POST body is replayed, compressed or not) and the lookup succeeds.
func TestUnauthorizedRefreshesAndRetries(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*apiServer) *Config
	}{
		{"per_key", perKeyConfig},
		{"bulk", bulkConfig},
		{"bulk_gzip", func(s *apiServer) *Config {
			c := bulkConfig(s)
			c.Compression = configcompression.TypeGzip
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldTok, newTok := newToken(t, 0), newToken(t, 1)
			g := newGuardedAPI(t, oldTok)
			g.put("svc", "payments")
			s := g.store(t, tc.cfg(g.apiServer))
			_, err := s.Get(ctxT(t), []string{"svc"})
			require.NoError(t, err)

			// The server now accepts only the new token; the client's file gets it
			// when the first request with the old one is refused, so the client
			// cannot have switched before that request was sent.
			var once sync.Once
			f := func(presented string) {
				if presented == oldTok {
					once.Do(func() { writeAtomic(t, g.tokenFile, newTok+"\n") })
				}
			}
			g.onReject.Store(&f)
			writeAtomic(t, g.tokensFile, newTok+"\n")
			require.Eventually(t, func() bool { return !g.accepts(oldTok) && g.accepts(newTok) }, 10*time.Second, 5*time.Millisecond)

			before := g.requests.Load()
			res, err := s.Get(ctxT(t), []string{"svc"})
			require.NoError(t, err, "the 401 is refreshed and retried, not returned")
			assert.Equal(t, "payments", string(res[0].Value))
			assert.Equal(t, int64(1), g.rejected.Load(), "one request refused")
			assert.Equal(t, int64(2), g.requests.Load()-before, "the refused request and its retry")
			assert.Equal(t, newTok, *g.lastSeen.Load())
			if tc.name == "bulk_gzip" {
				assert.Equal(t, int64(2), g.gzipped.Load(), "the first POST and the retry came compressed")
			}
		})
	}
}

// TestTokenRotationUnderLoad: 8 goroutines look keys up (per_key and bulk stores
// at once) while the client's token file is rotated 5 times. Each rotation is done
// as a real deployment does it: the server first accepts the old and the new token,
// the client's file is replaced, and once requests carry the new token the server
// drops the old one. No lookup may fail.
func TestTokenRotationUnderLoad(t *testing.T) {
	const (
		workers   = 8
		rotations = 5
	)
	toks := []string{newToken(t, 0)}
	g := newGuardedAPI(t, toks[0])
	for i := range 50 {
		g.put("k"+itoa(i), "v"+itoa(i))
	}
	perKey, bulk := g.store(t, perKeyConfig(g.apiServer)), g.store(t, bulkConfig(g.apiServer))

	var (
		stop     atomic.Bool
		lookups  atomic.Int64
		failures atomic.Int64
		firstErr atomic.Pointer[error]
		wg       sync.WaitGroup
	)
	for w := range workers {
		s := perKey
		if w%2 == 1 {
			s = bulk
		}
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				keys := []string{"k" + itoa((w+i)%50), "k" + itoa((w+i+7)%50), "absent"}
				res, err := s.Get(ctxT(t), keys)
				lookups.Add(1)
				if err == nil && (!res[0].Found || res[2].Found) {
					err = fmt.Errorf("wrong results %+v", res)
				}
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		})
	}

	// progress waits until the workers have completed n more lookups, so every
	// phase of a rotation carries load whatever the machine's speed.
	progress := func(n int64) {
		target := lookups.Load() + n
		require.Eventually(t, func() bool { return lookups.Load() >= target }, 30*time.Second, time.Millisecond)
	}
	for gen := 1; gen <= rotations; gen++ {
		oldTok, newTok := toks[gen-1], newToken(t, gen)
		toks = append(toks, newTok)
		writeAtomic(t, g.tokensFile, oldTok+"\n"+newTok+"\n")
		require.Eventually(t, func() bool { return g.accepts(newTok) }, 10*time.Second, 5*time.Millisecond, "server accepts the new token")
		progress(20) // lookups keep running on the old token

		writeAtomic(t, g.tokenFile, newTok+"\n")
		require.Eventually(t, func() bool { p := g.lastSeen.Load(); return p != nil && *p == newTok },
			10*time.Second, 5*time.Millisecond, "requests carry the new token")
		progress(20)

		writeAtomic(t, g.tokensFile, newTok+"\n")
		require.Eventually(t, func() bool { return !g.accepts(oldTok) }, 10*time.Second, 5*time.Millisecond, "server drops the old token")
		progress(20)
	}
	stop.Store(true)
	wg.Wait()

	if p := firstErr.Load(); p != nil {
		t.Errorf("first failure: %v", *p)
	}
	assert.Zero(t, failures.Load(), "failed lookups")
	t.Logf("%d lookups (%d HTTP requests) across %d rotations: %d failed, %d requests refused (and retried by the auth extension)",
		lookups.Load(), g.requests.Load(), rotations, failures.Load(), g.rejected.Load())
}
