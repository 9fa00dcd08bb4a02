package filewatch

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const eventually = 5 * time.Second

// quiet is how long the negative checks listen for a signal that must not come.
const quiet = 200 * time.Millisecond

func start(t *testing.T, path string, opts Options) *Watcher {
	t.Helper()
	w := New(path, zap.NewNop(), opts)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return w
}

func waitSignal(t *testing.T, w *Watcher, what string) {
	t.Helper()
	select {
	case <-w.C():
	case <-time.After(eventually):
		t.Fatalf("no signal after %s", what)
	}
}

func noSignal(t *testing.T, w *Watcher, what string) {
	t.Helper()
	select {
	case <-w.C():
		t.Fatalf("unexpected signal after %s", what)
	case <-time.After(quiet):
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

// writeInPlace overwrites the start of an existing file without truncating
// it: one write event, so no signal is left over for the next check.
func writeInPlace(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte(content), 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// writeAtomic writes a temporary file next to path and renames it over path.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	write(t, tmp, content)
	require.NoError(t, os.Rename(tmp, path))
}

func TestWriteRenameAndInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	write(t, path, "v1")
	w := start(t, path, Options{})

	writeAtomic(t, path, "v2")
	waitSignal(t, w, "write+rename")
	write(t, path, "v3")
	waitSignal(t, w, "in-place write")
	require.NoError(t, os.Remove(path))
	waitSignal(t, w, "remove")
}

func TestRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	write(t, "token", "v1")
	w := start(t, "token", Options{})
	writeAtomic(t, filepath.Join(dir, "token"), "v2")
	waitSignal(t, w, "write+rename")
}

func TestUnrelatedChangesAreIgnored(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	write(t, path, "v1")
	w := start(t, path, Options{})

	write(t, filepath.Join(dir, "other"), "x")
	write(t, filepath.Join(dir, "token.bak"), "x")
	writeAtomic(t, filepath.Join(dir, "other"), "y")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	write(t, filepath.Join(dir, "sub", "token"), "x")
	noSignal(t, w, "changes to other files")

	write(t, path, "v2")
	waitSignal(t, w, "a change to the file itself")
}

// k8sVolume mimics a Kubernetes secret or configmap volume: dir/name ->
// ..data/name, dir/..data -> ..gen_N; an update writes ..gen_N+1, renames a
// new ..data link over the old one and removes ..gen_N.
type k8sVolume struct {
	t   *testing.T
	dir string
	gen int
}

func newK8sVolume(t *testing.T, name, content string) *k8sVolume {
	v := &k8sVolume{t: t, dir: t.TempDir()}
	v.swap(name, content)
	require.NoError(t, os.Symlink(filepath.Join("..data", name), filepath.Join(v.dir, name)))
	return v
}

func (v *k8sVolume) genDir() string { return filepath.Join(v.dir, fmt.Sprintf("..gen_%d", v.gen)) }

func (v *k8sVolume) swap(name, content string) {
	t := v.t
	old := v.genDir()
	v.gen++
	require.NoError(t, os.Mkdir(v.genDir(), 0o700))
	write(t, filepath.Join(v.genDir(), name), content)
	tmp := filepath.Join(v.dir, "..data_tmp")
	require.NoError(t, os.Symlink(filepath.Base(v.genDir()), tmp))
	require.NoError(t, os.Rename(tmp, filepath.Join(v.dir, "..data")))
	if v.gen > 1 {
		require.NoError(t, os.RemoveAll(old))
	}
}

func TestKubernetesSymlinkSwap(t *testing.T) {
	vol := newK8sVolume(t, "token", "gen-1")
	w := start(t, filepath.Join(vol.dir, "token"), Options{})
	for i := 2; i <= 5; i++ {
		vol.swap("token", fmt.Sprintf("gen-%d", i))
		waitSignal(t, w, fmt.Sprintf("swap %d", i))
		// The directory the path now resolves to is watched (and only it).
		require.Eventually(t, func() bool {
			w.mu.Lock()
			defer w.mu.Unlock()
			return w.tdir == vol.genDir()
		}, eventually, time.Millisecond)
	}
	// A write in place inside the current generation (not what the kubelet
	// does, but what a debugging human might) is seen through the target's
	// directory.
	for len(w.C()) > 0 {
		<-w.C()
	}
	write(t, filepath.Join(vol.genDir(), "token"), "edited")
	waitSignal(t, w, "in-place write to the link's target")
}

