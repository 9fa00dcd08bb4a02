//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/otelcol-custom/otelcol-custom/internal/e2e/harness"
)

// Port names used in the generated configs.
const (
	portGRPC = "otlp_grpc"
	portHTTP = "otlp_http"
)

// newToken returns a random token that is valid for the bearer scheme (hex).
func newToken(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// serverConfig is collector B: OTLP gRPC and HTTP receivers that require a bearer
// token from tokensFile, and a file exporter writing OTLP JSON to outFile.
func serverConfig(tokensFile, outFile string) func(p *harness.Ports) string {
	return func(p *harness.Ports) string {
		return receiverConfig(p, "bearerauth/server", fmt.Sprintf(`
  bearerauth/server:
    tokens_file: %q`, tokensFile), outFile)
	}
}

// clientConfig is collector A: an OTLP gRPC receiver without auth that forwards
// to B's gRPC endpoint with a bearer token read from tokenFile (queue and retry
// on). When probeURL is set, the same traces also go through the same
// authenticator to an OTLP/HTTP sink at probeURL, which lets the test see which
// token A currently sends.
func clientConfig(tokenFile, serverGRPC, probeURL string) func(p *harness.Ports) string {
	return func(p *harness.Ports) string {
		return forwarderConfig(p, "bearerauth/client", fmt.Sprintf(`
  bearerauth/client:
    token_file: %q
    # plaintext gRPC is fine here: both ends are on loopback.
    require_transport_security: false`, tokenFile), serverGRPC, probeURL)
	}
}

// onePipeline is a server (B) and a client (A) in front of it.
type onePipeline struct {
	dir        string
	tokensFile string // B's accepted tokens
	tokenFile  string // A's token
	outFile    string // B's file exporter output
	server     *harness.Collector
	client     *harness.Collector
}

func startPipeline(t *testing.T, serverTokens, clientToken, probeURL string, secrets []string) *onePipeline {
	t.Helper()
	dir := t.TempDir()
	p := &onePipeline{
		dir:        dir,
		tokensFile: filepath.Join(dir, "server-tokens"),
		tokenFile:  filepath.Join(dir, "client-token"),
		outFile:    filepath.Join(dir, "received.json"),
	}
	harness.WriteFile(t, p.tokensFile, []byte(serverTokens))
	harness.WriteFile(t, p.tokenFile, []byte(clientToken+"\n"))
	p.server = harness.Start(t, harness.Options{
		Name: "server-B", Config: serverConfig(p.tokensFile, p.outFile), Redact: secrets,
	})
	p.client = harness.Start(t, harness.Options{
		Name: "client-A", Config: clientConfig(p.tokenFile, p.server.Endpoint(portGRPC), probeURL), Redact: secrets,
	})
	return p
}

// spansPerTrace: telemetrygen v0.161.0 makes every trace a parent span plus at
// least one child span ("lets-go" and "okey-dokey-0").
const spansPerTrace = 2

// telemetrygenArgs sends spans spans to endpoint at about rate spans per second
// (0: unthrottled; telemetrygen's limiter counts spans, not traces).
func telemetrygenArgs(endpoint string, spans, rate int) []string {
	return []string{
		"traces", "--otlp-insecure", "--otlp-endpoint", endpoint,
		"--traces", strconv.Itoa(spans / spansPerTrace), "--child-spans", "1",
		"--rate", strconv.Itoa(rate), "--workers", "1",
		// small batches: a request every few spans, so A and B see steady traffic
		"--batch-size", "10",
	}
}

// emptyRequest is a valid OTLP/HTTP JSON request without spans: probing B with it
// shows whether a token is accepted without changing the span count.
const emptyRequest = `{"resourceSpans":[]}`

// postTraces POSTs body to B's OTLP/HTTP endpoint with the given Authorization
// value ("" sends none) and returns the status code and response body.
func postTraces(ctx context.Context, endpoint, contentType string, body []byte, authorization string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+endpoint+"/v1/traces", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", contentType)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(respBody), err
}

// expectHTTPStatus polls B with an empty request until it answers want, e.g. to
// wait until B has reloaded its tokens file.
func expectHTTPStatus(t *testing.T, endpoint, authorization string, want int) {
	t.Helper()
	err := harness.Poll(t.Context(), 20*time.Second, func(ctx context.Context) error {
		code, _, err := postTraces(ctx, endpoint, "application/json", []byte(emptyRequest), authorization)
		if err != nil {
			return err
		}
		if code != want {
			return fmt.Errorf("HTTP %d, want %d", code, want)
		}
		return nil
	})
	require.NoError(t, err, "waiting for the server's answer to change")
}

func oneSpanTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("refused")
	span.SetTraceID([16]byte{1, 2, 3})
	span.SetSpanID([8]byte{4, 5, 6})
	return td
}

