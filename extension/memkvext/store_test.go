package memkvext

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
	"github.com/otelcol-custom/otelcol-custom/extension/memkvext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/extension/memkvext/internal/metadatatest"
	"github.com/otelcol-custom/otelcol-custom/internal/statustest"
)

const eventually = 5 * time.Second

func testConfig() *Config {
	cfg := NewDefaultConfig()
	cfg.File.ReloadDelay = 10 * time.Millisecond
	return cfg
}

// newStore builds and starts a store; the test shuts it down.
func newStore(t *testing.T, cfg *Config, host component.Host) *Store {
	t.Helper()
	s, err := NewStore(cfg, componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	return s
}

func getOne(t *testing.T, s kvcache.Store, key string) (string, bool) {
	t.Helper()
	res, err := s.Get(context.Background(), []string{key})
	require.NoError(t, err)
	return string(res[0].Value), res[0].Found
}

func setOne(t *testing.T, s kvcache.Store, key, value string, ttl time.Duration) {
	t.Helper()
	require.NoError(t, s.Set(context.Background(), []kvcache.Entry{{Key: key, Value: []byte(value), TTL: ttl}}))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

// replaceFile writes content next to path and renames it over path, as an
// editor or a deployment tool does.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	writeFile(t, tmp, content)
	require.NoError(t, os.Rename(tmp, path))
}

func waitValue(t *testing.T, s kvcache.Store, key, want string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v, ok := getOne(t, s, key)
		assert.True(c, ok)
		assert.Equal(c, want, v)
	}, eventually, 5*time.Millisecond, "key %q", key)
}

func TestConformanceStore(t *testing.T) {
	kvcachetest.RunStoreTests(t, func(t *testing.T) kvcache.Store {
		return newStore(t, testConfig(), componenttest.NewNopHost())
	})
}

func TestConformanceExtension(t *testing.T) {
	kvcachetest.RunStoreTests(t, func(t *testing.T) kvcache.Store {
		f := NewFactory()
		ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), f.CreateDefaultConfig())
		require.NoError(t, err)
		id := component.NewID(f.Type())
		host := kvcachetest.NewHost(map[component.ID]component.Component{id: ext})
		require.NoError(t, ext.Start(context.Background(), host))
		t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
		s, err := kvcache.GetStore(context.Background(), host, id, component.MustNewID("kvcache"))
		require.NoError(t, err)
		return s
	})
}

func TestLoadFileFormats(t *testing.T) {
	for _, name := range []string{"lookup.yaml", "lookup.json", "lookup.csv"} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			cfg.File.Path = filepath.Join("testdata", name)
			cfg.File.Watch = false
			s := newStore(t, cfg, componenttest.NewNopHost())
			res, err := s.Get(context.Background(), []string{"checkout", "missing", "team-info"})
			require.NoError(t, err)
			assert.Equal(t, kvcache.Result{Value: []byte("payments"), Found: true}, res[0])
			assert.False(t, res[1].Found)
			assert.JSONEq(t, `{"name":"Payments","oncall":"alice","size":5,"active":true,"nested":{"tier":1}}`, string(res[2].Value))
		})
	}
}

func TestStartFails(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file, content, wantErr string
		maxEntries                   int
		maxBytes                     int64
	}{
		{name: "missing file", file: "missing.yaml", wantErr: "no such file"},
		{name: "invalid content", file: "bad.json", content: `{"a": "s3cr3t",}`, wantErr: "invalid character"},
		{name: "too many entries", file: "many.csv", content: "key,value\na,1\nb,2\nc,3\n", maxEntries: 2, wantErr: `line 4, column 1 ("key"): more entries than max_entries (2)`},
		{name: "too many bytes", file: "big.csv", content: "key,value\na,0123456789\n", maxBytes: 10, wantErr: `line 2, column 1 ("key"): more bytes of keys and values than max_bytes (10)`},
		{name: "file far larger than max_bytes", file: "huge.csv", content: "key,value\nk," + strings.Repeat("v", 2<<20), maxBytes: 1, wantErr: "larger than 1048578 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.File.Path = filepath.Join(dir, tt.file)
			if tt.content != "" {
				writeFile(t, cfg.File.Path, tt.content)
			}
			if tt.maxEntries > 0 {
				cfg.MaxEntries = tt.maxEntries
			}
			if tt.maxBytes > 0 {
				cfg.MaxBytes = tt.maxBytes
			}
			s, err := NewStore(cfg, componenttest.NewNopTelemetrySettings())
			require.NoError(t, err)
			err = s.Start(context.Background(), componenttest.NewNopHost())
			require.ErrorContains(t, err, tt.wantErr)
			require.ErrorContains(t, err, cfg.File.Path)
			require.NotContains(t, err.Error(), "s3cr3t")
			require.NoError(t, s.Shutdown(context.Background()))
		})
	}
}