func TestSymlinkIntoAnotherDirectory(t *testing.T) {
	linkDir, dirA, dirB := t.TempDir(), t.TempDir(), t.TempDir()
	a, b := filepath.Join(dirA, "a"), filepath.Join(dirB, "b")
	write(t, a, "a1")
	write(t, b, "b1")
	link := filepath.Join(linkDir, "token")
	require.NoError(t, os.Symlink(a, link))
	w := start(t, link, Options{})

	// Each step below causes exactly one relevant event, so no signal is left
	// over for the last, negative, check.
	writeInPlace(t, a, "a2")
	waitSignal(t, w, "in-place write to the target")

	tmp := filepath.Join(linkDir, "tmp-link")
	require.NoError(t, os.Symlink(b, tmp))
	require.NoError(t, os.Rename(tmp, link))
	waitSignal(t, w, "link swapped to another directory")

	writeInPlace(t, b, "b2")
	waitSignal(t, w, "in-place write to the new target")
	writeInPlace(t, a, "a3")
	noSignal(t, w, "a write to the old target")
}

func TestSymlinkWithinDirectory(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "token-v1")
	write(t, target, "v1")
	link := filepath.Join(dir, "token")
	require.NoError(t, os.Symlink("token-v1", link))
	w := start(t, link, Options{})

	write(t, target, "v2")
	waitSignal(t, w, "in-place write to a sibling target")
	w.mu.Lock()
	assert.Empty(t, w.tdir, "the file's own directory is not watched twice")
	w.mu.Unlock()
}

func TestDirectoryMissingAtStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	path := filepath.Join(dir, "token")
	w := New(path, zap.NewNop(), Options{RetryInterval: 10 * time.Millisecond})
	require.ErrorIs(t, w.Start(), os.ErrNotExist)
	t.Cleanup(w.Stop)

	require.NoError(t, os.Mkdir(dir, 0o700))
	write(t, path, "v1")
	waitSignal(t, w, "the directory and the file appeared")
	// From now on the directory is watched.
	require.Eventually(t, w.watching, eventually, time.Millisecond)
	for len(w.C()) > 0 {
		<-w.C()
	}
	writeAtomic(t, path, "v2")
	waitSignal(t, w, "write+rename after the directory appeared")
}

func TestDirectoryRemovedAndRecreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.Mkdir(dir, 0o700))
	path := filepath.Join(dir, "token")
	write(t, path, "v1")
	w := start(t, path, Options{RetryInterval: 10 * time.Millisecond})

	require.NoError(t, os.RemoveAll(dir))
	waitSignal(t, w, "the directory was removed")
	require.Eventually(t, func() bool { return !w.watching() }, eventually, time.Millisecond)

	require.NoError(t, os.Mkdir(dir, 0o700))
	write(t, path, "v2")
	waitSignal(t, w, "the directory came back")
	require.Eventually(t, w.watching, eventually, time.Millisecond)
	for len(w.C()) > 0 {
		<-w.C()
	}
	writeAtomic(t, path, "v3")
	waitSignal(t, w, "write+rename in the recreated directory")
}

func TestSyncReestablishesAndSignals(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	path := filepath.Join(dir, "token")
	w := New(path, zap.NewNop(), Options{RetryInterval: time.Hour})
	require.Error(t, w.Start())
	t.Cleanup(w.Stop)
	require.Error(t, w.Sync(), "still missing")
	require.Empty(t, w.C())

	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, w.Sync())
	require.Len(t, w.C(), 1, "a change while unwatched may have been missed: re-read")
	<-w.C()
	require.NoError(t, w.Sync())
	require.Empty(t, w.C(), "nothing to re-establish, no signal")

	write(t, path, "v1")
	waitSignal(t, w, "a write after Sync")
}

func TestStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	New(path, nil, Options{}).Stop() // without Start

	w := New(path, nil, Options{})
	require.NoError(t, w.Start())
	w.Stop()
	w.Stop()
	require.NoError(t, w.Sync(), "Sync after Stop does nothing")
	write(t, path, "v1")
	noSignal(t, w, "Stop")
	// goleak (TestMain) checks that no goroutine is left.
}

// runLoop runs the event loop on channels the test feeds, without fsnotify.
func runLoop(t *testing.T, opts Options) (*Watcher, chan fsnotify.Event, chan error) {
	t.Helper()
	opts.RetryInterval = time.Hour
	w := New(filepath.Join(t.TempDir(), "token"), zap.NewNop(), opts)
	events, errs := make(chan fsnotify.Event), make(chan error)
	w.wg.Add(1)
	go w.loop(events, errs)
	t.Cleanup(func() {
		close(events)
		w.wg.Wait()
	})
	return w, events, errs
}

