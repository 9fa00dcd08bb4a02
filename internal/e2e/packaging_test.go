//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-custom/otelcol-custom/internal/e2e/harness"
)

// Collector configs shipped by packaging/ (deb/rpm and image defaults), relative to the repo
// root. The Kubernetes examples embed theirs: see kubernetesConfigs.
var packagedConfigs = []string{
	"packaging/linux/config.yaml",
	"packaging/container/config.yaml",
}

// kubeVolume / kubeMount are the parts of a pod spec these tests read.
type kubeVolume struct {
	Name      string         `yaml:"name"`
	Secret    map[string]any `yaml:"secret"`
	ConfigMap map[string]any `yaml:"configMap"`
}

type kubeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath"`
}

// kubeExample is one Kubernetes example's collector config and the volumes it runs with.
type kubeExample struct {
	name    string
	config  []byte
	volumes []kubeVolume
	mounts  []kubeMount
}

// helmExample reads packaging/kubernetes/helm-values.yaml: the config is alternateConfig (the
// chart writes it verbatim to its ConfigMap), volumes are extraVolumes / extraVolumeMounts.
func helmExample(t *testing.T, root string) kubeExample {
	raw, err := os.ReadFile(filepath.Join(root, "packaging/kubernetes/helm-values.yaml"))
	require.NoError(t, err)
	var values struct {
		Command struct {
			Name string `yaml:"name"`
		} `yaml:"command"`
		AlternateConfig map[string]any `yaml:"alternateConfig"`
		Volumes         []kubeVolume   `yaml:"extraVolumes"`
		Mounts          []kubeMount    `yaml:"extraVolumeMounts"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &values))
	require.NotEmpty(t, values.AlternateConfig, "helm-values.yaml must set alternateConfig")
	// The chart runs /<command.name>: the image's entrypoint.
	assert.Equal(t, "/"+values.Command.Name, containerfileEntrypoint(t, root), "command.name must be the image's binary")
	cfg, err := yaml.Marshal(values.AlternateConfig)
	require.NoError(t, err)
	return kubeExample{name: "helm-values.yaml", config: cfg, volumes: values.Volumes, mounts: values.Mounts}
}

// deploymentExample reads packaging/kubernetes/deployment.yaml: the config is the ConfigMap
// key the Deployment's --config names through its mount.
func deploymentExample(t *testing.T, root string) kubeExample {
	raw, err := os.ReadFile(filepath.Join(root, "packaging/kubernetes/deployment.yaml"))
	require.NoError(t, err)
	type container struct {
		Args   []string    `yaml:"args"`
		Mounts []kubeMount `yaml:"volumeMounts"`
	}
	var (
		configMaps = map[string]map[string]string{}
		pod        struct {
			Containers []container  `yaml:"containers"`
			Volumes    []kubeVolume `yaml:"volumes"`
		}
	)
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var doc struct {
			Kind     string                `yaml:"kind"`
			Metadata struct{ Name string } `yaml:"metadata"`
			Data     map[string]string     `yaml:"data"`
			Spec     struct {
				Template struct {
					Spec yaml.Node `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		switch doc.Kind {
		case "ConfigMap":
			configMaps[doc.Metadata.Name] = doc.Data
		case "Deployment":
			require.NoError(t, doc.Spec.Template.Spec.Decode(&pod))
		}
	}
	require.Len(t, pod.Containers, 1, "deployment.yaml must hold a Deployment with one container")
	c := pod.Containers[0]
	require.Len(t, c.Args, 2, "the container's args must be --config <file>")
	require.Equal(t, "--config", c.Args[0])
	// Follow --config to the ConfigMap key it names.
	var cfg string
	for _, m := range c.Mounts {
		if rel, ok := strings.CutPrefix(c.Args[1], m.MountPath+"/"); ok {
			for _, v := range pod.Volumes {
				if v.Name == m.Name && v.ConfigMap != nil {
					cm, _ := v.ConfigMap["name"].(string)
					cfg = configMaps[cm][rel]
				}
			}
		}
	}
	require.NotEmpty(t, cfg, "--config %s must be a key of a ConfigMap in deployment.yaml mounted there", c.Args[1])
	return kubeExample{name: "deployment.yaml", config: []byte(cfg), volumes: pod.Volumes, mounts: c.Mounts}
}

