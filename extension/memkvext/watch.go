package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"github.com/otelcol-custom/otelcol-custom/internal/filewatch"
)

// newFileWatcher returns the watcher of the store's file: internal/filewatch
// watches the file's directory and the directory its symbolic link resolves
// to (atomic renames and Kubernetes' "..data" swap replace the file without an
// event on it), and signals after reload_delay of quiet, so that a burst of
// events leads to one reload. It also signals every reload_interval, for file
// systems that deliver no change notification; a reload of unchanged content
// changes nothing.
func (s *Store) newFileWatcher() *filewatch.Watcher {
	return filewatch.New(s.path, s.logger, filewatch.Options{
		Delay:    s.cfg.File.ReloadDelay,
		Interval: s.cfg.File.ReloadInterval,
	})
}

// watch reloads the file on each signal of w until stop is closed.
func (s *Store) watch(w *filewatch.Watcher, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-stop:
			return
		case <-w.C():
			_ = s.reload(false) // logged and reported by reload
		}
	}
}
