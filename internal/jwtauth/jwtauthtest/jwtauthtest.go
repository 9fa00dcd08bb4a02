// Package jwtauthtest holds the checks every server extension over
// internal/jwtauth runs against its own fake provider, so the behaviour they
// share is asserted by one piece of code.
package jwtauthtest // import "github.com/otelcol-custom/otelcol-custom/internal/jwtauth/jwtauthtest"

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
	"github.com/otelcol-custom/otelcol-custom/internal/jwtauth"
)

// Authenticate is a server extension's Authenticate.
type Authenticate func(ctx context.Context, headers map[string][]string) (context.Context, error)

// WithdrawnKeyMidStream checks that a token signed by a withdrawn key is
// refused as soon as the server's key set has fetched the JWKS without it,
// even when the token is in the validated-token cache, while requests run.
// In each round, workers send tokens of the provider's current key
// (newHeaders(i): headers carrying a new valid token); the provider rotates
// and retires the old key, keys fetches, and every request checked after
// the old key left keys must have been refused. keys must not refetch by
// itself during the test (a long minimum refetch interval).
func WithdrawnKeyMidStream(t *testing.T, idp *fakeoidc.KeySet, keys *jwtauth.KeySet, auth Authenticate, newHeaders func(i int) map[string][]string) {
	t.Helper()
	const rounds, tokens, workers = 4, 24, 8
	var violations, checkedAfter atomic.Int64
	for range rounds {
		oldKid := idp.CurrentKeyID()
		toks := make([]map[string][]string, tokens)
		for i := range toks {
			toks[i] = newHeaders(i)
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; !stop.Load(); i++ {
					withdrawn := keys.Current().Keys[oldKid] == nil
					_, err := auth(context.Background(), toks[i%len(toks)])
					if withdrawn {
						checkedAfter.Add(1)
						if err == nil {
							violations.Add(1)
						}
					}
				}
			})
		}
		time.Sleep(30 * time.Millisecond)
		_, err := idp.RotateKey()
		require.NoError(t, err)
		idp.RetireKeys() // only the new key is published
		<-keys.FetchShared()
		require.Nil(t, keys.Current().Keys[oldKid])
		time.Sleep(60 * time.Millisecond)
		stop.Store(true)
		wg.Wait()
	}
	t.Logf("%d requests checked after a withdrawal, %d accepted", checkedAfter.Load(), violations.Load())
	require.Positive(t, checkedAfter.Load())
	assert.Zero(t, violations.Load(), "tokens signed by a withdrawn key were accepted after the withdrawal was fetched")
}
