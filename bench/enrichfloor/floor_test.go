package enrichfloor

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func span(td ptrace.Traces, id string) ptrace.Span {
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	if id != "" {
		s.Attributes().PutStr("user.id", id)
	}
	return s
}

func TestProcessorEnrichesKnownKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"u1":{"team":"payments","limit":500,"ratio":0.5,"beta":true}}`), 0o600))
	f := NewFactory()
	cfg := &Config{Key: "user.id", Prefix: "user.", File: path}
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.TracesSink)
	p, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

	td := ptrace.NewTraces()
	known, unknown, none := span(td, "u1"), span(td, "u2"), span(td, "")
	require.NoError(t, p.ConsumeTraces(context.Background(), td))
	assert.Equal(t, map[string]any{"user.id": "u1", "user.team": "payments", "user.limit": int64(500), "user.ratio": 0.5, "user.beta": true},
		known.Attributes().AsRaw())
	assert.Equal(t, map[string]any{"user.id": "u2"}, unknown.Attributes().AsRaw())
	assert.Equal(t, 0, none.Attributes().Len())
	assert.Equal(t, 3, sink.SpanCount(), "the batch is passed on")
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	err := (&Config{}).Validate()
	assert.ErrorContains(t, err, "key: must be set")
	assert.ErrorContains(t, err, "file: must be set")

	_, err = NewFromJSON("user.id", "", []byte(`{"u1":{"tags":["a"]}}`))
	assert.ErrorContains(t, err, `values["u1"]["tags"]: unsupported value type`)
}
