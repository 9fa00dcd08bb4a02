package memkvext

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
)

// TestReloadIntervalWithoutNotification (issue 9, case 20): a file changed in a
// way fsnotify does not report (through a hard link in another directory, as a
// file system without change notification behaves) is still reloaded, by the
// periodic re-read, within file::reload_interval.
func TestReloadIntervalWithoutNotification(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.File.Path = filepath.Join(dir, "lookup.yaml")
	cfg.File.ReloadInterval = 300 * time.Millisecond
	writeFile(t, cfg.File.Path, "k: v1\n")
	s := newStore(t, cfg, componenttest.NewNopHost())

	link := filepath.Join(t.TempDir(), "link.yaml")
	require.NoError(t, os.Link(cfg.File.Path, link))
	changed := time.Now()
	writeFile(t, link, "k: v2\n") // truncates and writes the shared inode
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v, _ := getOne(t, s, "k")
		assert.Equal(c, "v2", v)
	}, 10*cfg.File.ReloadInterval, 10*time.Millisecond, "not reloaded within 10 reload_interval")
	t.Logf("reloaded %v after the change (reload_interval %v)", time.Since(changed).Round(time.Millisecond), cfg.File.ReloadInterval)
}
