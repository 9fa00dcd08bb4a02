package memkvext_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.yaml.in/yaml/v3"

	"github.com/otelcol-custom/otelcol-custom/extension/memkvext"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"
)

// extensionsHost hands out the given extensions, as the collector does.
type extensionsHost struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h extensionsHost) GetExtensions() map[component.ID]component.Component { return h.exts }

// The kvcache processor enriches spans from a multi-column CSV table loaded by a
// memkv extension, both configured from testdata/kvcache_table.yaml (the README's
// example): the composite key, the typed columns and the empty cells all reach
// the records as the processor's JSON mapping reads them.
func TestKvcacheLookupFromCSVTable(t *testing.T) {
	ctx := context.Background()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "kvcache_table.yaml"))
	require.NoError(t, err)

	extFactory := memkvext.NewFactory()
	extID := component.MustNewIDWithName(extFactory.Type().String(), "services")
	extCfg := extFactory.CreateDefaultConfig()
	sub, err := cm.Sub("extensions::" + extID.String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(extCfg))
	require.NoError(t, extCfg.(*memkvext.Config).Validate())
	ext, err := extFactory.Create(ctx, extensiontest.NewNopSettings(extFactory.Type()), extCfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
	defer func() { require.NoError(t, ext.Shutdown(ctx)) }()

	procFactory := kvcacheprocessor.NewFactory()
	procCfg := procFactory.CreateDefaultConfig()
	sub, err = cm.Sub("processors::" + procFactory.Type().String())
	require.NoError(t, err)
	require.NoError(t, sub.Unmarshal(procCfg))
	require.NoError(t, procCfg.(interface{ Validate() error }).Validate())
	sink := new(consumertest.TracesSink)
	proc, err := procFactory.CreateTraces(ctx, processortest.NewNopSettings(procFactory.Type()), procCfg, sink)
	require.NoError(t, err)
	host := extensionsHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{extID: ext}}
	require.NoError(t, proc.Start(ctx, host))
	defer func() { require.NoError(t, proc.Shutdown(ctx)) }()

	td := ptrace.NewTraces()
	for _, svc := range [][2]string{{"checkout", "prod"}, {"cart", "prod"}, {"search", "prod"}, {"checkout", "dev"}} {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc[0])
		rs.Resource().Attributes().PutStr("deployment.environment", svc[1])
		rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("op")
	}
	require.NoError(t, proc.ConsumeTraces(ctx, td))

	require.Len(t, sink.AllTraces(), 1)
	got := sink.AllTraces()[0].ResourceSpans()
	want := []map[string]any{
		{"service.name": "checkout", "deployment.environment": "prod", "team.name": "payments", "team.owner": "alice@example.com", "service.tier": int64(1), "team.oncall": true},
		{"service.name": "cart", "deployment.environment": "prod", "team.name": "Web, Storefront", "team.owner": "bob@example.com", "service.tier": int64(2), "team.oncall": true},
		// Empty cells are no fields: no owner, no oncall attribute.
		{"service.name": "search", "deployment.environment": "prod", "team.name": "discovery", "service.tier": int64(2)},
		// No row for checkout:dev: left alone.
		{"service.name": "checkout", "deployment.environment": "dev"},
	}
	require.Equal(t, len(want), got.Len())
	for i, w := range want {
		assert.Equal(t, w, got.At(i).Resource().Attributes().AsRaw(), "resource %d", i)
		tier, ok := got.At(i).Resource().Attributes().Get("service.tier")
		if ok {
			assert.Equal(t, pcommon.ValueTypeInt, tier.Type(), "typed column")
		}
	}
}

// The README's table example is testdata/kvcache_table.yaml with another path.
func TestReadmeTableExampleIsTheTestedConfig(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	var example string
	for block := range strings.SplitSeq(string(readme), "```yaml\n") {
		if strings.Contains(block, "memkv/services:") {
			example, _, _ = strings.Cut(block, "```")
		}
	}
	require.NotEmpty(t, example, "README.md has the table example")
	tested, err := os.ReadFile(filepath.Join("testdata", "kvcache_table.yaml"))
	require.NoError(t, err)
	var got, want any
	require.NoError(t, yaml.Unmarshal([]byte(strings.Replace(example, "/etc/otelcol/services.csv", "testdata/services.csv", 1)), &got))
	require.NoError(t, yaml.Unmarshal(tested, &want))
	require.Equal(t, want, got)

	csvExample := "service,env,team,owner,tier,oncall\n"
	_, after, ok := strings.Cut(string(readme), "```csv\n"+csvExample)
	require.True(t, ok, "README.md shows testdata/services.csv")
	rows, _, _ := strings.Cut(after, "```")
	data, err := os.ReadFile(filepath.Join("testdata", "services.csv"))
	require.NoError(t, err)
	require.Equal(t, string(data), csvExample+rows)
}
