package rediskvext

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/rediskvext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/redistest"
)

// TestSlowInvalidateAllDoesNotStallReplies (issue 9, case 15): a subscriber
// whose "everything changed" callback blocks (a large cache being cleared)
// must not stall the connection: replies keep flowing, and further clears
// while it runs are coalesced into one.
func TestSlowInvalidateAllDoesNotStallReplies(t *testing.T) {
	srv := redistest.Start(t)
	cfg := standaloneConfig(srv, "clr:")
	cfg.ReadTimeout, cfg.WriteTimeout = 2*time.Second, 2*time.Second
	e, _ := startExt(t, cfg)
	s := storeOf(t, e)

	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	var clears atomic.Int32
	unsub := s.(kvcache.Invalidator).OnInvalidate(func(keys []string) {
		if keys != nil {
			return
		}
		clears.Add(1)
		entered <- struct{}{}
		<-release
	})
	released := false
	unblock := func() {
		if !released {
			released = true
			close(release)
		}
	}
	t.Cleanup(func() { unblock(); unsub() })

	srv.CLI(t, "FLUSHALL")
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no InvalidateAll within 5 s")
	}

	// The subscriber is blocked; calls still get their replies.
	require.NoError(t, s.Set(ctxT(t), []kvcache.Entry{{Key: "a", Value: []byte("1")}}))
	for range 20 {
		start := time.Now()
		res, err := s.Get(ctxT(t), []string{"a"})
		require.NoError(t, err, "a GET stalled behind the blocked InvalidateAll")
		require.True(t, res[0].Found)
		assert.Less(t, time.Since(start), time.Second)
	}

	// More clears while the first is running: one more delivery, not three.
	for range 3 {
		srv.CLI(t, "FLUSHALL")
	}
	// A GET after the FLUSHALLs is answered after their pushes were read.
	_, err := s.Get(ctxT(t), []string{"a"})
	require.NoError(t, err)
	unblock()
	require.Eventually(t, func() bool { return clears.Load() == 2 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, int32(2), clears.Load(), "clears requested while one ran are coalesced into one")
}

// TestShutdownWaitsForClearer: Shutdown stops the clearer's goroutine (goleak in
// TestMain checks none is left) and, while a subscriber is stuck in a clear,
// returns when its context is done instead of hanging.
func TestShutdownWaitsForClearer(t *testing.T) {
	srv := redistest.Start(t)
	cfg := standaloneConfig(srv, "clr:")
	e, err := newRedisKV(cfg, extensiontest.NewNopSettings(metadata.Type))
	require.NoError(t, err)
	require.NoError(t, e.Start(context.Background(), nil))
	s, err := e.Store(context.Background(), testOwner)
	require.NoError(t, err)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	s.(kvcache.Invalidator).OnInvalidate(func(keys []string) {
		if keys == nil {
			entered <- struct{}{}
			<-release
		}
	})
	srv.CLI(t, "FLUSHALL")
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, e.Shutdown(ctx), context.DeadlineExceeded)
	close(release)
	require.Eventually(t, func() bool {
		select {
		case <-e.clears.done:
			return true
		default:
			return false
		}
	}, 5*time.Second, 5*time.Millisecond)
}
