package oauth2clientauthext

import (
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
)

// stream sends requests through the extension every 10ms until stopped and
// counts those the backend refused.
type stream struct {
	sent, failed atomic.Int64
	stop         chan struct{}
	wg           sync.WaitGroup
}

func startStream(t *testing.T, fx *fixture, b *backend) *stream {
	s := &stream{stop: make(chan struct{})}
	c := fx.client(t)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-s.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			s.sent.Add(1)
			resp, err := c.Get(b.URL)
			if err != nil {
				s.failed.Add(1)
				continue
			}
			_ = resp.Body.Close()
			if resp.StatusCode != 200 {
				s.failed.Add(1)
			}
		}
	}()
	return s
}

func (s *stream) end() (sent, failed int64) {
	close(s.stop)
	s.wg.Wait()
	return s.sent.Load(), s.failed.Load()
}

// TestClientSecretFileRotationMidStream rotates the secret as an operator
// does (the provider accepts both, the file is replaced, the old secret is
// revoked) while requests flow: the next token request uses the new secret
// and no request fails.
func TestClientSecretFileRotationMidStream(t *testing.T) {
	f, ca := idp(t)
	f.SetClient(fakeoidc.Client{ID: clientID, Secrets: []string{secretOld}})
	f.SetTokenLifetime(2 * time.Second) // refreshed every second
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	writeFile(t, secretFile, secretOld+"\n")
	cfg := baseConfig(f, ca)
	cfg.ClientSecretFile = secretFile
	fx := start(t, cfg)
	fx.token(t)
	b := newBackend(t, f)
	s := startStream(t, fx, b)

	time.Sleep(1200 * time.Millisecond) // at least one refresh with the old secret
	f.SetClient(fakeoidc.Client{ID: clientID, Secrets: []string{secretOld, secretNew}})
	writeFile(t, secretFile, secretNew+"\n")
	written := len(f.Requests())
	usesNew := func() bool {
		reqs := f.Requests()
		return len(reqs) > written && reqs[len(reqs)-1].SecretIndex == 1
	}
	eventually(t, usesNew, "a token request with the new secret")
	f.SetClient(fakeoidc.Client{ID: clientID, Secrets: []string{secretNew}}) // old one revoked
	revoked := len(f.Issued())
	eventually(t, func() bool { return len(f.Issued()) >= revoked+2 }, "two refreshes after the revocation")
	sent, failed := s.end()

	assert.Zero(t, failed, "of %d requests", sent)
	assert.Greater(t, sent, int64(100))
	assert.Zero(t, f.Counts().TokenRejected, "no token request used a revoked secret")
	for _, r := range f.Requests() {
		assert.Empty(t, r.Error)
	}
	fx.assertNoSecrets(t, secretOld, secretNew)
}

// TestSecretFileChangeWhileFailingFetchesAtOnce: the old secret was revoked
// before the file was updated, so fetches fail and back off (1 minute here);
// the file change ends the wait at once.
func TestSecretFileChangeWhileFailingFetchesAtOnce(t *testing.T) {
	f, ca := idp(t)
	f.SetClient(fakeoidc.Client{ID: clientID, Secrets: []string{secretOld}})
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	writeFile(t, secretFile, secretOld)
	cfg := baseConfig(f, ca)
	cfg.ClientSecretFile = secretFile
	cfg.Refresh.InitialBackoff, cfg.Refresh.MaxBackoff = time.Minute, time.Minute
	fx := start(t, cfg)
	first := fx.token(t)

	f.SetClient(fakeoidc.Client{ID: clientID, Secrets: []string{secretNew}})
	fx.ext.handle.Invalidate()
	eventually(t, func() bool { return f.Counts().TokenRejected == 1 }, "the refresh with the revoked secret fails")
	assert.Equal(t, first, fx.ext.handle.Current().Token.Value, "the last good token is still served")

	t0 := time.Now()
	writeFile(t, secretFile, secretNew)
	// The new token is issued, then published: wait for both.
	eventually(t, func() bool {
		issued := f.Issued()
		return len(issued) >= 2 && fx.ext.handle.Current().Token.Value == issued[len(issued)-1]
	}, "a fetch right after the file changed, its token served")
	assert.Less(t, time.Since(t0), 30*time.Second, "well before the 1m backoff")
	fx.assertNoSecrets(t, secretOld, secretNew)
}

// TestOutageShorterThanTokenLifetimeLosesNothing: the provider fails for 5s
// around the scheduled refresh of an 8s token; every request in that time
// still carries the last good, unexpired token.
func TestOutageShorterThanTokenLifetimeLosesNothing(t *testing.T) {
	for _, mode := range []struct {
		name string
		f    fakeoidc.Failure
	}{{"http_500", fakeoidc.Fail500}, {"connection_refused", fakeoidc.FailRefuse}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			f, ca := idp(t)
			f.SetClient(fakeoidc.Client{ID: clientID, Secrets: []string{secretOld}})
			f.SetTokenLifetime(8 * time.Second) // refresh due after 4s
			cfg := baseConfig(f, ca)
			cfg.ClientSecret = secretOld
			cfg.Timeout = time.Second
			fx := start(t, cfg)
			fx.token(t)
			b := newBackend(t, f)
			s := startStream(t, fx, b)

			time.Sleep(time.Second)
			require.NoError(t, f.SetFailure(mode.f, fakeoidc.EndpointAll))
			time.Sleep(5 * time.Second)
			require.NoError(t, f.SetFailure(fakeoidc.FailNone, 0))
			eventually(t, func() bool { return len(f.Issued()) >= 2 }, "a fresh token after the outage")
			sent, failed := s.end()

			assert.Zero(t, failed, "of %d requests", sent)
			assert.Greater(t, sent, int64(200))
			if mode.f == fakeoidc.Fail500 {
				assert.Positive(t, f.Counts().Failed, "refreshes were attempted during the outage")
			}
			assert.NotEmpty(t, fx.logs.FilterMessageSnippet("serving the last good credential").All())
		})
	}
}

// TestUnauthorizedRetriesWithFreshToken: a 401 from the backend makes
// authclient invalidate the token and retry once with a new one.
func TestUnauthorizedRetriesWithFreshToken(t *testing.T) {
	f, cfg := secretClient(t)
	fx := start(t, cfg)
	first := fx.token(t)
	b := newBackend(t, f)
	b.revoke(first)

	assert.Equal(t, 200, get(t, fx.client(t), b.URL))
	issued := f.Issued()
	require.Len(t, issued, 2)
	assert.Equal(t, []string{"Bearer " + first, "Bearer " + issued[1]}, b.requests())
}
