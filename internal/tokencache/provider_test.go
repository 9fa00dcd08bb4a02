package tokencache

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestProviderTokenAndChanged checks the bearertoken capability over a
// Handle: Token serves the published token and its expiry, fails without the
// secret before the first fetch, and Changed is closed on each new token.
func TestProviderTokenAndChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		src := &scriptSource{script: []result{fail("endpoint down"), ok("a", t0.Add(time.Hour)), ok("b", t0.Add(2*time.Hour))}}
		f := start(t, src, func(c *Config) { c.InitialBackoff = time.Second; c.MaxBackoff = time.Second })
		p := f.r.Handle().Provider()
		synctest.Wait()
		_, err := p.Token()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "bearerauth/client: no token available")
		assert.Contains(t, err.Error(), "endpoint down")

		ch := p.Changed()
		assert.False(t, closed(ch))
		time.Sleep(time.Second)
		synctest.Wait()
		require.True(t, closed(ch), "the first token closes the channel")
		tok, err := p.Token()
		require.NoError(t, err)
		assert.Equal(t, "a", tok.Value, "the raw token, without the scheme")
		assert.True(t, tok.Expiry.Equal(t0.Add(time.Hour)), "the expiry is part of the token")

		ch = p.Changed()
		assert.False(t, closed(ch), "a fresh channel after each change")
		time.Sleep(time.Hour) // refreshed ahead of expiry
		synctest.Wait()
		require.True(t, closed(ch))
		tok, err = p.Token()
		require.NoError(t, err)
		assert.Equal(t, "b", tok.Value)
	})
}

// TestChangedNeverBlocksTheRefresher: a consumer that took the channel and
// never reads it does not hold up publishing.
func TestChangedNeverBlocksTheRefresher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &scriptSource{script: []result{ok("a", time.Time{}), ok("b", time.Time{}), ok("c", time.Time{})}}
		f := start(t, src, nil)
		p := f.r.Handle().Provider()
		for range 100 {
			_ = p.Changed() // never read
		}
		synctest.Wait()
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		tok, err := p.Token()
		require.NoError(t, err)
		assert.Equal(t, "c", tok.Value, "every refresh went through")
	})
}
