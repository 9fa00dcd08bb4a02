// Package filewatch signals when a file may have changed, for components that
// hot-reload a file (bearerauth's token files, memkv's key-value file).
//
// fsnotify does the watching. What it leaves to its users, and what this
// package adds once, is the usual way files are replaced in production:
//   - write a temporary file and rename it over the path (editors, deployment
//     tools): the watched inode never changes, a new one takes its name;
//   - Kubernetes secret and configmap volumes: the path is a symbolic link
//     name -> ..data/name, and an update renames a new ..data link into place;
//     the path itself never gets an event;
//   - a path that is a symbolic link into another directory, whose target is
//     written in place or which is swapped for a link to another file;
//   - a directory that does not exist yet when watching starts, or that is
//     removed and created again (the kernel drops a watch on a deleted
//     directory).
//
// So it watches the file's directory, plus the directory of the file the path
// resolves to, and picks the events that can change what reading the path
// returns. Receivers re-read the file on a signal; a spurious signal only costs
// a read.
package filewatch // import "github.com/otelcol-custom/otelcol-custom/internal/filewatch"

import (
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// DefaultRetryInterval is how often the directory is tried again while it
// cannot be watched, when Options.RetryInterval is zero.
const DefaultRetryInterval = time.Second

// Options tune a Watcher. The zero value signals at once and retries a missing
// directory every DefaultRetryInterval.
type Options struct {
	// Delay is how long the file must stay quiet after an event before C
	// receives, so that a burst of writes leads to one signal. Zero signals at
	// once (signals are still coalesced while the receiver is busy).
	Delay time.Duration
	// RetryInterval is how often the watcher tries again to watch the file's
	// directory while it cannot (missing at start, or removed later).
	RetryInterval time.Duration
	// Interval, when set, also looks at the file every Interval whatever
	// fsnotify reports, and signals C once a change it sees has settled for
	// Delay: the fallback for file systems that deliver no change notification
	// (network file systems, a file changed through a hard link elsewhere,
	// inotify limits). Zero: none.
	Interval time.Duration
}

// Watcher signals on C when the file at a path may have changed. Create it
// with New, then Start; Stop releases it.
type Watcher struct {
	path   string // absolute
	dir    string // directory of path
	base   string // file name of path
	logger *zap.Logger
	delay  time.Duration
	retry  time.Duration
	every  time.Duration
	c      chan struct{}
	quit   chan struct{} // closed by Stop; ends the periodic goroutine
	seed   maphash.Seed  // for the periodic look's content hash

	mu      sync.Mutex
	fsw     *fsnotify.Watcher // nil until the first successful NewWatcher
	started bool              // Start has run: re-establishing the watch later signals
	stopped bool
	target  string // path resolved, spelled under the watched directory that holds it; "" if unresolved
	tdir    string // extra watched directory of target ("" if none, or it is dir itself)
	tdirErr string // target directory whose watch failure was logged (logged once)

	wg sync.WaitGroup
}

// New returns a watcher for path. It watches nothing until Start.
func New(path string, logger *zap.Logger, opts Options) *Watcher {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = DefaultRetryInterval
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Watcher{
		path:   abs,
		dir:    filepath.Dir(abs),
		base:   filepath.Base(abs),
		logger: logger,
		delay:  opts.Delay,
		retry:  opts.RetryInterval,
		every:  opts.Interval,
		c:      make(chan struct{}, 1),
		quit:   make(chan struct{}),
		seed:   maphash.MakeSeed(),
	}
}

// C receives a value after the file may have changed. Values are coalesced
// (the channel holds one), so a receiver that is busy reading gets one more
// signal, not one per event. C is never closed.
func (w *Watcher) C() <-chan struct{} { return w.c }

// Start begins watching. An error means the file's directory cannot be
// watched now (typically: it does not exist yet); the watcher keeps trying
// every RetryInterval, and signals once it succeeds, since the file may have
// changed meanwhile. Owners that cannot work without change notification
// treat the error as fatal and Stop; others log it and rely on re-reading.
func (w *Watcher) Start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.syncLocked(true)
	if w.every > 0 && !w.started && !w.stopped {
		w.wg.Add(1)
		go w.periodic(w.stat()) // before the owner's first read, which follows Start
	}
	w.started = true
	return err
}