// containerfileEntrypoint returns the binary of packaging/Containerfile's ENTRYPOINT.
func containerfileEntrypoint(t *testing.T, root string) string {
	var entry []string
	for _, line := range containerfileLines(t, root) {
		if rest, ok := strings.CutPrefix(line, "ENTRYPOINT "); ok {
			require.NoError(t, yaml.Unmarshal([]byte(rest), &entry), "ENTRYPOINT must be a JSON array")
		}
	}
	require.NotEmpty(t, entry, "packaging/Containerfile has no ENTRYPOINT")
	return entry[0]
}

// containerfileCopies returns the destinations of packaging/Containerfile's COPY lines.
func containerfileCopies(t *testing.T, root string) []string {
	var dsts []string
	for _, line := range containerfileLines(t, root) {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "COPY" {
			dsts = append(dsts, f[len(f)-1])
		}
	}
	return dsts
}

func containerfileLines(t *testing.T, root string) []string {
	f, err := os.Open(filepath.Join(root, "packaging/Containerfile"))
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, strings.TrimSpace(s.Text()))
	}
	require.NoError(t, s.Err())
	return lines
}

// filePaths returns the token and enrichment files a Kubernetes example's config reads.
func filePaths(t *testing.T, cfg []byte) (tokensFile, dataFile string) {
	var c struct {
		Extensions map[string]struct {
			TokensFile string `yaml:"tokens_file"`
			File       struct {
				Path string `yaml:"path"`
			} `yaml:"file"`
		} `yaml:"extensions"`
	}
	require.NoError(t, yaml.Unmarshal(cfg, &c))
	for _, e := range c.Extensions {
		if e.TokensFile != "" {
			tokensFile = e.TokensFile
		}
		if e.File.Path != "" {
			dataFile = e.File.Path
		}
	}
	return tokensFile, dataFile
}

// TestPackagedConfigsValidate: the default configs of the deb/rpm packages and of the image
// load with `otelcol-custom validate` (their files are absolute paths that exist only where
// they are installed; validate does not open them, scripts/package-test.sh runs them).
func TestPackagedConfigsValidate(t *testing.T) {
	root := harness.RepoRoot(t)
	for _, rel := range packagedConfigs {
		t.Run(rel, func(t *testing.T) {
			out, err := validate(t, root, filepath.Join(root, rel))
			assert.NoError(t, err, "%s must be valid:\n%s", rel, out)
		})
	}
}

// TestKubernetesExamples: the collector config embedded in the Helm values and in the
// Deployment manifest loads with `otelcol-custom validate`, its token file is in a Secret
// mounted as a directory (a subPath mount never sees the Secret's updates: bearerauth's
// reload relies on Kubernetes' ..data swap), and its enrichment data is a file the image has.
func TestKubernetesExamples(t *testing.T) {
	root := harness.RepoRoot(t)
	// The chart sets MY_POD_IP for the config's ${env:MY_POD_IP} endpoints.
	t.Setenv("MY_POD_IP", "127.0.0.1")
	imageFiles := containerfileCopies(t, root)
	for _, ex := range []kubeExample{helmExample(t, root), deploymentExample(t, root)} {
		t.Run(ex.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(file, ex.config, 0o600))
			out, err := validate(t, root, file)
			require.NoError(t, err, "the config embedded in %s must be valid:\n%s", ex.name, out)

			tokens, data := filePaths(t, ex.config)
			require.NotEmpty(t, tokens, "the config must read its tokens from a file (tokens_file)")
			secretVolumes := map[string]bool{}
			for _, v := range ex.volumes {
				if v.Secret != nil {
					secretVolumes[v.Name] = true
				}
			}
			var mounted bool
			for _, m := range ex.mounts {
				if secretVolumes[m.Name] && path.Dir(tokens) == path.Clean(m.MountPath) {
					assert.Empty(t, m.SubPath, "the token Secret must be mounted without subPath (no updates reach a subPath mount)")
					mounted = true
				}
			}
			assert.True(t, mounted, "tokens_file %s must be in a directory where a Secret volume is mounted", tokens)
			assert.Contains(t, imageFiles, data, "the enrichment data %s must be a file the image ships", data)
		})
	}
}