func TestLifecycle(t *testing.T) {
	s, err := NewStore(testConfig(), componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	// Usable before Start.
	setOne(t, s, "k", "v", 0)
	require.NoError(t, s.Start(context.Background(), componenttest.NewNopHost()))
	require.ErrorContains(t, s.Start(context.Background(), componenttest.NewNopHost()), "already started")
	require.NoError(t, s.Shutdown(context.Background()))
	require.NoError(t, s.Shutdown(context.Background()), "Shutdown twice")
	require.NoError(t, s.Close(context.Background()))
	// Still usable after Shutdown.
	v, ok := getOne(t, s, "k")
	require.True(t, ok)
	require.Equal(t, "v", v)

	s2, err := NewStore(testConfig(), componenttest.NewNopTelemetrySettings())
	require.NoError(t, err)
	require.NoError(t, s2.Shutdown(context.Background()), "Shutdown without Start")

	bad := testConfig()
	bad.MaxEntries = 0
	_, err = NewStore(bad, componenttest.NewNopTelemetrySettings())
	require.ErrorContains(t, err, "max_entries")
}

func TestDefaultTTLAndNegativeTTL(t *testing.T) {
	cfg := testConfig()
	cfg.DefaultTTL = 200 * time.Millisecond
	s := newStore(t, cfg, componenttest.NewNopHost())
	setOne(t, s, "default", "d", 0)
	setOne(t, s, "long", "l", time.Hour)
	_, ok := getOne(t, s, "default")
	require.True(t, ok)
	require.Eventually(t, func() bool {
		_, ok := getOne(t, s, "default")
		return !ok
	}, eventually, 10*time.Millisecond, "an entry written without a TTL expires after default_ttl")
	_, ok = getOne(t, s, "long")
	require.True(t, ok, "an entry's own TTL wins over default_ttl")

	setOne(t, s, "long", "ignored", -time.Second)
	_, ok = getOne(t, s, "long")
	require.False(t, ok, "a negative TTL deletes the entry")
}

func TestBoundedByEntries(t *testing.T) {
	cfg := testConfig()
	cfg.MaxEntries = 100
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	s, err := NewStore(cfg, tel.NewTelemetrySettings())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	for i := range 1000 {
		setOne(t, s, fmt.Sprintf("key-%04d", i), "v", 0)
	}
	s.written.CleanUp()
	require.LessOrEqual(t, s.written.EstimatedSize(), 100)
	require.Positive(t, s.evictions.Load())
	n := 0
	for i := range 1000 {
		if _, ok := getOne(t, s, fmt.Sprintf("key-%04d", i)); ok {
			n++
		}
	}
	require.LessOrEqual(t, n, 100)
	require.Positive(t, n)

	size := int64(s.written.EstimatedSize())
	metadatatest.AssertEqualMemkvEntries(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("layer", "file")), Value: 0},
		{Attributes: attribute.NewSet(attribute.String("layer", "written")), Value: size},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualMemkvBytes(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("layer", "file")), Value: 0},
		{Attributes: attribute.NewSet(attribute.String("layer", "written")), Value: size * int64(len("key-0000v"))},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualMemkvEvictions(t, tel, []metricdata.DataPoint[int64]{
		{Value: 1000 - size},
	}, metricdatatest.IgnoreTimestamp())
}

