package otlpload

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// receiver is an in-process OTLP/gRPC trace receiver (pdata's server side decodes the
// requests) that records what it got and answers as told.
type receiver struct {
	ptraceotlp.UnimplementedGRPCServer
	mu       sync.Mutex
	requests int
	spans    int
	last     ptrace.Traces
	auth     []string
	reject   int64 // spans to report as rejected in partial_success
	refuse   error // returned instead of accepting
}

func (r *receiver) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.auth = md.Get("authorization")
	if r.refuse != nil {
		return ptraceotlp.NewExportResponse(), r.refuse
	}
	r.requests++
	r.spans += req.Traces().SpanCount() - int(r.reject)
	r.last = req.Traces()
	resp := ptraceotlp.NewExportResponse()
	if r.reject > 0 {
		resp.PartialSuccess().SetRejectedSpans(r.reject)
	}
	return resp, nil
}

func (r *receiver) totals() (requests, spans int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, r.spans
}

func startReceiver(t *testing.T, r *receiver) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, r)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}

func run(t *testing.T, cfg Config, d time.Duration) Counts {
	t.Helper()
	g, err := Start(cfg)
	require.NoError(t, err)
	time.Sleep(d)
	return g.Stop()
}

func TestCountsWhatTheReceiverAccepted(t *testing.T) {
	r := &receiver{}
	cfg := Config{
		Endpoint: startReceiver(t, r), Connections: 2, StreamsPerConnection: 2, Spans: 50, Keys: 7,
		Headers: map[string]string{"authorization": "Bearer load-test"},
	}
	c := run(t, cfg, 300*time.Millisecond)

	requests, spans := r.totals()
	require.Positive(t, c.Exports)
	assert.Zero(t, c.Failures, c.LastError)
	assert.Equal(t, c.Exports*50, c.AcceptedSpans)
	// Every export the generator counted reached the receiver; the receiver may also have
	// answered a few whose response the generator no longer waited for when it stopped.
	assert.GreaterOrEqual(t, int64(requests), c.Exports)
	assert.LessOrEqual(t, int64(requests)-c.Exports, int64(cfg.Connections*cfg.StreamsPerConnection))
	assert.Equal(t, requests*50, spans)

	r.mu.Lock()
	defer r.mu.Unlock()
	assert.Equal(t, []string{"Bearer load-test"}, r.auth)
	spansOf := r.last.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	require.Equal(t, 50, spansOf.Len())
	ids := map[string]bool{}
	for i := range spansOf.Len() {
		v, ok := spansOf.At(i).Attributes().Get("user.id")
		require.True(t, ok)
		ids[v.Str()] = true
	}
	assert.Len(t, ids, 7)
}

func TestRefusedExportsAreFailuresNotSpans(t *testing.T) {
	r := &receiver{refuse: status.Error(codes.Unauthenticated, "no token")}
	c := run(t, Config{Endpoint: startReceiver(t, r), Spans: 10}, 100*time.Millisecond)
	assert.Zero(t, c.Exports)
	assert.Zero(t, c.AcceptedSpans)
	assert.Positive(t, c.Failures)
	assert.Contains(t, c.LastError, "no token")
}

func TestPartialSuccessSubtractsRejectedSpans(t *testing.T) {
	r := &receiver{reject: 3}
	c := run(t, Config{Endpoint: startReceiver(t, r), Connections: 1, StreamsPerConnection: 1, Spans: 10}, 100*time.Millisecond)
	require.Positive(t, c.Exports)
	assert.Equal(t, c.Exports*7, c.AcceptedSpans)
}

func TestNoServerCountsFailures(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())
	c := run(t, Config{Endpoint: addr, Connections: 1, StreamsPerConnection: 1, Timeout: 50 * time.Millisecond}, 100*time.Millisecond)
	assert.Zero(t, c.AcceptedSpans)
	assert.Positive(t, c.Failures)
}

func TestStartRejectsEmptyEndpoint(t *testing.T) {
	_, err := Start(Config{})
	assert.ErrorContains(t, err, "endpoint")
}

func TestBuildRequestDecodes(t *testing.T) {
	b, err := BuildRequest(1000, 100)
	require.NoError(t, err)
	req := ptraceotlp.NewExportRequest()
	require.NoError(t, req.UnmarshalProto(b))
	assert.Equal(t, 1000, req.Traces().SpanCount())
}