// TestBearerAuthEndToEnd: A forwards telemetrygen's spans to B with a bearer
// token; B receives exactly the spans sent. Requests to B without a token or
// with a wrong one are refused over gRPC and HTTP and add nothing.
func TestBearerAuthEndToEnd(t *testing.T) {
	good, wrong := newToken(t), newToken(t)
	secrets := []string{good, wrong}
	p := startPipeline(t, "e2e-client:"+good+"\n", good, "", secrets)

	refusedGRPC(t, p.server.Endpoint(portGRPC), good, wrong)
	refusedHTTP(t, p.server.Endpoint(portHTTP), good, wrong)

	const spans = 200
	harness.RunTelemetrygen(t, 2*time.Minute, secrets, telemetrygenArgs(p.client.Endpoint(portGRPC), spans, 0)...)

	require.Eventually(t, func() bool { return harness.CountSpans(t, p.outFile) >= spans }, 30*time.Second, 50*time.Millisecond,
		"B did not receive the %d spans sent through A", spans)
	p.client.Stop()
	p.server.Stop()
	assert.Equal(t, spans, harness.CountSpans(t, p.outFile), "B must hold exactly the spans telemetrygen sent")
	for _, secret := range secrets {
		assert.NotContains(t, rawLog(t, p.server), secret, "B's log must never contain a token")
		assert.NotContains(t, rawLog(t, p.client), secret, "A's log must never contain a token")
	}
}

func refusedGRPC(t *testing.T, endpoint, good, wrong string) {
	t.Helper()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	client := ptraceotlp.NewGRPCClient(conn)
	cases := []struct {
		name string
		md   metadata.MD
	}{
		{name: "no token", md: metadata.MD{}},
		{name: "wrong token", md: metadata.Pairs("authorization", "Bearer "+wrong)},
		{name: "wrong scheme", md: metadata.Pairs("authorization", "Basic "+good)},
		{name: "empty value", md: metadata.Pairs("authorization", "")},
		{name: "scheme only", md: metadata.Pairs("authorization", "Bearer")},
	}
	for _, tc := range cases {
		ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(t.Context(), tc.md), 10*time.Second)
		_, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(oneSpanTraces()))
		cancel()
		require.Error(t, err, "gRPC %s must be refused", tc.name)
		assert.Equal(t, codes.Unauthenticated, status.Code(err), "gRPC %s", tc.name)
		assert.NotContains(t, err.Error(), good, "gRPC %s: the error must not echo a token", tc.name)
		assert.NotContains(t, err.Error(), wrong, "gRPC %s: the error must not echo a token", tc.name)
	}
}

func refusedHTTP(t *testing.T, endpoint, good, wrong string) {
	t.Helper()
	body, err := ptraceotlp.NewExportRequestFromTraces(oneSpanTraces()).MarshalProto()
	require.NoError(t, err)
	for name, authorization := range map[string]string{
		"no token":     "",
		"wrong token":  "Bearer " + wrong,
		"wrong scheme": "Basic " + good,
		"scheme only":  "Bearer",
	} {
		code, respBody, err := postTraces(t.Context(), endpoint, "application/x-protobuf", body, authorization)
		require.NoError(t, err, "HTTP %s", name)
		assert.Equal(t, http.StatusUnauthorized, code, "HTTP %s must be refused", name)
		assert.NotContains(t, respBody, good, "HTTP %s: the response must not echo a token", name)
		assert.NotContains(t, respBody, wrong, "HTTP %s: the response must not echo a token", name)
	}
}

