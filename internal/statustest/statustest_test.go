package statustest

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHostRecordsEvents(t *testing.T) {
	h := NewHost()
	assert.Nil(t, h.Last())
	assert.Empty(t, h.Events())
	assert.Empty(t, h.GetExtensions())

	// Reported the way a component reports: through its host.
	componentstatus.ReportStatus(h, componentstatus.NewRecoverableErrorEvent(errors.New("store down")))
	componentstatus.ReportStatus(h, componentstatus.NewEvent(componentstatus.StatusOK))

	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError, componentstatus.StatusOK}, h.Statuses())
	events := h.Events()
	require.Len(t, events, 2)
	assert.EqualError(t, events[0].Err(), "store down")
	assert.Equal(t, componentstatus.StatusOK, h.Last().Status())
	errs := h.Errors()
	require.Len(t, errs, 1, "the OK event has no error")
	assert.EqualError(t, errs[0], "store down")

	// Events is a copy: what the caller does with it does not change the host.
	events[0] = nil
	assert.NotNil(t, h.Events()[0])
}

func TestHostConcurrentReports(t *testing.T) {
	h := NewHost()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				h.Report(componentstatus.NewEvent(componentstatus.StatusOK))
				_ = h.Last()
			}
		})
	}
	wg.Wait()
	assert.Len(t, h.Events(), 800)
}
