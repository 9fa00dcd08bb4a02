package bearerauthext

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// rotationChecker validates every token a server receives: it must be a
// rotation token (never empty, never anything else) of a generation no older
// than the one the client had seen settle before it sent the request.
type rotationChecker struct {
	requests   atomic.Int64
	violations atomic.Int64
	mu         sync.Mutex
	first      string
}

func (c *rotationChecker) check(kind, headerValue, minGenStr string) {
	c.requests.Add(1)
	minGen, err := strconv.Atoi(minGenStr)
	if err != nil {
		c.fail(fmt.Sprintf("%s: bad min-gen %q", kind, minGenStr))
		return
	}
	tok, ok := strings.CutPrefix(headerValue, "Bearer ")
	gen, gerr := rotationGen(tok)
	switch {
	case !ok || tok == "":
		c.fail(fmt.Sprintf("%s: empty or unprefixed token %q", kind, headerValue))
	case gerr != nil:
		c.fail(fmt.Sprintf("%s: unexpected token %q", kind, tok))
	case gen < minGen:
		c.fail(fmt.Sprintf("%s: old token of generation %d sent after generation %d settled", kind, gen, minGen))
	}
}

func (c *rotationChecker) fail(msg string) {
	if c.violations.Add(1) == 1 {
		c.mu.Lock()
		c.first = msg
		c.mu.Unlock()
	}
}

func rotationToken(gen int) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return fmt.Sprintf("rot-%03d-%s", gen, hex.EncodeToString(b))
}

func rotationGen(tok string) (int, error) {
	parts := strings.Split(tok, "-")
	if len(parts) != 3 || parts[0] != "rot" || len(parts[2]) != 16 {
		return 0, fmt.Errorf("not a rotation token")
	}
	return strconv.Atoi(parts[1])
}

// TestRotationUnderLoad: 32 goroutines send through the RoundTripper (to an
// HTTP server) and the PerRPCCredentials (over a real gRPC connection) while
// the token file is rotated 100 times: 50 write+rename, 50 Kubernetes ..data
// swaps. After each rotation settles (the handle serves the new token) no
// request may carry an older token, and none may ever carry an empty one.
func TestRotationUnderLoad(t *testing.T) {
	const (
		workers   = 32
		rotations = 50 // per style, 100 in all
	)
	styles := []struct {
		name  string
		setup func(t *testing.T, first string) (path string, rotate func(tok string))
	}{
		{"write+rename", func(t *testing.T, first string) (string, func(string)) {
			path := filepath.Join(t.TempDir(), "token")
			require.NoError(t, os.WriteFile(path, []byte(first), 0o600))
			return path, func(tok string) { writeAtomic(t, path, tok+"\n") }
		}},
		{"kubernetes ..data swap", func(t *testing.T, first string) (string, func(string)) {
			vol := newK8sVolume(t, map[string]string{"token": first})
			return vol.path("token"), func(tok string) { vol.swap(map[string]string{"token": tok + "\n"}) }
		}},
	}
	for _, style := range styles {
		t.Run(style.name, func(t *testing.T) {
			path, rotate := style.setup(t, rotationToken(0))
			cfg := fileClientConfig(path)
			cfg.RequireTransportSecurity = false // loopback gRPC without TLS
			ext := startExt(t, cfg, testSettings(), nil)
			h := ext.client.handle()
			_, err := h.Wait(context.Background())
			require.NoError(t, err)

			checker := &rotationChecker{}
			httpURL := startRotationHTTPServer(t, checker)
			conn := startRotationGRPCServer(t, ext, checker)
			rt, err := ext.RoundTripper(&http.Transport{MaxIdleConnsPerHost: workers})
			require.NoError(t, err)
			httpClient := &http.Client{Transport: rt}
			health := healthpb.NewHealthClient(conn)

			var settled atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var sendErrs atomic.Int64
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						minGen := strconv.FormatInt(settled.Load(), 10)
						if (w+i)%2 == 0 {
							req, _ := http.NewRequest(http.MethodGet, httpURL, http.NoBody)
							req.Header.Set("X-Min-Gen", minGen)
							resp, err := httpClient.Do(req)
							if err != nil {
								sendErrs.Add(1)
								continue
							}
							resp.Body.Close()
						} else {
							ctx := metadata.AppendToOutgoingContext(context.Background(), "x-min-gen", minGen)
							if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
								sendErrs.Add(1)
							}
						}
					}
				}()
			}

			for gen := 1; gen <= rotations; gen++ {
				tok := rotationToken(gen)
				rotate(tok)
				require.Eventually(t, func() bool {
					e := h.Current()
					return e != nil && e.Token.Value == tok
				}, 10*time.Second, time.Millisecond, "rotation %d did not settle", gen)
				settled.Store(int64(gen))
			}
			close(stop)
			wg.Wait()
			httpClient.CloseIdleConnections()

			checker.mu.Lock()
			first := checker.first
			checker.mu.Unlock()
			assert.Zero(t, checker.violations.Load(), "first violation: %s", first)
			assert.Zero(t, sendErrs.Load(), "requests failed")
			assert.Greater(t, checker.requests.Load(), int64(workers), "the load actually ran")
			t.Logf("%s: %d requests across %d rotations", style.name, checker.requests.Load(), rotations)
		})
	}
}

func startRotationHTTPServer(t *testing.T, c *rotationChecker) string {
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		vals := r.Header.Values("Authorization")
		if len(vals) != 1 {
			c.fail(fmt.Sprintf("http: %d Authorization values", len(vals)))
			return
		}
		c.check("http", vals[0], r.Header.Get("X-Min-Gen"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func startRotationGRPCServer(t *testing.T, ext *bearerAuth, c *rotationChecker) *grpc.ClientConn {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		vals := md.Get("authorization")
		minGen := md.Get("x-min-gen")
		if len(vals) != 1 || len(minGen) != 1 {
			c.fail(fmt.Sprintf("grpc: %d authorization values", len(vals)))
		} else {
			c.check("grpc", vals[0], minGen[0])
		}
		return handler(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	creds, err := ext.PerRPCCredentials()
	require.NoError(t, err)
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(creds))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
