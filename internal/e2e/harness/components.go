package harness

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Components is the output of `otelcol-custom components`: the component types
// (and provider schemes) built into the binary, by kind.
type Components struct {
	Receivers  []ComponentInfo `yaml:"receivers"`
	Processors []ComponentInfo `yaml:"processors"`
	Exporters  []ComponentInfo `yaml:"exporters"`
	Connectors []ComponentInfo `yaml:"connectors"`
	Extensions []ComponentInfo `yaml:"extensions"`
	Providers  []ComponentInfo `yaml:"providers"`
}

// ComponentInfo is one entry of `otelcol-custom components`.
type ComponentInfo struct {
	Name   string `yaml:"name"`
	Scheme string `yaml:"scheme"`
	Module string `yaml:"module"`
}

// ParseComponents parses the YAML printed by `otelcol-custom components`.
func ParseComponents(out []byte) (Components, error) {
	var c Components
	err := yaml.Unmarshal(out, &c)
	return c, err
}

// Types returns the component types of every kind except providers.
func (c Components) Types() []string {
	var out []string
	for _, list := range [][]ComponentInfo{c.Receivers, c.Processors, c.Exporters, c.Connectors, c.Extensions} {
		for _, ci := range list {
			out = append(out, ci.Name)
		}
	}
	return out
}

// BinaryComponents runs `otelcol-custom components` and parses its output.
func BinaryComponents(tb testing.TB) Components {
	tb.Helper()
	out, err := exec.Command(CollectorBinary(tb), "components").Output()
	if err != nil {
		tb.Fatalf("otelcol-custom components: %v", err)
	}
	c, err := ParseComponents(out)
	if err != nil {
		tb.Fatalf("otelcol-custom components: unexpected output: %v", err)
	}
	return c
}

// RequireComponents fails the test with instructions unless the binary has every
// named component type (receiver, processor, exporter, connector or extension).
func RequireComponents(tb testing.TB, types ...string) {
	tb.Helper()
	have := BinaryComponents(tb).Types()
	var missing []string
	for _, t := range types {
		if !slices.Contains(have, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		tb.Fatalf("the collector binary has no %s component: enable it in builder-config.yaml and run `make build`",
			strings.Join(missing, ", "))
	}
}
