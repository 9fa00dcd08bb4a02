package httpkvext

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"
)

const benchValue = `{"team":"payments","tier":"gold","limit":500}`

// answerAll makes srv know every key: per_key GETs and bulk POSTs get benchValue
// for each key asked for, so every key of a fresh batch is a found miss.
func answerAll(srv *apiServer) {
	srv.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(benchValue))
			return true
		}
		var req map[string][]string
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return true
		}
		out := make(map[string]json.RawMessage, len(req["keys"]))
		for _, k := range req["keys"] {
			out[k] = json.RawMessage(benchValue)
		}
		_ = json.NewEncoder(w).Encode(out)
		return true
	})
}

// newBenchProcessor is the kvcache processor enriching spans by user.id from
// httpkv (cfg) on a host that carries it.
func newBenchProcessor(b *testing.B, cfg *Config) processor.Traces {
	storeID := component.MustNewIDWithName("httpkv", "bench")
	ext, err := newHTTPKV(cfg, extensionSettings())
	require.NoError(b, err)
	host := kvcachetest.NewHost(map[component.ID]component.Component{storeID: ext})
	require.NoError(b, ext.Start(context.Background(), host))
	b.Cleanup(func() { require.NoError(b, ext.Shutdown(context.Background())) })

	f := kvcacheprocessor.NewFactory()
	pcfg := f.CreateDefaultConfig().(*kvcacheprocessor.Config)
	pcfg.Store = storeID
	pcfg.Timeout = 10 * time.Second // a loaded machine must not turn misses into timeouts
	pcfg.FetchTimeout = 10 * time.Second
	pcfg.Lookups = []kvcacheprocessor.LookupConfig{{
		Context:      kvcacheprocessor.ContextSpan,
		Key:          kvcacheprocessor.KeyConfig{Attributes: []string{"user.id"}},
		TargetPrefix: "user.",
		Action:       kvcacheprocessor.ActionInsert,
	}}
	require.NoError(b, pcfg.Validate())
	p, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(f.Type()), pcfg, consumertest.NewNop())
	require.NoError(b, err)
	require.NoError(b, p.Start(context.Background(), host))
	b.Cleanup(func() { require.NoError(b, p.Shutdown(context.Background())) })
	return p
}

// missBatch is one batch of spans: keys distinct user.id values never asked for
// before (iteration it), two spans each.
func missBatch(it, keys int) ptrace.Traces {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for i := range 2 * keys {
		s := ss.Spans().AppendEmpty()
		s.SetName("GET /cart")
		s.Attributes().PutStr("user.id", fmt.Sprintf("user-%d-%d", it, i%keys))
	}
	return td
}

// BenchmarkMissBatch sends the kvcache processor batches whose keys are all
// misses of its local cache, with httpkv as the store, and reports how many HTTP
// requests one batch cost (requests/batch). Bulk mode must make exactly one per
// batch, whatever its size (the benchmark fails otherwise); per_key, the peer,
// makes one per distinct key.
func BenchmarkMissBatch(b *testing.B) {
	for _, mode := range []string{ModeBulk, ModePerKey} {
		for _, keys := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("mode=%s/keys=%d", mode, keys), func(b *testing.B) {
				srv := newAPIServer(b)
				answerAll(srv)
				cfg := perKeyConfig(srv)
				if mode == ModeBulk {
					cfg = bulkConfig(srv)
				}
				p := newBenchProcessor(b, cfg)
				batches := make([]ptrace.Traces, b.N)
				for i := range batches {
					batches[i] = missBatch(i, keys)
				}
				srv.requests.Store(0)
				b.ResetTimer()
				for i := range b.N {
					if err := p.ConsumeTraces(context.Background(), batches[i]); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				reqs := srv.requests.Load()
				b.ReportMetric(float64(reqs)/float64(b.N), "requests/batch")
				last := batches[b.N-1].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(2*keys - 1)
				if v, ok := last.Attributes().Get("user.team"); !ok || v.Str() != "payments" {
					b.Fatalf("the last span of the last batch was not enriched: %v", last.Attributes().AsRaw())
				}
				want := int64(b.N)
				if mode == ModePerKey {
					want = int64(b.N * keys)
				}
				if reqs != want {
					b.Fatalf("%d HTTP requests for %d batches of %d distinct missing keys, want %d", reqs, b.N, keys, want)
				}
			})
		}
	}
}
