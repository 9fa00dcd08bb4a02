// Package otlpload is a load generator for OTLP/gRPC traces that costs its own CPU almost
// nothing: one ExportTraceServiceRequest is built with pdata and marshalled once, and every
// export sends those bytes again through a gRPC codec that passes bytes through. A general
// generator (telemetrygen) builds and marshals every request and saturates a 2-core machine by
// itself; this one leaves the collector's core to the collector.
//
// Only what the receiving side accepted is counted: an export is a success when the RPC returns
// OK, and its spans count minus the spans the response's partial_success says were rejected.
package otlpload

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
)

// exportMethod is the full gRPC method name of the OTLP trace export.
const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// Config describes one load run.
type Config struct {
	// Endpoint is the receiver's host:port (plaintext gRPC).
	Endpoint string
	// Connections is the number of gRPC connections. Default 4.
	Connections int
	// StreamsPerConnection is the number of exports in flight on each connection. Default 2.
	StreamsPerConnection int
	// Spans is the number of spans in the request. Default 1000.
	Spans int
	// Keys is the number of distinct user.id attribute values among the spans. Default 100.
	Keys int
	// Headers are sent with every export, e.g. {"authorization": "Bearer ..."}.
	Headers map[string]string
	// Timeout bounds one export. Default 10s.
	Timeout time.Duration
}

func (c *Config) setDefaults() {
	if c.Connections <= 0 {
		c.Connections = 4
	}
	if c.StreamsPerConnection <= 0 {
		c.StreamsPerConnection = 2
	}
	if c.Spans <= 0 {
		c.Spans = 1000
	}
	if c.Keys <= 0 {
		c.Keys = 100
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
}

// Counts are cumulative totals since Start.
type Counts struct {
	// Exports is the number of exports that returned OK.
	Exports int64
	// AcceptedSpans is the number of spans those exports carried, minus the rejected ones.
	AcceptedSpans int64
	// Failures is the number of exports that returned an error.
	Failures int64
	// LastError is the text of the most recent failure ("" if none).
	LastError string
}

// Sub returns c minus an earlier snapshot (LastError is c's).
func (c Counts) Sub(earlier Counts) Counts {
	return Counts{
		Exports:       c.Exports - earlier.Exports,
		AcceptedSpans: c.AcceptedSpans - earlier.AcceptedSpans,
		Failures:      c.Failures - earlier.Failures,
		LastError:     c.LastError,
	}
}

// BuildRequest returns the marshalled request: one resource (service.name=checkout), one scope,
// spans spans named "GET /cart" with three attributes each, user.id taking keys distinct values
// (user-0 ... user-<keys-1>), the request bench/kvcachebench decodes for its benchmarks too.
func BuildRequest(spans, keys int) ([]byte, error) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("otlpload")
	ss.Spans().EnsureCapacity(spans)
	start := time.Now()
	for i := range spans {
		s := ss.Spans().AppendEmpty()
		s.SetName("GET /cart")
		s.SetKind(ptrace.SpanKindServer)
		s.SetTraceID(pcommon.TraceID{byte(i >> 8), byte(i), 1})
		s.SetSpanID(pcommon.SpanID{byte(i >> 8), byte(i), 1})
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Millisecond)))
		s.Attributes().PutStr("user.id", "user-"+strconv.Itoa(i%keys))
		s.Attributes().PutStr("http.method", "GET")
		s.Attributes().PutInt("http.status_code", 200)
	}
	return ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
}

// rawRequest is an already-encoded request message.
type rawRequest []byte

// rawResponse receives the undecoded response message.
type rawResponse struct{ b []byte }

// rawCodec sends a rawRequest's bytes as the message and keeps the response's bytes. Its name is
// "proto", so the server sees an ordinary application/grpc+proto call.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	r, ok := v.(rawRequest)
	if !ok {
		return nil, fmt.Errorf("otlpload: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(r)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	r, ok := v.(*rawResponse)
	if !ok {
		return fmt.Errorf("otlpload: cannot unmarshal into %T", v)
	}
	r.b = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// Generator is a running load.
type Generator struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	conns   []*grpc.ClientConn
	exports atomic.Int64
	spans   atomic.Int64
	fails   atomic.Int64
	lastErr atomic.Pointer[string]
}

// Start dials the connections and starts sending at once; it returns an error only when the
// config is unusable (a refused or failing export is counted, not returned).
func Start(cfg Config) (*Generator, error) {
	cfg.setDefaults()
	if cfg.Endpoint == "" {
		return nil, errors.New("otlpload: endpoint is empty")
	}
	body, err := BuildRequest(cfg.Spans, cfg.Keys)
	if err != nil {
		return nil, fmt.Errorf("otlpload: building the request: %w", err)
	}
	md := metadata.New(cfg.Headers)
	ctx, cancel := context.WithCancel(context.Background())
	g := &Generator{cancel: cancel}
	for range cfg.Connections {
		conn, err := grpc.NewClient(cfg.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			g.Stop()
			return nil, fmt.Errorf("otlpload: endpoint %q: %w", cfg.Endpoint, err)
		}
		g.conns = append(g.conns, conn)
		for range cfg.StreamsPerConnection {
			g.wg.Add(1)
			go g.loop(metadata.NewOutgoingContext(ctx, md), conn, rawRequest(body), int64(cfg.Spans), cfg.Timeout)
		}
	}
	return g, nil
}

func (g *Generator) loop(ctx context.Context, conn *grpc.ClientConn, body rawRequest, spans int64, timeout time.Duration) {
	defer g.wg.Done()
	codec := grpc.ForceCodecV2(rawCodec{})
	for ctx.Err() == nil {
		var resp rawResponse
		callCtx, cancel := context.WithTimeout(ctx, timeout)
		err := conn.Invoke(callCtx, exportMethod, body, &resp, codec)
		cancel()
		if err == nil {
			err = g.accept(spans, resp.b)
		}
		if err != nil {
			if ctx.Err() != nil {
				return // stopped: the export was cut short, not refused
			}
			g.fails.Add(1)
			msg := err.Error()
			g.lastErr.Store(&msg)
			// A refusing or absent server answers at once: do not spin the generator's core.
			time.Sleep(time.Millisecond)
		}
	}
}

// accept counts one OK export; a response with partial_success subtracts its rejected spans.
func (g *Generator) accept(spans int64, resp []byte) error {
	if len(resp) > 0 { // a fully successful export answers with an empty message
		r := ptraceotlp.NewExportResponse()
		if err := r.UnmarshalProto(resp); err != nil {
			return fmt.Errorf("decoding the export response: %w", err)
		}
		spans -= r.PartialSuccess().RejectedSpans()
	}
	g.exports.Add(1)
	g.spans.Add(spans)
	return nil
}

// Counts returns the totals so far.
func (g *Generator) Counts() Counts {
	c := Counts{Exports: g.exports.Load(), AcceptedSpans: g.spans.Load(), Failures: g.fails.Load()}
	if e := g.lastErr.Load(); e != nil {
		c.LastError = *e
	}
	return c
}

// Stop ends the load, waits for the senders and closes the connections. It returns the totals.
func (g *Generator) Stop() Counts {
	g.cancel()
	g.wg.Wait()
	for _, c := range g.conns {
		_ = c.Close()
	}
	return g.Counts()
}
