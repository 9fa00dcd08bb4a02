package kvcache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
)

// newHealth returns a started Health reporting to the returned host, and its log.
func newHealth() (*kvcache.Health, *kvcachetest.Host, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.DebugLevel)
	h := &kvcache.Health{Logger: zap.New(core), Failing: "calls fail", Recovered: "calls succeed again"}
	host := kvcachetest.NewHost(nil)
	h.Start(host)
	return h, host, logs
}

// drain returns the statuses reported to host so far.
func drain(host *kvcachetest.Host) []componentstatus.Status {
	var got []componentstatus.Status
	for len(host.Events()) > 0 {
		got = append(got, (<-host.Events()).Status())
	}
	return got
}

// TestHealthReportsChangesOnce: one status event and at most one log line per
// change, however many calls repeat the same outcome.
func TestHealthReportsChangesOnce(t *testing.T) {
	h, host, logs := newHealth()

	h.OK()
	h.OK()
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusOK}, drain(host), "the first success")
	assert.Zero(t, logs.Len(), "nothing to log: calls never failed")

	boom := errors.New("connection refused")
	for range 3 {
		h.Failed(boom)
	}
	ev := <-host.Events()
	assert.Equal(t, componentstatus.StatusRecoverableError, ev.Status())
	require.ErrorIs(t, ev.Err(), boom)
	assert.Empty(t, drain(host), "one event for three failures")
	warn := logs.TakeAll()
	require.Len(t, warn, 1)
	assert.Equal(t, zapcore.WarnLevel, warn[0].Level)
	assert.Equal(t, "calls fail", warn[0].Message)
	assert.Equal(t, boom.Error(), warn[0].ContextMap()["error"])

	h.OK()
	h.OK()
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusOK}, drain(host))
	info := logs.TakeAll()
	require.Len(t, info, 1)
	assert.Equal(t, zapcore.InfoLevel, info[0].Level)
	assert.Equal(t, "calls succeed again", info[0].Message)
}

// TestHealthFailingFirst: a failure before any success is a change too.
func TestHealthFailingFirst(t *testing.T) {
	h, host, logs := newHealth()
	h.Failed(errors.New("no route"))
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError}, drain(host))
	assert.Equal(t, 1, logs.FilterMessage("calls fail").Len())
}

// TestHealthIgnoresCancellation: the caller's cancellation is no news about the
// backend, a missed deadline is.
func TestHealthIgnoresCancellation(t *testing.T) {
	h, host, logs := newHealth()
	h.OK()
	require.Equal(t, []componentstatus.Status{componentstatus.StatusOK}, drain(host))
	h.Failed(fmt.Errorf("get 2 keys: %w", context.Canceled))
	assert.Empty(t, drain(host), "a cancelled call changes nothing")
	assert.Zero(t, logs.FilterMessage("calls fail").Len())
	h.Failed(fmt.Errorf("get 2 keys: %w", context.DeadlineExceeded))
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError}, drain(host), "a missed deadline is a failure")
}

// TestHealthBeforeStart: before Start (no host) changes are logged, not reported.
func TestHealthBeforeStart(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	h := &kvcache.Health{Logger: zap.New(core), Failing: "calls fail", Recovered: "calls succeed again"}
	h.Failed(errors.New("down"))
	h.OK()
	assert.Equal(t, []string{"calls fail", "calls succeed again"}, messages(logs))
}

// TestHealthAfterShutdown: what completes after Shutdown is neither reported nor
// logged.
func TestHealthAfterShutdown(t *testing.T) {
	h, host, logs := newHealth()
	h.OK()
	require.Len(t, drain(host), 1)
	h.Shutdown()
	h.Failed(errors.New("closed"))
	h.OK()
	assert.Empty(t, drain(host))
	assert.Zero(t, logs.Len())
}

// TestHealthConcurrent: concurrent calls with the same outcome report the change
// once (run with -race).
func TestHealthConcurrent(t *testing.T) {
	h, host, logs := newHealth()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				h.Failed(errors.New("down"))
			}
		})
	}
	wg.Wait()
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError}, drain(host))
	assert.Equal(t, []string{"calls fail"}, messages(logs))
}

func messages(logs *observer.ObservedLogs) []string {
	var out []string
	for _, e := range logs.All() {
		out = append(out, e.Message)
	}
	return out
}