func TestBoundedByBytes(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBytes = 10_000
	s := newStore(t, cfg, componenttest.NewNopHost())
	value := strings.Repeat("x", 96) // 100 bytes with a 4-byte key
	for i := range 1000 {
		setOne(t, s, fmt.Sprintf("%04d", i), value, 0)
	}
	s.written.CleanUp()
	require.LessOrEqual(t, s.written.EstimatedSize(), 100)
	require.LessOrEqual(t, s.writtenBytes.Load(), int64(10_000))
	require.Positive(t, s.evictions.Load())
}

func TestWeigher(t *testing.T) {
	w := weigher(100, 10_000) // floor 100
	assert.EqualValues(t, 100, w("k", writtenEntry{size: 3}))
	assert.EqualValues(t, 5000, w("k", writtenEntry{size: 5000}))
	w = weigher(3, 10) // floor rounds up, so that 3 entries fit at most
	assert.EqualValues(t, 4, w("k", writtenEntry{size: 1}))
	w = weigher(1_000_000, 1000) // more entries than bytes: floor 1
	assert.EqualValues(t, 1, w("", writtenEntry{size: 0}))
	w = weigher(1, 1<<40) // saturates
	assert.EqualValues(t, uint32(1<<32-1), w("k", writtenEntry{size: 1}))
}

func TestLayers(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.File.Path = filepath.Join(dir, "lookup.yaml")
	writeFile(t, cfg.File.Path, "a: file-a\nb: file-b\nc: file-c\n")
	s := newStore(t, cfg, componenttest.NewNopHost())

	setOne(t, s, "a", "written-a", 0)
	setOne(t, s, "b", "written-b", 0)
	v, _ := getOne(t, s, "a")
	require.Equal(t, "written-a", v, "a write overrides the file")

	require.NoError(t, s.Delete(context.Background(), []string{"a", "c"}))
	v, _ = getOne(t, s, "a")
	require.Equal(t, "file-a", v, "deleting the override shows the file value again")
	v, _ = getOne(t, s, "c")
	require.Equal(t, "file-c", v, "Delete does not remove file entries")

	// A reload that changes b drops its override; one that leaves a key alone keeps it.
	setOne(t, s, "c", "written-c", 0)
	replaceFile(t, cfg.File.Path, "a: file-a\nb: file-b2\nc: file-c\nd: file-d\n")
	waitValue(t, s, "b", "file-b2")
	waitValue(t, s, "d", "file-d")
	v, _ = getOne(t, s, "c")
	require.Equal(t, "written-c", v, "an unchanged file key keeps its override")
}

func TestDropOverridesBothWays(t *testing.T) {
	// dropOverrides walks the smaller of the two sides; both walks must agree.
	for _, written := range []int{2, 50} {
		t.Run(fmt.Sprintf("%d written", written), func(t *testing.T) {
			s := newStore(t, testConfig(), componenttest.NewNopHost())
			for i := range written {
				setOne(t, s, fmt.Sprintf("k%d", i), "w", 0)
			}
			old := testSnapshot(t, map[string]string{"k0": "x", "k1": "y"})
			cur := testSnapshot(t, map[string]string{"k0": "x", "k1": "changed", "k2": "new"})
			s.written.CleanUp()
			s.dropOverrides(old, cur)
			_, ok0 := s.written.GetIfPresent("k0")
			_, ok1 := s.written.GetIfPresent("k1")
			assert.True(t, ok0, "unchanged key keeps its override")
			assert.False(t, ok1, "changed key loses its override")
			if written > 2 {
				_, ok2 := s.written.GetIfPresent("k2")
				assert.False(t, ok2, "added key loses its override")
				_, ok3 := s.written.GetIfPresent("k3")
				assert.True(t, ok3, "key not in the file keeps its entry")
			}
		})
	}
}

// testSnapshot builds a snapshot of entries.
func testSnapshot(t *testing.T, entries map[string]string) *snapshot {
	b := newSnapshotBuilder(len(entries), 1<<20, 0, emptySnapshot)
	for k, v := range entries {
		require.NoError(t, b.add([]byte(k+v), len(k)))
	}
	return b.finish(0)
}

// invalidations records OnInvalidate calls.
type invalidations struct {
	mu    sync.Mutex
	calls [][]string
}