// periodic looks at the file every Interval until Stop, for file systems
// without change notification, and signals once a change has settled: when
// the file's size, time or identity differ from the last look, it waits until
// they have stayed the same for Delay, as an fsnotify event waits for Delay of
// quiet, so a tick in the middle of a write never hands out half a file. An
// unchanged file is not signalled: between a look and the receiver's read a
// writer could start, and the read would get what the look never saw.
func (w *Watcher) periodic(last fileState) {
	defer w.wg.Done()
	t := time.NewTicker(w.every)
	defer t.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
			now := w.stat()
			if now.same(last) {
				continue
			}
			last = now
			if w.delay <= 0 {
				w.fire()
				continue
			}
			settle.Reset(w.delay) // quiet for Delay from the latest change
		case <-settle.C:
			if now := w.stat(); !now.same(last) {
				last = now
				settle.Reset(w.delay)
				continue
			}
			w.fire()
		}
	}
}

// fileState is what a periodic look compares. The content hash catches a
// rewrite that keeps the size within one tick of the file system's coarse
// timestamp clock; files over maxHashedSize are compared by metadata only.
type fileState struct {
	size  int64
	mtime time.Time
	sum   uint64
	fi    os.FileInfo // identity, through os.SameFile; nil when the file cannot be read
}

const maxHashedSize = 256 << 20

func (a fileState) same(b fileState) bool {
	if a.fi == nil || b.fi == nil {
		return a.fi == nil && b.fi == nil
	}
	return a.size == b.size && a.mtime.Equal(b.mtime) && a.sum == b.sum && os.SameFile(a.fi, b.fi)
}

func (w *Watcher) stat() fileState {
	f, err := os.Open(w.path)
	if err != nil {
		return fileState{}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fileState{}
	}
	st := fileState{size: fi.Size(), mtime: fi.ModTime(), fi: fi}
	if fi.Size() <= maxHashedSize {
		h := maphash.Hash{}
		h.SetSeed(w.seed)
		if _, err := io.Copy(&h, io.LimitReader(f, maxHashedSize)); err == nil {
			st.sum = h.Sum64()
		}
	}
	return st
}

// Sync (re)establishes the watches now instead of at the next retry: owners
// that re-read the file anyway (on a timer, after an error) call it before
// reading. When the directory watch is re-established by the call, C also
// receives a signal. It only takes a lock and a few system calls.
func (w *Watcher) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.syncLocked(true)
}

// Stop ends watching and waits for the watcher's goroutine. Safe to call more
// than once and without Start; Sync after Stop does nothing.
func (w *Watcher) Stop() {
	w.mu.Lock()
	fsw := w.fsw
	w.fsw = nil
	if !w.stopped {
		close(w.quit)
	}
	w.stopped = true
	w.mu.Unlock()
	if fsw != nil {
		_ = fsw.Close() // closes Events and Errors, which ends loop
	}
	w.wg.Wait()
}

