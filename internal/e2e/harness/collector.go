package harness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// HealthCheck is the port name the config must give the health_check extension:
//
//	health_check:
//	  endpoint: <p.Endpoint(harness.HealthCheck)>
//
// Start waits until that endpoint answers 200.
const HealthCheck = "health_check"

// Options describe one collector process.
type Options struct {
	// Name labels the process in file names and messages, e.g. "server".
	Name string
	// Config renders the collector's YAML config. It asks p for every port it
	// listens on; it must configure health_check on p.Endpoint(HealthCheck).
	Config func(p *Ports) string
	// Redact lists secrets masked in everything the harness prints.
	Redact []string
	// StartTimeout bounds the wait for health_check. Default 60s (the machine may be busy).
	StartTimeout time.Duration
	// StopTimeout bounds the wait after SIGTERM before SIGKILL. Default 30s.
	StopTimeout time.Duration
	// Dir is the working directory. Default: a fresh temporary directory.
	Dir string
}

// Collector is a running otelcol-custom process.
type Collector struct {
	tb       testing.TB
	opts     Options
	ports    *Ports
	cfgPath  string
	logPath  string
	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	stopOnce sync.Once
}

// maxStartAttempts bounds retries when a chosen port was taken in the meantime.
const maxStartAttempts = 3

// Start writes the config, starts the collector and waits until health_check
// answers. The collector is stopped when the test ends; its log is printed (with
// secrets masked) when the test failed.
func Start(tb testing.TB, opts Options) *Collector {
	tb.Helper()
	if opts.Name == "" {
		opts.Name = "collector"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 30 * time.Second
	}
	bin := CollectorBinary(tb)
	dir := tb.TempDir()
	if opts.Dir == "" {
		opts.Dir = dir
	}
	for attempt := 1; ; attempt++ {
		c := &Collector{
			tb:      tb,
			opts:    opts,
			ports:   newPorts(tb),
			cfgPath: filepath.Join(dir, fmt.Sprintf("%s-%d.yaml", opts.Name, attempt)),
			logPath: filepath.Join(dir, fmt.Sprintf("%s-%d.log", opts.Name, attempt)),
			done:    make(chan struct{}),
		}
		err := c.start(bin)
		if err == nil {
			tb.Cleanup(c.cleanup)
			return c
		}
		log := c.Log()
		if attempt < maxStartAttempts && strings.Contains(log, "address already in use") {
			tb.Logf("collector %s: a port was taken meanwhile, retrying with new ports", opts.Name)
			continue
		}
		tb.Fatalf("collector %s did not become healthy: %v\n--- %s log ---\n%s", opts.Name, err, opts.Name, tail(log, 32<<10))
	}
}

func (c *Collector) start(bin string) error {
	if err := os.WriteFile(c.cfgPath, []byte(c.opts.Config(c.ports)), 0o600); err != nil {
		return err
	}
	if !c.ports.has(HealthCheck) {
		return errors.New("the config does not use p.Endpoint(harness.HealthCheck) for health_check")
	}
	logFile, err := os.Create(c.logPath)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child has its own descriptor
	c.cmd = exec.Command(bin, "--config", c.cfgPath)
	c.cmd.Dir = c.opts.Dir
	c.cmd.Stdout = logFile
	c.cmd.Stderr = logFile
	if err := c.cmd.Start(); err != nil {
		return err
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.done)
	}()
	if err := c.waitHealthy(); err != nil {
		c.kill()
		return err
	}
	return nil
}

func (c *Collector) waitHealthy() error {
	url := fmt.Sprintf("http://%s/", c.ports.Endpoint(HealthCheck))
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(c.opts.StartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return fmt.Errorf("exited before it was healthy: %v", c.waitErr)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	client.CloseIdleConnections()
	return fmt.Errorf("health_check at %s not OK after %v", url, c.opts.StartTimeout)
}

func (c *Collector) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

// Port returns the port the config asked for under name.
func (c *Collector) Port(name string) int { return c.ports.Get(name) }

// Endpoint returns "127.0.0.1:<port>" for name.
func (c *Collector) Endpoint(name string) string { return c.ports.Endpoint(name) }

// LogPath is the file holding the collector's stdout and stderr (unmasked: do
// not print it; use Log).
func (c *Collector) LogPath() string { return c.logPath }

// ConfigPath is the written config file.
func (c *Collector) ConfigPath() string { return c.cfgPath }

// Log returns what the collector wrote so far, secrets masked.
func (c *Collector) Log() string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	return redactor(c.opts.Redact).apply(string(b))
}

// Stop sends SIGTERM and waits for a clean exit (status 0); the test fails if the
// collector does not exit in time (it is then killed) or exits with an error.
// Stop is idempotent and also runs when the test ends.
func (c *Collector) Stop() {
	c.tb.Helper()
	c.stopOnce.Do(func() {
		select {
		case <-c.done:
			c.tb.Errorf("collector %s had already exited: %v", c.opts.Name, c.waitErr)
			return
		default:
		}
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			c.tb.Errorf("collector %s: SIGTERM: %v", c.opts.Name, err)
		}
		select {
		case <-c.done:
			if c.waitErr != nil {
				c.tb.Errorf("collector %s exited with %v after SIGTERM", c.opts.Name, c.waitErr)
			}
		case <-time.After(c.opts.StopTimeout):
			c.kill()
			c.tb.Errorf("collector %s did not stop within %v of SIGTERM; killed", c.opts.Name, c.opts.StopTimeout)
		}
	})
}

func (c *Collector) cleanup() {
	c.Stop()
	if c.tb.Failed() {
		c.tb.Logf("--- collector %s log (%s) ---\n%s", c.opts.Name, c.logPath, tail(c.Log(), 64<<10))
	}
}

// Poll calls fn every 50ms until it returns nil or timeout passes, and returns
// the last error. Use it for "wait until the collector reloaded X" probes.
func Poll(ctx context.Context, timeout time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
