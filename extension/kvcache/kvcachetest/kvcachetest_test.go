package kvcachetest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.uber.org/goleak"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformanceMemoryStore(t *testing.T) {
	kvcachetest.RunStoreTests(t, func(*testing.T) kvcache.Store {
		return kvcachetest.NewMemoryStore()
	})
}

// readOnlyMem is a read-only view of a MemoryStore: the data comes from the backend
// (Put/Remove); Set and Delete fail with kvcache.ErrReadOnly unless mode
// breaks a rule on purpose.
type readOnlyMem struct {
	*kvcachetest.MemoryStore
	mode string // "": correct; "undeclared": no ReadOnly; "accepts-writes": Set writes
}

func (r readOnlyMem) ReadOnly() bool { return r.mode != "undeclared" }

func (r readOnlyMem) Set(ctx context.Context, entries []kvcache.Entry) error {
	if r.mode == "accepts-writes" {
		return r.MemoryStore.Set(ctx, entries)
	}
	return fmt.Errorf("read-only view: %w", kvcache.ErrReadOnly)
}

func (r readOnlyMem) Delete(context.Context, []string) error {
	return fmt.Errorf("read-only view: %w", kvcache.ErrReadOnly)
}

// Close closes the view, not the backend the subtests share.
func (readOnlyMem) Close(context.Context) error { return nil }

// runReadOnlySuite runs the suite in read-only mode over one shared backend.
func runReadOnlySuite(t *testing.T, mode string) {
	backend := kvcachetest.NewMemoryStore()
	put := func(entries []kvcache.Entry) error {
		for _, e := range entries {
			backend.Put(e.Key, string(e.Value))
		}
		return nil
	}
	remove := func(keys []string) error {
		for _, k := range keys {
			backend.Remove(k)
		}
		return nil
	}
	kvcachetest.RunStoreTests(t, func(*testing.T) kvcache.Store {
		return readOnlyMem{MemoryStore: backend, mode: mode}
	}, kvcachetest.ReadOnly(put, remove))
}

func TestConformanceTextValues(t *testing.T) {
	kvcachetest.RunStoreTests(t, func(*testing.T) kvcache.Store {
		return kvcachetest.NewMemoryStore()
	}, kvcachetest.TextValues())
}

func TestConformanceReadOnly(t *testing.T) {
	runReadOnlySuite(t, "")
}

// broken wraps a MemoryStore and breaks one rule of the Store contract.
type broken struct {
	*kvcachetest.MemoryStore
	mode string
}

func (b broken) Get(ctx context.Context, keys []string) ([]kvcache.Result, error) {
	if b.mode == "ignores-context" {
		ctx = context.Background()
	}
	res, err := b.MemoryStore.Get(ctx, keys)
	if b.mode == "reverses-results" && len(res) > 1 {
		slices.Reverse(res)
	}
	return res, err
}

func (b broken) Set(ctx context.Context, entries []kvcache.Entry) error {
	switch b.mode {
	case "ignores-context":
		ctx = context.Background()
	case "ignores-ttl":
		entries = slices.Clone(entries)
		for i := range entries {
			entries[i].TTL = 0
		}
	}
	return b.MemoryStore.Set(ctx, entries)
}

// aliasing keeps the caller's buffers instead of copying them.
type aliasing struct {
	*kvcachetest.MemoryStore
	kept map[string][]byte
}

func (a *aliasing) Set(_ context.Context, entries []kvcache.Entry) error {
	for _, e := range entries {
		a.kept[e.Key] = e.Value
	}
	return nil
}

func (a *aliasing) Get(ctx context.Context, keys []string) ([]kvcache.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := make([]kvcache.Result, len(keys))
	for i, k := range keys {
		v, ok := a.kept[k]
		res[i] = kvcache.Result{Value: v, Found: ok}
	}
	return res, nil
}

