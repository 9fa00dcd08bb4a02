package bearerauthext // import "github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"

import (
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// fileWatcher signals when a file may have changed. It watches the file's
// parent directory rather than the file itself, because the usual ways of
// replacing a secret never write to the watched inode:
//   - write to a temporary file + rename over the target (editors, most tools);
//   - Kubernetes secret/configmap volumes: the file is a symlink
//     name -> ..data/name, and an update atomically renames a new ..data
//     symlink into place; the file's own name never gets an event.
//
// Events on the file's name or on any ".."-prefixed entry (..data, ..data_tmp,
// the timestamped directories) signal; everything else in the directory is
// ignored. Signals are coalesced in a 1-buffered channel, and receivers re-read
// the file anyway, so a spurious signal only costs a read. Where watching is
// impossible (directory missing, inotify limits, file systems without
// notification) the owner's periodic re-read is the fallback.
type fileWatcher struct {
	dir    string
	base   string
	logger *zap.Logger

	c chan struct{}

	mu      sync.Mutex
	watcher *fsnotify.Watcher
	stopped bool
	wg      sync.WaitGroup
}

func newFileWatcher(path string, logger *zap.Logger) *fileWatcher {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return &fileWatcher{
		dir:    filepath.Dir(abs),
		base:   filepath.Base(abs),
		logger: logger,
		c:      make(chan struct{}, 1),
	}
}

// C receives a value after changes. It is never closed.
func (w *fileWatcher) C() <-chan struct{} { return w.c }

// start begins watching. A failure (e.g. the directory does not exist yet)
// is logged and leaves only the periodic fallback until ensure succeeds.
func (w *fileWatcher) start() {
	if err := w.ensure(); err != nil {
		w.logger.Warn("cannot watch the directory for changes yet; relying on the periodic re-read until it can be watched",
			zap.String("directory", w.dir), zap.Error(err))
	}
}

// ensure (re)establishes the watch when it is missing: the directory did not
// exist at start, or it was removed and recreated (the kernel drops a watch on
// a deleted directory). Owners call it on every re-read; when the watch is in
// place it only takes a lock.
func (w *fileWatcher) ensure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return nil
	}
	if w.watcher != nil {
		if len(w.watcher.WatchList()) > 0 {
			return nil
		}
		return w.watcher.Add(w.dir)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := fw.Add(w.dir); err != nil {
		_ = fw.Close()
		return err
	}
	w.watcher = fw
	w.wg.Add(1)
	go w.loop(fw)
	return nil
}

// ensureAround wraps a re-read: call it before reading and the returned
// func after. It (re)establishes a missing watch (best effort; a failure
// leaves the periodic re-read). When the watch only came into place during
// the read, a change made between the read and the watch would go unseen, so
// it signals once more to have the file read again.
func (w *fileWatcher) ensureAround() func() {
	if w.ensure() == nil {
		return func() {}
	}
	return func() {
		if w.ensure() == nil {
			w.signal()
		}
	}
}

func (w *fileWatcher) loop(fw *fsnotify.Watcher) {
	defer w.wg.Done()
	for {
		select {
		case ev, ok := <-fw.Events:
			if !ok {
				return
			}
			if w.relevant(ev.Name) {
				w.signal()
			}
		case err, ok := <-fw.Errors:
			if !ok {
				return
			}
			// Typically an event queue overflow: events were lost, so re-read.
			w.logger.Debug("file watcher error", zap.String("directory", w.dir), zap.Error(err))
			w.signal()
		}
	}
}

func (w *fileWatcher) relevant(name string) bool {
	b := filepath.Base(name)
	return b == w.base || strings.HasPrefix(b, "..")
}

func (w *fileWatcher) signal() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}

// stop ends watching and waits for the goroutine. Safe to call more than once
// and without start.
func (w *fileWatcher) stop() {
	w.mu.Lock()
	fw := w.watcher
	w.watcher = nil
	w.stopped = true
	w.mu.Unlock()
	if fw != nil {
		_ = fw.Close()
	}
	w.wg.Wait()
}