func (r *invalidations) fn(keys []string) {
	r.mu.Lock()
	r.calls = append(r.calls, keys)
	r.mu.Unlock()
}

func (r *invalidations) get() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.calls...)
}

func TestInvalidationBetweenOwners(t *testing.T) {
	f := NewFactory()
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), f.CreateDefaultConfig())
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	p := ext.(kvcache.Provider)
	a, err := p.Store(context.Background(), component.MustNewIDWithName("kvcache", "a"))
	require.NoError(t, err)
	b, err := p.Store(context.Background(), component.MustNewIDWithName("kvcache", "b"))
	require.NoError(t, err)

	var gotA, gotB invalidations
	a.(kvcache.Invalidator).OnInvalidate(gotA.fn)
	unsubB := b.(kvcache.Invalidator).OnInvalidate(gotB.fn)

	setOne(t, a, "k1", "v", 0)
	require.NoError(t, b.Delete(context.Background(), []string{"k2", "k3"}))
	require.NoError(t, a.Set(context.Background(), nil))

	assert.Equal(t, [][]string{{"k2", "k3"}}, gotA.get(), "a hears b's delete, not its own write")
	assert.Equal(t, [][]string{{"k1"}}, gotB.get(), "b hears a's write, not its own delete")

	v, ok := getOne(t, b, "k1")
	require.True(t, ok, "owners share one keyspace")
	require.Equal(t, "v", v)

	unsubB()
	unsubB() // twice is fine
	setOne(t, a, "k4", "v", 0)
	assert.Len(t, gotB.get(), 1, "no calls after unsubscribe")

	// Closing a handle ends its subscriptions.
	b.(kvcache.Invalidator).OnInvalidate(gotB.fn)
	require.NoError(t, b.Close(context.Background()))
	setOne(t, a, "k5", "v", 0)
	assert.Len(t, gotB.get(), 1, "no calls after Close")
	require.Len(t, *ext.(*memkv).store.subs.Load(), 1, "only a's subscription is left")
}

func TestDirectStoreInvalidation(t *testing.T) {
	s := newStore(t, testConfig(), componenttest.NewNopHost())
	var got invalidations
	s.OnInvalidate(got.fn)
	setOne(t, s, "k", "v", 0)
	require.Empty(t, got.get(), "a direct user is not told about its own writes")
}

func waitStatus(t *testing.T, h *statustest.Host, want componentstatus.Status) *componentstatus.Event {
	t.Helper()
	var ev *componentstatus.Event
	require.Eventually(t, func() bool {
		ev = h.Last()
		return ev != nil && ev.Status() == want
	}, eventually, 5*time.Millisecond, "status %v", want)
	return ev
}

func TestReloadWriteAndRename(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.File.Path = filepath.Join(dir, "lookup.json")
	writeFile(t, cfg.File.Path, `{"k": "v1", "gone": "x"}`)
	host := statustest.NewHost()
	s := newStore(t, cfg, host)
	var got invalidations
	s.OnInvalidate(got.fn)

	replaceFile(t, cfg.File.Path, `{"k": "v2", "new": "n"}`)
	waitValue(t, s, "k", "v2")
	waitValue(t, s, "new", "n")
	_, ok := getOne(t, s, "gone")
	require.False(t, ok, "keys removed from the file are gone")
	waitStatus(t, host, componentstatus.StatusOK)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Contains(c, got.get(), []string(nil), "a reload notifies everything changed")
	}, eventually, 5*time.Millisecond)

	// Writing in place is seen as well.
	writeFile(t, cfg.File.Path, `{"k": "v3"}`)
	waitValue(t, s, "k", "v3")
}