// rawLog reads a collector's log without masking, to check that no token leaked.
func rawLog(t *testing.T, c *harness.Collector) string {
	t.Helper()
	b, err := os.ReadFile(c.LogPath())
	require.NoError(t, err)
	return string(b)
}

// tokenSink is an OTLP/HTTP endpoint that accepts everything and remembers the
// last Authorization header it saw, so the test knows when A switched tokens.
type tokenSink struct {
	mu   sync.Mutex
	last string
}

func (s *tokenSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	s.last = r.Header.Get("Authorization")
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func (s *tokenSink) lastAuthorization() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// TestBearerAuthRotation rotates the token while telemetrygen sends at a steady
// rate: B accepts old+new, A switches to new, B drops old. Nothing may be lost.
func TestBearerAuthRotation(t *testing.T) {
	oldToken, newTok := newToken(t), newToken(t)
	secrets := []string{oldToken, newTok}

	sink := &tokenSink{}
	probe := httptest.NewServer(sink)
	t.Cleanup(probe.Close) // registered first, so it closes after the collectors stopped

	p := startPipeline(t, "rotating:"+oldToken+"\n", oldToken, probe.URL, secrets)
	httpEndpoint := p.server.Endpoint(portHTTP)

	// About 8 s of traffic at 50 spans/s; the rotation below takes well under that.
	const spans, rate = 400, 50
	gen := harness.StartTelemetrygen(t, secrets, telemetrygenArgs(p.client.Endpoint(portGRPC), spans, rate)...)
	require.Eventually(t, func() bool { return harness.CountSpans(t, p.outFile) > 0 }, 30*time.Second, 20*time.Millisecond,
		"no traffic reached B before the rotation")

	// 1. B accepts both tokens.
	harness.WriteFile(t, p.tokensFile, []byte("rotating:"+oldToken+"\nrotating-next:"+newTok+"\n"))
	expectHTTPStatus(t, httpEndpoint, "Bearer "+newTok, http.StatusOK)
	// 2. A sends the new token (seen at the probe sink, which shares A's authenticator).
	harness.WriteFile(t, p.tokenFile, []byte(newTok+"\n"))
	err := harness.Poll(t.Context(), 20*time.Second, func(context.Context) error {
		if sink.lastAuthorization() != "Bearer "+newTok {
			return errors.New("A still sends the old token")
		}
		return nil
	})
	require.NoError(t, err, "A did not switch to the new token")
	// 3. B accepts only the new token.
	harness.WriteFile(t, p.tokensFile, []byte("rotating-next:"+newTok+"\n"))
	expectHTTPStatus(t, httpEndpoint, "Bearer "+oldToken, http.StatusUnauthorized)
	rotatedAt := harness.CountSpans(t, p.outFile)
	require.False(t, gen.Exited(), "telemetrygen finished before the rotation completed; the rotation was not under load")

	gen.Wait(2 * time.Minute)
	require.Eventually(t, func() bool { return harness.CountSpans(t, p.outFile) >= spans }, 30*time.Second, 50*time.Millisecond,
		"B did not receive all %d spans", spans)
	p.client.Stop()
	p.server.Stop()
	got := harness.CountSpans(t, p.outFile)
	assert.Equal(t, spans, got, "spans lost or duplicated across the rotation")
	assert.Less(t, rotatedAt, spans, "some spans must flow after the rotation")
	t.Logf("rotation: %d spans sent, %d received by B (%d before the old token was dropped)", spans, got, rotatedAt)
}
