package kvcacheprocessor

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor/internal/metadatatest"
)

// injectingMeterProvider gives every meter the attributes of one pipeline's
// component, as instrumentation scope attributes, and can drop them again: it
// behaves as the collector's own per-component meter provider does.
type injectingMeterProvider struct {
	metric.MeterProvider
	attrs []attribute.KeyValue
}

func (m injectingMeterProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return m.MeterProvider.Meter(name, append(opts, metric.WithInstrumentationAttributes(m.attrs...))...)
}

func (m injectingMeterProvider) DropInjectedAttributes(drop ...string) metric.MeterProvider {
	kept := slices.DeleteFunc(slices.Clone(m.attrs), func(kv attribute.KeyValue) bool { return slices.Contains(drop, string(kv.Key)) })
	return injectingMeterProvider{MeterProvider: m.MeterProvider, attrs: kept}
}

// TestOneRuntimeThreePipelines builds one kvcache configuration into a traces, a
// metrics and a logs pipeline, each with its own pipeline attributes: the shared
// runtime's metrics carry the component's attributes and none of the first
// pipeline's (otelcol.pipeline.id, otelcol.signal), and count every signal's
// lookups.
func TestOneRuntimeThreePipelines(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := baseConfig(strLookup(ContextResource, "service.name", "owner"))
	host := componentHost(map[component.ID]component.Component{storeID: &testProvider{store: newRecStore(memStore(map[string]string{"svc": "team"}))}})
	id := component.NewIDWithName(metadata.Type, t.Name())
	settings := func(signal string) (s processor.Settings) {
		s = metadatatest.NewSettings(tel)
		s.ID = id
		s.MeterProvider = injectingMeterProvider{MeterProvider: s.MeterProvider, attrs: []attribute.KeyValue{
			attribute.String("otelcol.component.kind", "processor"),
			attribute.String("otelcol.component.id", id.String()),
			attribute.String(attrPipelineID, signal),
			attribute.String(attrSignal, signal),
		}}
		return s
	}
	f := NewFactory()
	tr, err := f.CreateTraces(context.Background(), settings("traces"), cfg, new(consumertest.TracesSink))
	require.NoError(t, err)
	me, err := f.CreateMetrics(context.Background(), settings("metrics"), cfg, new(consumertest.MetricsSink))
	require.NoError(t, err)
	lo, err := f.CreateLogs(context.Background(), settings("logs"), cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	for _, c := range []component.Component{tr, me, lo} {
		require.NoError(t, c.Start(context.Background(), host))
		defer func() { require.NoError(t, c.Shutdown(context.Background())) }()
	}

	require.NoError(t, tr.ConsumeTraces(context.Background(), spans(map[string]any{"service.name": "svc"}, map[string]any{})))
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "svc")
	rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
	require.NoError(t, me.ConsumeMetrics(context.Background(), md))
	require.NoError(t, lo.ConsumeLogs(context.Background(), logsWithResource("svc")))

	var got metricdata.ResourceMetrics
	require.NoError(t, tel.Reader.Collect(context.Background(), &got))
	var lookups int64
	scopes := 0
	for _, sm := range got.ScopeMetrics {
		if sm.Scope.Name != metadata.ScopeName {
			continue
		}
		scopes++
		v, ok := sm.Scope.Attributes.Value("otelcol.component.id")
		assert.True(t, ok)
		assert.Equal(t, id.String(), v.AsString())
		for _, k := range []attribute.Key{attrPipelineID, attrSignal} {
			v, ok := sm.Scope.Attributes.Value(k)
			assert.False(t, ok, "the shared runtime's metrics carry %s=%s", k, v.AsString())
		}
		for _, m := range sm.Metrics {
			if m.Name == "otelcol_processor_kvcache_lookups" {
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					lookups += dp.Value
				}
			}
		}
	}
	assert.Equal(t, 1, scopes, "one runtime, one scope")
	assert.Equal(t, int64(3), lookups, "one lookup per signal")
}