func TestDelayCoalescesABurst(t *testing.T) {
	const delay = 300 * time.Millisecond
	w, events, _ := runLoop(t, Options{Delay: delay})
	ev := fsnotify.Event{Name: w.path, Op: fsnotify.Write}

	// Events closer together than the delay keep postponing the signal.
	for range 10 {
		events <- ev
		require.Empty(t, w.C(), "no signal while the file keeps changing")
		time.Sleep(10 * time.Millisecond)
	}
	last := time.Now()
	events <- ev
	<-w.C()
	require.GreaterOrEqual(t, time.Since(last), delay, "the signal waits for the delay of quiet")
	noSignal(t, w, "the burst was signalled")
}

func TestZeroDelaySignalsAtOnce(t *testing.T) {
	w, events, _ := runLoop(t, Options{})
	events <- fsnotify.Event{Name: w.path, Op: fsnotify.Create}
	waitSignal(t, w, "an event")
	events <- fsnotify.Event{Name: filepath.Join(w.dir, "other"), Op: fsnotify.Create}
	noSignal(t, w, "an unrelated event")
}

func TestWatcherErrorSignalsAndLogs(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	w, _, errs := runLoop(t, Options{})
	w.logger = zap.New(core)
	errs <- fsnotify.ErrEventOverflow
	waitSignal(t, w, "an overflow (events were lost)")
	require.Equal(t, 1, logs.FilterMessageSnippet("file watcher error").Len())
}

func TestRelevant(t *testing.T) {
	w := New("/vol/token", nil, Options{})
	w.target = "/elsewhere/real-token"
	for name, want := range map[string]bool{
		"/vol/token":              true,
		"/vol/..data":             true,
		"/vol/..data_tmp":         true,
		"/vol/..2024_01_01_00_00": true,
		"/elsewhere/real-token":   true,
		"/vol/other":              false,
		"/vol/.token.tmp":         false,
		"/vol/token.bak":          false,
		"/vol/sub/token":          false,
		"/elsewhere/other":        false,
		"/elsewhere/..data":       false,
		"/other/token":            false,
	} {
		assert.Equal(t, want, w.relevant(name), name)
	}
}

// writeThroughHardLink changes path's content through a hard link in another
// directory: the inode changes, but no watched directory sees an event, as
// on a file system that delivers no change notification.
func writeThroughHardLink(t *testing.T, path, content string) {
	t.Helper()
	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Link(path, link))
	writeInPlace(t, link, content)
}

// TestIntervalSignalsWithoutNotification (issue 9, case 20): a change that
// fsnotify does not report is signalled by the periodic fallback once it has
// settled; without Interval it is not signalled at all.
func TestIntervalSignalsWithoutNotification(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data")
	write(t, path, "v1")
	plain := start(t, path, Options{})
	w := start(t, path, Options{Interval: 20 * time.Millisecond, Delay: 100 * time.Millisecond})
	writeThroughHardLink(t, path, "v2")
	noSignal(t, plain, "a change fsnotify cannot see")
	waitSignal(t, w, "an Interval")
}

// TestIntervalWaitsForTheFileToSettle: a periodic look that lands in the
// middle of a write in several steps signals only once the file has stayed
// the same for Delay, and an unchanged file is never signalled (between a
// look and the receiver's read a writer could start).
func TestIntervalWaitsForTheFileToSettle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	write(t, path, "v1")
	w := start(t, path, Options{Interval: 5 * time.Millisecond, Delay: 150 * time.Millisecond})
	noSignal(t, w, "an unchanged file")

	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Link(path, link))
	f, err := os.OpenFile(link, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	for range 12 { // a write every 50ms for 600ms: never quiet for Delay
		_, err := f.WriteString("x")
		require.NoError(t, err)
		select {
		case <-w.C():
			t.Fatal("signalled while the file was still being written")
		case <-time.After(50 * time.Millisecond):
		}
	}
	waitSignal(t, w, "the writes stopped")
}

// TestIntervalStops: Stop ends the periodic goroutine (goleak checks), even
// without a successful Start of the fsnotify watch; the periodic look sees the
// file appear.
func TestIntervalStops(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	w := New(filepath.Join(dir, "data"), zap.NewNop(), Options{Interval: time.Millisecond, RetryInterval: time.Hour})
	require.Error(t, w.Start())
	require.NoError(t, os.Mkdir(dir, 0o700))
	write(t, filepath.Join(dir, "data"), "v1")
	waitSignal(t, w, "the file appeared with the directory unwatched")
	w.Stop()
	w.Stop()
}
