// Package harness runs the real otelcol-custom binary and telemetrygen for
// end-to-end tests: it finds the binaries, writes generated configs with free
// loopback ports, waits for the health_check extension, stops the collector with
// SIGTERM and prints its log (with secrets masked) when a test fails.
//
// Every e2e test (bearerauth, azureidentityauth, kvcache, ...) uses this package
// instead of its own process handling.
package harness // import "github.com/otelcol-custom/otelcol-custom/internal/e2e/harness"

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// BinaryEnv overrides the collector binary used by the e2e tests.
const BinaryEnv = "OTELCOL_CUSTOM_BINARY"

// TelemetrygenEnv overrides the telemetrygen binary used by the e2e tests.
const TelemetrygenEnv = "TELEMETRYGEN"

// RepoRoot returns the repository root: the nearest parent of the working
// directory that holds builder-config.yaml.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "builder-config.yaml")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("repository root not found: no builder-config.yaml above the working directory")
		}
		dir = parent
	}
}

// CollectorBinary returns the path of the otelcol-custom binary: $OTELCOL_CUSTOM_BINARY
// or <repo>/dist/otelcol-custom. The test fails with instructions when it is missing.
func CollectorBinary(tb testing.TB) string {
	tb.Helper()
	path := os.Getenv(BinaryEnv)
	if path == "" {
		path = filepath.Join(RepoRoot(tb), "dist", "otelcol-custom")
	}
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("collector binary %s is missing (%v): build it first with `make build` (`make test` does this)", path, err)
	}
	return path
}

// TelemetrygenBinary returns the path of telemetrygen: $TELEMETRYGEN, then PATH,
// then $(go env GOPATH)/bin. The test fails with instructions when it is missing.
func TelemetrygenBinary(tb testing.TB) string {
	tb.Helper()
	if path := os.Getenv(TelemetrygenEnv); path != "" {
		return path
	}
	if path, err := exec.LookPath("telemetrygen"); err == nil {
		return path
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		path := filepath.Join(dir, "bin", "telemetrygen")
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	tb.Fatal("telemetrygen not found in $TELEMETRYGEN, PATH or $(go env GOPATH)/bin: install it with " +
		"`go install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v0.161.0` (`make test` does this)")
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Ports hands out free loopback ports by name; the same name always gets the same
// port. A collector config asks for the ports it listens on, and the test reads
// them back from the Collector afterwards.
type Ports struct {
	tb    testing.TB
	mu    sync.Mutex
	ports map[string]int
}

func newPorts(tb testing.TB) *Ports { return &Ports{tb: tb, ports: map[string]int{}} }

// Get returns the port for name, choosing a free one on first use.
func (p *Ports) Get(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	port, ok := p.ports[name]
	if !ok {
		port = FreePort(p.tb)
		p.ports[name] = port
	}
	return port
}

func (p *Ports) has(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.ports[name]
	return ok
}

// Endpoint returns "127.0.0.1:<port>" for name.
func (p *Ports) Endpoint(name string) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Get(name)))
}

// WriteFile writes data to path atomically (temporary file in the same
// directory, then rename), the way a secret rotation tool does.
func WriteFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := writeFileAtomic(path, data); err != nil {
		tb.Fatalf("write %s: %v", path, err)
	}
}

func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o600); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// redactor masks secrets in text that is about to be printed.
type redactor []string

func (r redactor) apply(s string) string {
	for _, secret := range r {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[REDACTED]")
		}
	}
	return s
}

// tail returns at most the last max bytes of s, starting at a line boundary.
func tail(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	s = s[len(s)-limit:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return fmt.Sprintf("[... earlier lines cut ...]\n%s", s)
}
