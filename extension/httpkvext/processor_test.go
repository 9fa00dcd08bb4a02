package httpkvext

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"
)

// startProcessor starts a kvcache processor (configured by configure) on a host
// that carries an httpkv extension for srv, and returns its Start error.
func startProcessor(t *testing.T, cfg *Config, procID component.ID, configure func(*kvcacheprocessor.Config)) (*consumertest.TracesSink, func(ptrace.Traces) error, error) {
	storeID := component.MustNewIDWithName("httpkv", "cmdb")
	ext := startExt(t, cfg, nil)
	host := kvcachetest.NewHost(map[component.ID]component.Component{storeID: ext})
	f := kvcacheprocessor.NewFactory()
	pcfg := f.CreateDefaultConfig().(*kvcacheprocessor.Config)
	pcfg.Store = storeID
	pcfg.Timeout, pcfg.FetchTimeout = 10*time.Second, 10*time.Second
	configure(pcfg)
	require.NoError(t, pcfg.Validate())
	set := processortest.NewNopSettings(f.Type())
	set.ID = procID
	sink := &consumertest.TracesSink{}
	p, err := f.CreateTraces(context.Background(), set, pcfg, sink)
	require.NoError(t, err)
	err = p.Start(context.Background(), host)
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return sink, func(td ptrace.Traces) error { return p.ConsumeTraces(context.Background(), td) }, err
}

// TestProcessorEnrichesFromHTTP: the kvcache processor enriches spans from the
// API through httpkv in both shapes (a JSON object value flattened into
// attributes), and a span whose key the API lacks passes unchanged.
func TestProcessorEnrichesFromHTTP(t *testing.T) {
	shapes(t, func(t *testing.T, srv *apiServer, cfg *Config) {
		srv.putJSON("user:u1", `{"profile": {"team": "payments", "tier": 1}}`)
		cfg.ValuePointer = "/profile"
		sink, consume, err := startProcessor(t, cfg, component.MustNewID("kvcache"), func(c *kvcacheprocessor.Config) {
			c.Lookups = []kvcacheprocessor.LookupConfig{{
				Context:      kvcacheprocessor.ContextSpan,
				Key:          kvcacheprocessor.KeyConfig{Attributes: []string{"user.id"}, Prefix: "user:"},
				TargetPrefix: "user.",
				Action:       kvcacheprocessor.ActionInsert,
			}}
		})
		require.NoError(t, err)
		td := ptrace.NewTraces()
		spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
		spans.AppendEmpty().Attributes().PutStr("user.id", "u1")
		spans.AppendEmpty().Attributes().PutStr("user.id", "u2")
		require.NoError(t, consume(td))
		got := sink.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans()
		assert.Equal(t, map[string]any{"user.id": "u1", "user.team": "payments", "user.tier": int64(1)}, got.At(0).Attributes().AsRaw())
		assert.Equal(t, map[string]any{"user.id": "u2"}, got.At(1).Attributes().AsRaw())
	})
}

// TestProcessorWritesToReadOnlyStoreFailsStart: a kvcache processor whose writes
// target httpkv must fail at Start with an error naming both IDs.
func TestProcessorWritesToReadOnlyStoreFailsStart(t *testing.T) {
	srv := newAPIServer(t)
	_, _, err := startProcessor(t, perKeyConfig(srv), component.MustNewIDWithName("kvcache", "remember"), func(c *kvcacheprocessor.Config) {
		c.Writes = []kvcacheprocessor.WriteConfig{{
			Context:    kvcacheprocessor.ContextSpan,
			Key:        kvcacheprocessor.KeyConfig{Attributes: []string{"session"}},
			Attributes: []string{"user.id"},
		}}
	})
	require.ErrorContains(t, err, "kvcache/remember")
	require.ErrorContains(t, err, "httpkv/cmdb")
	require.ErrorContains(t, err, "read-only")
}
