package bearerauthext

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-custom/otelcol-custom/extension/bearerauthext/internal/metadata"
)

func testSettings() extension.Settings {
	return extensiontest.NewNopSettings(metadata.Type)
}

// startExt creates and starts the extension and shuts it down at cleanup.
func startExt(t testing.TB, cfg *Config, set extension.Settings, host component.Host) *bearerAuth {
	t.Helper()
	ext, err := newBearerAuth(cfg, set)
	require.NoError(t, err)
	if host == nil {
		host = componenttest.NewNopHost()
	}
	require.NoError(t, ext.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return ext
}

// writeAtomic replaces path by writing a temporary file and renaming it.
func writeAtomic(t testing.TB, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

// k8sVolume mimics the layout Kubernetes uses for secret and configmap
// volumes: dir/name -> ..data/name, dir/..data -> ..<generation>, and an
// update writes a new generation directory, points ..data_tmp at it and
// renames ..data_tmp over ..data (the atomic swap), then removes the old one.
type k8sVolume struct {
	t   testing.TB
	dir string
	gen int
}

func newK8sVolume(t testing.TB, files map[string]string) *k8sVolume {
	v := &k8sVolume{t: t, dir: t.TempDir()}
	v.swap(files)
	for name := range files {
		require.NoError(t, os.Symlink(filepath.Join("..data", name), filepath.Join(v.dir, name)))
	}
	return v
}

func (v *k8sVolume) path(name string) string { return filepath.Join(v.dir, name) }

func (v *k8sVolume) swap(files map[string]string) {
	t := v.t
	v.gen++
	genDir := fmt.Sprintf("..gen_%d", v.gen)
	require.NoError(t, os.Mkdir(filepath.Join(v.dir, genDir), 0o700))
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(v.dir, genDir, name), []byte(content), 0o600))
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	require.NoError(t, os.Symlink(genDir, tmp))
	require.NoError(t, os.Rename(tmp, filepath.Join(v.dir, "..data")))
	if v.gen > 1 {
		require.NoError(t, os.RemoveAll(filepath.Join(v.dir, fmt.Sprintf("..gen_%d", v.gen-1))))
	}
}

func configopaqueString(s string) configopaque.String { return configopaque.String(s) }

func subjectOfCtx(ctx context.Context) string {
	if a := client.FromContext(ctx).Auth; a != nil {
		s, _ := a.GetAttribute("subject").(string)
		return s
	}
	return ""
}