func TestReloadSymlinkSwap(t *testing.T) {
	// The layout of a Kubernetes ConfigMap volume: lookup.csv -> ..data/lookup.csv,
	// ..data -> ..v1; an update writes ..v2 and renames a new ..data link over the old.
	dir := t.TempDir()
	for v, content := range map[string]string{"..v1": "key,value\nk,v1\n", "..v2": "key,value\nk,v2\n"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, v), 0o700))
		writeFile(t, filepath.Join(dir, v, "lookup.csv"), content)
	}
	require.NoError(t, os.Symlink("..v1", filepath.Join(dir, "..data")))
	require.NoError(t, os.Symlink(filepath.Join("..data", "lookup.csv"), filepath.Join(dir, "lookup.csv")))

	cfg := testConfig()
	cfg.File.Path = filepath.Join(dir, "lookup.csv")
	host := statustest.NewHost()
	s := newStore(t, cfg, host)
	waitValue(t, s, "k", "v1")

	require.NoError(t, os.Symlink("..v2", filepath.Join(dir, "..data_tmp")))
	require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "..v1")))
	waitValue(t, s, "k", "v2")
	waitStatus(t, host, componentstatus.StatusOK)
}

func TestReloadSymlinkToOtherDirectory(t *testing.T) {
	// The path is a link into another directory; an in-place change of the target
	// and a swap of the link are both seen.
	linkDir, targetDir := t.TempDir(), t.TempDir()
	target1, target2 := filepath.Join(targetDir, "a.yaml"), filepath.Join(targetDir, "b.yaml")
	writeFile(t, target1, "k: a1\n")
	writeFile(t, target2, "k: b1\n")
	link := filepath.Join(linkDir, "lookup.yaml")
	require.NoError(t, os.Symlink(target1, link))

	cfg := testConfig()
	cfg.File.Path = link
	s := newStore(t, cfg, componenttest.NewNopHost())
	waitValue(t, s, "k", "a1")

	writeFile(t, target1, "k: a2\n")
	waitValue(t, s, "k", "a2")

	tmp := filepath.Join(linkDir, "tmp-link")
	require.NoError(t, os.Symlink(target2, tmp))
	require.NoError(t, os.Rename(tmp, link))
	waitValue(t, s, "k", "b1")
}

func TestReloadBrokenFileKeepsData(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.File.Path = filepath.Join(dir, "lookup.yaml")
	writeFile(t, cfg.File.Path, "k: good\n")

	core, logs := observer.New(zap.DebugLevel)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	s, err := NewStore(cfg, set)
	require.NoError(t, err)
	host := statustest.NewHost()
	require.NoError(t, s.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	require.Zero(t, len(host.Events()), "the initial load reports nothing (Start's result does)")

	replaceFile(t, cfg.File.Path, "k: s3cr3t\nk: duplicate\n")
	ev := waitStatus(t, host, componentstatus.StatusRecoverableError)
	require.ErrorContains(t, ev.Err(), `duplicate key "k"`)
	v, _ := getOne(t, s, "k")
	require.Equal(t, "good", v, "a failed reload keeps the previous data")

	// The file disappears: still the old data, still reported.
	n := len(host.Events())
	require.NoError(t, os.Remove(cfg.File.Path))
	require.Eventually(t, func() bool { return len(host.Events()) > n }, eventually, 5*time.Millisecond)
	ev = waitStatus(t, host, componentstatus.StatusRecoverableError)
	require.ErrorIs(t, ev.Err(), os.ErrNotExist)
	v, _ = getOne(t, s, "k")
	require.Equal(t, "good", v)

	// The same good content comes back: OK again, even though nothing changed.
	replaceFile(t, cfg.File.Path, "k: good\n")
	waitStatus(t, host, componentstatus.StatusOK)

	replaceFile(t, cfg.File.Path, "k: better\n")
	waitValue(t, s, "k", "better")

	for _, entry := range logs.All() {
		require.NotContains(t, fmt.Sprint(entry.Message, entry.ContextMap()), "s3cr3t", "logs must not show values")
	}
	require.NotEmpty(t, logs.FilterMessageSnippet("failed").All(), "failures are logged")

	metadatatest.AssertEqualMemkvReloads(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("outcome", "success")), Value: 3},
		{Attributes: attribute.NewSet(attribute.String("outcome", "failure")), Value: 2},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualMemkvEntries(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("layer", "file")), Value: 1},
		{Attributes: attribute.NewSet(attribute.String("layer", "written")), Value: 0},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualMemkvBytes(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("layer", "file")), Value: int64(len("kbetter"))},
		{Attributes: attribute.NewSet(attribute.String("layer", "written")), Value: 0},
	}, metricdatatest.IgnoreTimestamp())
}

