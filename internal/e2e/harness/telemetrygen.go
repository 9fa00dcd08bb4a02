package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var telemetrygenRuns atomic.Int64

// Telemetrygen is a running telemetrygen process.
type Telemetrygen struct {
	tb      testing.TB
	redact  redactor
	args    []string
	outPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

// StartTelemetrygen starts telemetrygen with args (e.g. "traces", "--otlp-insecure",
// ...). Secrets in redact (tokens in --otlp-header) are masked in everything
// printed. The process is killed if it still runs when the test ends.
func StartTelemetrygen(tb testing.TB, redact []string, args ...string) *Telemetrygen {
	tb.Helper()
	bin := TelemetrygenBinary(tb)
	n := telemetrygenRuns.Add(1)
	g := &Telemetrygen{
		tb:      tb,
		redact:  redactor(redact),
		args:    args,
		outPath: filepath.Join(tb.TempDir(), fmt.Sprintf("telemetrygen-%d.log", n)),
		done:    make(chan struct{}),
	}
	out, err := os.Create(g.outPath)
	if err != nil {
		tb.Fatalf("telemetrygen output: %v", err)
	}
	defer out.Close()
	g.cmd = exec.Command(bin, args...)
	g.cmd.Stdout = out
	g.cmd.Stderr = out
	if err := g.cmd.Start(); err != nil {
		tb.Fatalf("start telemetrygen: %v", err)
	}
	go func() {
		g.err = g.cmd.Wait()
		close(g.done)
	}()
	tb.Cleanup(func() {
		select {
		case <-g.done:
		default:
			_ = g.cmd.Process.Kill()
			<-g.done
		}
	})
	return g
}

// Wait waits up to timeout for telemetrygen to exit and fails the test (printing
// its masked output) unless it exited with status 0.
func (g *Telemetrygen) Wait(timeout time.Duration) {
	g.tb.Helper()
	select {
	case <-g.done:
	case <-time.After(timeout):
		_ = g.cmd.Process.Kill()
		<-g.done
		g.tb.Fatalf("telemetrygen did not finish within %v\n%s", timeout, g.describe())
	}
	if g.err != nil {
		g.tb.Fatalf("telemetrygen failed: %v\n%s", g.err, g.describe())
	}
}

// Exited reports whether telemetrygen has already exited.
func (g *Telemetrygen) Exited() bool {
	select {
	case <-g.done:
		return true
	default:
		return false
	}
}

// Output returns what telemetrygen printed so far, secrets masked.
func (g *Telemetrygen) Output() string {
	b, err := os.ReadFile(g.outPath)
	if err != nil {
		return fmt.Sprintf("(output unreadable: %v)", err)
	}
	return g.redact.apply(string(b))
}

func (g *Telemetrygen) describe() string {
	return fmt.Sprintf("--- telemetrygen %s ---\n%s", g.redact.apply(strings.Join(g.args, " ")), tail(g.Output(), 32<<10))
}

// RunTelemetrygen runs telemetrygen to completion (bounded by timeout) and fails
// the test unless it succeeds.
func RunTelemetrygen(tb testing.TB, timeout time.Duration, redact []string, args ...string) {
	tb.Helper()
	StartTelemetrygen(tb, redact, args...).Wait(timeout)
}