// syncLocked makes the watched directories match what the path needs now: its
// directory, and the directory of the file it resolves to. create allows
// creating the fsnotify watcher (and the goroutine) when there is none; the
// goroutine itself passes false, so it never starts another. The error is
// about the file's own directory only: a target directory that cannot be
// watched is logged, the directory watch still sees the link being swapped.
func (w *Watcher) syncLocked(create bool) error {
	if w.stopped {
		return nil
	}
	if w.fsw == nil {
		if !create {
			return nil
		}
		fsw, err := fsnotify.NewWatcher()
		if err != nil {
			return err
		}
		w.fsw = fsw
		w.wg.Add(1)
		go w.loop(fsw.Events, fsw.Errors)
	}
	watched := w.fsw.WatchList()

	var err error
	if !slices.Contains(watched, w.dir) {
		if err = w.fsw.Add(w.dir); err == nil && w.started {
			w.signal() // a change while the directory was not watched went unseen
		}
	}

	// The file the path resolves to, spelled under the directory we watch for
	// it: when that directory is dir itself (a link within dir, or dir reached
	// through a linked directory), events carry dir's spelling, and a second
	// watch on the same directory would only replace the first.
	target, tdir := "", ""
	if resolved, rerr := filepath.EvalSymlinks(w.path); rerr == nil && resolved != w.path {
		target, tdir = resolved, filepath.Dir(resolved)
		if sameDir(tdir, w.dir) {
			target, tdir = filepath.Join(w.dir, filepath.Base(resolved)), ""
		}
	}
	w.target = target
	for _, d := range watched {
		if d != w.dir && d != tdir {
			_ = w.fsw.Remove(d) // fails harmlessly when the directory is gone
		}
	}
	if tdir != "" && !slices.Contains(watched, tdir) {
		if terr := w.fsw.Add(tdir); terr != nil {
			if w.tdirErr != tdir {
				w.tdirErr = tdir
				w.logger.Warn("cannot watch the directory the file's symbolic link points into; changes made there in place are only seen on a re-read",
					zap.String("path", w.path), zap.String("directory", tdir), zap.Error(terr))
			}
		} else {
			w.tdirErr = ""
		}
	}
	w.tdir = tdir
	return err
}

func sameDir(a, b string) bool {
	if a == b {
		return true
	}
	ia, err := os.Stat(a)
	if err != nil {
		return false
	}
	ib, err := os.Stat(b)
	return err == nil && os.SameFile(ia, ib)
}

// loop turns fsnotify's events into signals: at once, or after Delay of quiet.
// It retries watching the directory while that directory is not watched.
func (w *Watcher) loop(events <-chan fsnotify.Event, errs <-chan error) {
	defer w.wg.Done()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	if !w.watching() {
		retry.Reset(w.retry)
	}

	changed := func() {
		if w.delay <= 0 {
			w.fire()
			return
		}
		debounce.Reset(w.delay)
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Name == w.dir && ev.Op&(fsnotify.Remove|fsnotify.Rename) != 0 {
				// fsnotify dropped the directory's watch; the file went with it.
				retry.Reset(w.retry)
				changed()
				continue
			}
			if w.relevant(ev.Name) {
				changed()
			}
		case err, ok := <-errs:
			if !ok {
				return
			}
			// Typically a queue overflow: events were lost, so re-read.
			w.logger.Warn("file watcher error; re-reading the file", zap.String("path", w.path), zap.Error(err))
			changed()
		case <-debounce.C:
			w.fire()
		case <-retry.C:
			w.mu.Lock()
			err := w.syncLocked(false)
			w.mu.Unlock()
			if err != nil {
				retry.Reset(w.retry)
			}
		}
	}
}

// fire re-resolves the path (a link may now point into another directory)
// before signalling, so that the directory the receiver is about to read from
// is already watched.
func (w *Watcher) fire() {
	w.mu.Lock()
	_ = w.syncLocked(false)
	w.mu.Unlock()
	w.signal()
}

// relevant reports whether an event on name can change what reading the path
// returns: the path itself, Kubernetes' "..data", "..data_tmp" and
// "..<timestamp>" entries next to it, or the file it resolves to.
func (w *Watcher) relevant(name string) bool {
	if filepath.Dir(name) == w.dir {
		if b := filepath.Base(name); b == w.base || strings.HasPrefix(b, "..") {
			return true
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.target != "" && name == w.target
}

// watching reports whether the file's directory is watched.
func (w *Watcher) watching() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopped || (w.fsw != nil && slices.Contains(w.fsw.WatchList(), w.dir))
}

func (w *Watcher) signal() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}