func TestUnrelatedChangesDoNotReload(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.File.Path = filepath.Join(dir, "lookup.yaml")
	writeFile(t, cfg.File.Path, "k: v\n")
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	s, err := NewStore(cfg, tel.NewTelemetrySettings())
	require.NoError(t, err)
	host := statustest.NewHost()
	require.NoError(t, s.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, s.Shutdown(context.Background())) })
	var got invalidations
	s.OnInvalidate(got.fn)

	// Another file in the directory, and a rewrite with the same content.
	writeFile(t, filepath.Join(dir, "other.yaml"), "x: y\n")
	replaceFile(t, cfg.File.Path, "k: v\n")
	// Then a real change, which must be the only reload after the first load.
	replaceFile(t, cfg.File.Path, "k: v2\n")
	waitValue(t, s, "k", "v2")
	require.Len(t, got.get(), 1)
	metadatatest.AssertEqualMemkvReloads(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("outcome", "success")), Value: 2},
	}, metricdatatest.IgnoreTimestamp())
}

func TestWatchDisabled(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.File.Path = filepath.Join(dir, "lookup.yaml")
	cfg.File.Watch = false
	writeFile(t, cfg.File.Path, "k: v1\n")
	s := newStore(t, cfg, componenttest.NewNopHost())
	require.Nil(t, s.stop, "no watcher")
	replaceFile(t, cfg.File.Path, "k: v2\n")
	v, _ := getOne(t, s, "k")
	require.Equal(t, "v1", v)
}

func TestContextDone(t *testing.T) {
	s := newStore(t, testConfig(), componenttest.NewNopHost())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Get(ctx, []string{"k"})
	require.True(t, errors.Is(err, context.Canceled))
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	require.Equal(t, metadata.Type, f.Type())
	require.Equal(t, NewDefaultConfig(), f.CreateDefaultConfig())
	_, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), &Config{})
	require.ErrorContains(t, err, "max_entries")
}

// A table whose reload fails on its last row keeps every row of the previous
// load: the rows before the bad one are not half-loaded.
func TestReloadBadCSVRowKeepsAllPreviousRows(t *testing.T) {
	cfg := testConfig()
	cfg.File.Path = filepath.Join(t.TempDir(), "services.csv")
	cfg.File.CSV = CSVConfig{KeyColumns: []string{"service", "env"}, Types: map[string]string{"tier": CSVTypeInt}}
	writeFile(t, cfg.File.Path, "service,env,team,tier\ncheckout,prod,payments,1\ncart,prod,web,2\n")
	host := statustest.NewHost()
	s := newStore(t, cfg, host)
	v, _ := getOne(t, s, "checkout:prod")
	require.JSONEq(t, `{"team":"payments","tier":1}`, v)

	replaceFile(t, cfg.File.Path, "service,env,team,tier\ncheckout,prod,payments-new,1\nsearch,prod,web,3\ncart,prod,web,s3cr3t\n")
	ev := waitStatus(t, host, componentstatus.StatusRecoverableError)
	require.ErrorContains(t, ev.Err(), `line 4, column 4 ("tier"): not an int`)
	require.NotContains(t, ev.Err().Error(), "s3cr3t")
	v, _ = getOne(t, s, "checkout:prod")
	require.JSONEq(t, `{"team":"payments","tier":1}`, v, "rows before the bad one are not loaded")
	_, found := getOne(t, s, "search:prod")
	require.False(t, found)
	v, _ = getOne(t, s, "cart:prod")
	require.JSONEq(t, `{"team":"web","tier":2}`, v)

	replaceFile(t, cfg.File.Path, "service,env,team,tier\ncheckout,prod,payments-new,1\nsearch,prod,web,3\n")
	waitValue(t, s, "checkout:prod", `{"team":"payments-new","tier":1}`)
	v, _ = getOne(t, s, "search:prod")
	require.Equal(t, `{"team":"web","tier":3}`, v)
	_, found = getOne(t, s, "cart:prod")
	require.False(t, found, "a row removed from the file is gone")
}
