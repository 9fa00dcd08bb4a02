package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// watcher reloads the store's file when it changes. It watches directories, not
// the file: an editor's or a deployment's atomic rename replaces the file's inode,
// and a Kubernetes ConfigMap volume swaps a "..data" symbolic link next to it;
// neither is seen by a watch on the file itself. It watches the file's directory
// and the directory of the file the path resolves to (when it is a symbolic link),
// and waits for reload_delay of quiet before reloading, so a burst of events leads
// to one reload.
type watcher struct {
	s      *Store
	fsw    *fsnotify.Watcher
	dir    string          // directory of the configured path
	target string          // the path with symbolic links resolved ("" if it does not resolve)
	dirs   map[string]bool // watched directories
}

func newWatcher(s *Store) (*watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watcher{s: s, fsw: fsw, dir: filepath.Dir(s.path), dirs: map[string]bool{}}
	if err := fsw.Add(w.dir); err != nil {
		_ = fsw.Close()
		return nil, err
	}
	w.dirs[w.dir] = true
	w.updateTarget()
	return w, nil
}

// updateTarget resolves the path again and watches the target's directory too.
func (w *watcher) updateTarget() {
	target, err := filepath.EvalSymlinks(w.s.path)
	if err != nil {
		w.target = ""
	} else {
		w.target = target
	}
	want := map[string]bool{w.dir: true}
	if w.target != "" {
		want[filepath.Dir(w.target)] = true
	}
	for d := range w.dirs {
		if !want[d] {
			_ = w.fsw.Remove(d) // fails harmlessly when the directory is gone
			delete(w.dirs, d)
		}
	}
	for d := range want {
		if w.dirs[d] {
			continue
		}
		if err := w.fsw.Add(d); err != nil {
			w.s.logger.Warn("Cannot watch a directory of the key-value file", zap.String("dir", d), zap.Error(err))
			continue
		}
		w.dirs[d] = true
	}
}

// relevant reports whether ev may have changed the file's content.
func (w *watcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	if ev.Name == w.s.path || (w.target != "" && ev.Name == w.target) {
		return true
	}
	// Kubernetes' atomic writer: ..data, ..data_tmp, ..<timestamp> next to the file.
	return filepath.Dir(ev.Name) == w.dir && strings.HasPrefix(filepath.Base(ev.Name), "..")
}

func (w *watcher) run(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	defer w.fsw.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-stop:
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			if w.relevant(ev) {
				timer.Reset(w.s.cfg.File.ReloadDelay)
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.s.logger.Warn("Watching the key-value file", zap.String("path", w.s.path), zap.Error(err))
		case <-timer.C:
			_ = w.s.reload(false) // logged and reported by reload
			w.updateTarget()
		}
	}
}