// TestBrokenStoreHelper is run in a child process by TestSuiteCatchesBrokenStores.
func TestBrokenStoreHelper(t *testing.T) {
	mode := os.Getenv("KVCACHETEST_BROKEN_MODE")
	if mode == "" {
		t.Skip("run by TestSuiteCatchesBrokenStores")
	}
	if ro, ok := strings.CutPrefix(mode, "read-only-"); ok {
		runReadOnlySuite(t, ro)
		return
	}
	kvcachetest.RunStoreTests(t, func(*testing.T) kvcache.Store {
		if mode == "keeps-buffers" {
			return &aliasing{MemoryStore: kvcachetest.NewMemoryStore(), kept: map[string][]byte{}}
		}
		return broken{MemoryStore: kvcachetest.NewMemoryStore(), mode: mode}
	})
}

// TestSuiteCatchesBrokenStores shows the suite can fail: each broken store must
// fail the subtest that checks the rule it breaks.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for mode, subtest := range map[string]string{
		"reverses-results": "GetFoundAndNotFoundInOrder",
		"ignores-ttl":      "SetWithTTL",
		"ignores-context":  "ContextDone",
		"keeps-buffers":    "ValuesAreNotShared",
		// A read-only store must declare itself and refuse every write.
		"read-only-undeclared":     "RejectsWrites",
		"read-only-accepts-writes": "RejectsWrites",
	} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenStoreHelper$/^"+subtest+"$", "-test.v")
			cmd.Env = append(os.Environ(), "KVCACHETEST_BROKEN_MODE="+mode)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite passed a store that %s:\n%s", mode, out)
			require.Contains(t, string(out), "--- FAIL: TestBrokenStoreHelper/"+subtest)
		})
	}
}

func TestHostEvents(t *testing.T) {
	id := component.MustNewID("memkv")
	var ext struct {
		component.StartFunc
		component.ShutdownFunc
	}
	h := kvcachetest.NewHost(map[component.ID]component.Component{id: ext})
	require.Len(t, h.GetExtensions(), 1)
	for i := 0; i < 1005; i++ {
		componentstatus.ReportStatus(h, componentstatus.NewEvent(componentstatus.StatusOK))
	}
	componentstatus.ReportStatus(h, componentstatus.NewRecoverableErrorEvent(errors.New("last")))
	n := 0
	var last *componentstatus.Event
	for len(h.Events()) > 0 {
		last = <-h.Events()
		n++
	}
	require.Equal(t, 1000, n, "keeps the last 1,000 events")
	require.Equal(t, componentstatus.StatusRecoverableError, last.Status())
}

func TestMemoryStoreFaults(t *testing.T) {
	ctx := context.Background()
	m := kvcachetest.NewMemoryStore()
	m.Put("k", "v")
	boom := errors.New("boom")
	m.SetError(boom)
	_, err := m.Get(ctx, []string{"k"})
	require.ErrorIs(t, err, boom)
	m.SetError(nil)

	m.SetDelay(time.Hour)
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = m.Get(tctx, []string{"k"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	m.SetDelay(0)

	res, err := m.Get(ctx, []string{"k"})
	require.NoError(t, err)
	require.Equal(t, "v", string(res[0].Value))
	require.Equal(t, kvcachetest.Stats{GetCalls: 3, KeysRead: 3}, m.Stats())
	m.Remove("k")
	res, err = m.Get(ctx, []string{"k"})
	require.NoError(t, err)
	require.False(t, res[0].Found, "Remove deletes behind the callers' backs")

	var got [][]string
	unsub := m.OnInvalidate(func(keys []string) { got = append(got, keys) })
	m.Invalidate([]string{"k"})
	m.Invalidate(nil)
	unsub()
	m.Invalidate([]string{"after"})
	require.Equal(t, [][]string{{"k"}, nil}, got)
	require.Zero(t, m.Subscribers())

	require.NoError(t, m.Close(ctx))
	require.True(t, m.Closed())
	_, err = m.Get(ctx, []string{"k"})
	require.ErrorIs(t, err, kvcachetest.ErrClosed)
}
