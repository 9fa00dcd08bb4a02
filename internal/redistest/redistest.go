// Package redistest starts real redis-server processes for tests: a standalone
// server (optionally with an ACL user and TLS), a 3-master Redis Cluster and a
// Sentinel setup. Every process listens on 127.0.0.1 only, on ports chosen at
// random, keeps its files in t.TempDir() and is stopped in t.Cleanup.
//
// When redis-server is not installed the test is skipped with the install command,
// except when the CI environment variable is set: then it fails, because CI must
// run these tests.
//
// The harness drives the servers with redis-cli (see [Server.CLI]) so that what it
// observes does not depend on the client library under test. Typical use:
//
//	srv := redistest.Start(t, redistest.WithPassword("app", "secret"))
//	cfg.Endpoints = []string{srv.Addr()}
//	srv.ResetStats(t)
//	... one batch ...
//	require.Equal(t, 1, srv.CommandStats(t)["mget"])
//	srv.Stop()    // fault: calls must fail fast
//	srv.Restart() // same port; empty unless WithKeepData
//	srv.Pause(t, time.Second) // fault: a stalled server
//
//	c := redistest.StartCluster(t, 3) // c.Addrs(), c.CLI(t, ...), c.KeySlots(t, keys)
//	sn := redistest.StartSentinel(t, "mymaster") // sn.Addrs() are the sentinels
package redistest // import "github.com/otelcol-custom/otelcol-custom/internal/redistest"

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// InstallHint is the command that installs what this package needs.
const InstallHint = "sudo apt-get install -y redis-server redis-tools"

const (
	startTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
	pollEvery    = 20 * time.Millisecond
)

// binaries returns the paths of redis-server and redis-cli, skipping or failing the
// test when they are missing.
func binaries(t testing.TB) (server, cli string) {
	t.Helper()
	server, errS := lookPath("redis-server")
	cli, errC := lookPath("redis-cli")
	if errS == nil && errC == nil {
		return server, cli
	}
	msg := "redis-server and redis-cli are required for this test; install them with: " + InstallHint
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set, so a missing Redis is a failure: " + msg)
		return "", ""
	}
	t.Skip(msg)
	return "", ""
}

// fallbackDirs are searched when PATH does not find a binary (apt installs to
// /usr/bin, which a minimal PATH may lack).
var fallbackDirs = []string{"/usr/bin"}

func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	for _, dir := range fallbackDirs {
		p := filepath.Join(dir, name)
		if _, statErr := os.Stat(p); statErr == nil {
			return p, nil
		}
	}
	return "", err
}

// Available reports whether redis-server and redis-cli are installed.
func Available() bool {
	_, e1 := lookPath("redis-server")
	_, e2 := lookPath("redis-cli")
	return e1 == nil && e2 == nil
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago. Starting a
// server on it can still race with another process; Start retries in that case.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Option changes how a server is started.
type Option func(*options)

type options struct {
	user, password string
	tls            bool
	tlsAuthClients bool
	keepData       bool
	extra          [][2]string
}

// WithPassword protects the server: with a user name, the default user is
// disabled and an ACL user `user` with all permissions is created; with an empty
// user name, `requirepass` is set for the default user.
func WithPassword(user, password string) Option {
	return func(o *options) { o.user, o.password = user, password }
}

// WithTLS adds a TLS port (see [Server.TLSAddr]) using a CA and certificates
// generated for the test (see [Server.TLS]). The plain port stays open so the
// harness can use redis-cli without certificates. With requireClientCert, clients
// must present a certificate signed by the test CA.
func WithTLS(requireClientCert bool) Option {
	return func(o *options) { o.tls, o.tlsAuthClients = true, requireClientCert }
}

// WithKeepData makes [Server.Stop] save the data set (SAVE) so that
// [Server.Restart] comes back with it. Without it a restart starts empty.
func WithKeepData() Option {
	return func(o *options) { o.keepData = true }
}

// WithConfig adds a redis.conf directive, e.g. WithConfig("maxmemory", "10mb").
func WithConfig(name, value string) Option {
	return func(o *options) { o.extra = append(o.extra, [2]string{name, value}) }
}

// Server is one redis-server (or redis-sentinel) process.
type Server struct {
	t        testing.TB
	bin, cli string
	dir      string
	conf     string
	args     []string // extra command-line arguments (e.g. --sentinel)
	opts     options
	// Port is the plain TCP port; TLSPort is 0 unless WithTLS was given.
	Port, TLSPort int
	tls           *TLSFiles

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

// Start starts a standalone redis-server and waits until it answers PING. It is
// stopped when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, fn := range opts {
		fn(&o)
	}
	s := newServer(t, o, nil)
	s.startWithRetry(func() { s.Port = FreePort(t); s.writeConfig(nil) })
	return s
}

func newServer(t testing.TB, o options, args []string) *Server {
	t.Helper()
	bin, cli := binaries(t)
	s := &Server{t: t, bin: bin, cli: cli, dir: t.TempDir(), opts: o, args: args}
	s.conf = filepath.Join(s.dir, "redis.conf")
	if o.tls {
		s.tls = generateTLS(t, s.dir)
	}
	t.Cleanup(s.Stop)
	return s
}

// startWithRetry picks ports (via pick) and starts the server, retrying a few times
// when the ports were taken in the meantime.
func (s *Server) startWithRetry(pick func()) {
	s.t.Helper()
	var err error
	for range 3 {
		pick()
		if err = s.start(); err == nil {
			return
		}
		if !strings.Contains(err.Error(), "in use") {
			break
		}
	}
	s.t.Fatalf("redistest: %v", err)
}

// writeConfig writes redis.conf; more holds extra directives (cluster mode).
func (s *Server) writeConfig(more [][2]string) {
	s.t.Helper()
	lines := [][2]string{
		{"bind", "127.0.0.1"},
		{"port", strconv.Itoa(s.Port)},
		{"dir", s.dir},
		{"logfile", `""`},
		{"save", `""`},
		{"appendonly", "no"},
		{"protected-mode", "no"},
		// Lets tests stall the server with DEBUG SLEEP (slow-Redis fault tests).
		{"enable-debug-command", "local"},
	}
	switch {
	case s.opts.password != "" && s.opts.user != "":
		lines = append(lines,
			[2]string{"user", "default off"},
			[2]string{"user", fmt.Sprintf("%s on >%s ~* &* +@all", s.opts.user, s.opts.password)})
	case s.opts.password != "":
		lines = append(lines, [2]string{"requirepass", s.opts.password})
	}
	if s.tls != nil {
		if s.TLSPort == 0 {
			s.TLSPort = FreePort(s.t)
		}
		auth := "optional"
		if s.opts.tlsAuthClients {
			auth = "yes"
		}
		lines = append(lines,
			[2]string{"tls-port", strconv.Itoa(s.TLSPort)},
			[2]string{"tls-cert-file", s.tls.ServerCertFile},
			[2]string{"tls-key-file", s.tls.ServerKeyFile},
			[2]string{"tls-ca-cert-file", s.tls.CAFile},
			[2]string{"tls-auth-clients", auth})
	}
	lines = append(lines, more...)
	lines = append(lines, s.opts.extra...)
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s %s\n", l[0], l[1])
	}
	if err := os.WriteFile(s.conf, []byte(b.String()), 0o600); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
}

// start launches the process and waits for PING. It returns an error (with the
// tail of the server log) when the server exits or does not answer in time.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	off, _ := logf.Seek(0, 2)
	cmd := exec.Command(s.bin, append([]string{s.conf}, s.args...)...)
	cmd.Dir = s.dir
	// An *os.File needs no copying goroutine, and Pdeathsig kills the server if the
	// test binary dies without running its cleanups.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done, s.log = cmd, done, logf

	deadline := time.Now().Add(startTimeout)
	for {
		if pingRaw(s.Addr()) {
			return nil
		}
		select {
		case <-done:
			s.cmd, s.done = nil, nil
			logf.Close()
			return fmt.Errorf("redis-server on port %d exited during start-up: %s", s.Port, s.logSince(off))
		case <-time.After(pollEvery):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			s.cmd, s.done = nil, nil
			logf.Close()
			return fmt.Errorf("redis-server on port %d did not answer PING within %v: %s", s.Port, startTimeout, s.logSince(off))
		}
	}
}

func (s *Server) logSince(off int64) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if off < int64(len(b)) {
		b = b[off:]
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// pingRaw reports whether a Redis server answers PING on addr. Any reply counts
// (a password-protected server answers -NOAUTH): the server is up.
func pingRaw(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return false
	}
	// -LOADING means the server is still reading its data set.
	return line != "" && !strings.HasPrefix(line, "-LOADING")
}

// Addr is the plain host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// TLSAddr is the host:port of the TLS port (empty without WithTLS).
func (s *Server) TLSAddr() string {
	if s.TLSPort == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.TLSPort))
}

// TLS returns the generated certificate files (nil without WithTLS).
func (s *Server) TLS() *TLSFiles { return s.tls }

// Dir is the server's working directory (config, log, data).
func (s *Server) Dir() string { return s.dir }

// Running reports whether the process is running.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 10 s). With WithKeepData the
// data set is saved first. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.t.Helper()
	if s.opts.keepData && s.Running() {
		if out, err := s.TryCLI("SAVE"); err != nil || out != "OK" {
			s.t.Errorf("redistest: SAVE before stop: %q %v", out, err)
		}
	}
	s.signal(syscall.SIGTERM)
}

// Kill stops the server with SIGKILL, as a crash would: nothing is saved.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
	s.cmd, s.done, s.log = nil, nil, nil
	if !s.opts.keepData {
		_ = os.Remove(filepath.Join(s.dir, "dump.rdb"))
	}
}

// Restart stops the server if it runs and starts it again on the same port(s).
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	// The ports are ours a moment ago; another process could grab one in between,
	// so retry briefly instead of failing on the first "address in use".
	var err error
	for range 50 {
		if err = s.start(); err == nil || !strings.Contains(err.Error(), "in use") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// cliArgs are the connection arguments for redis-cli.
func (s *Server) cliArgs() []string {
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(s.Port)}
	if s.opts.password != "" {
		args = append(args, "--no-auth-warning")
		if s.opts.user != "" {
			args = append(args, "--user", s.opts.user)
		}
		args = append(args, "--pass", s.opts.password)
	}
	return args
}

// TryCLI runs redis-cli against the server (authenticated when the server has a
// password) and returns its trimmed output. An error means redis-cli failed or
// the reply was a Redis error.
func (s *Server) TryCLI(args ...string) (string, error) {
	return runCLI(s.cli, append(s.cliArgs(), args...))
}

// CLI is TryCLI that fails the test on error.
func (s *Server) CLI(t testing.TB, args ...string) string {
	t.Helper()
	out, err := s.TryCLI(args...)
	if err != nil {
		t.Fatalf("redistest: redis-cli %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func runCLI(cli string, args []string) (string, error) { return runCLIInput(cli, args, "") }

// runCLIInput runs redis-cli with stdin (commands, one per line) when input is
// not empty.
func runCLIInput(cli string, args []string, input string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if input != "" {
		cmd.Stdin = strings.NewReader(input)
	}
	err := cmd.Run()
	out := strings.TrimRight(stdout.String(), "\r\n")
	if err != nil {
		return out, fmt.Errorf("%w: %s%s", err, out, strings.TrimSpace(stderr.String()))
	}
	// redis-cli exits 0 on error replies when not on a terminal; detect them. Error
	// replies are upper-case words (ERR, WRONGTYPE, NOAUTH...) and a space.
	if isErrorReply(out) {
		return out, errors.New(out)
	}
	if e := strings.TrimSpace(stderr.String()); strings.Contains(e, "Could not connect") {
		return out, errors.New(e)
	}
	return out, nil
}

var errorPrefixes = []string{"ERR ", "WRONGTYPE ", "NOAUTH ", "WRONGPASS ", "NOPERM ", "MOVED ", "ASK ",
	"CROSSSLOT ", "CLUSTERDOWN ", "LOADING ", "READONLY ", "NOSCRIPT ", "BUSY ", "MISCONF ", "EXECABORT "}

func isErrorReply(out string) bool {
	for _, p := range errorPrefixes {
		if strings.HasPrefix(out, p) {
			return true
		}
	}
	return false
}

// CommandStats returns the number of calls per command since the server started
// or since ResetStats, parsed from INFO commandstats (e.g. "mget", "set",
// "client|tracking"). The INFO call that reads them is not counted yet; earlier
// ones are, under "info".
func (s *Server) CommandStats(t testing.TB) map[string]int {
	t.Helper()
	return parseCommandStats(t, s.CLI(t, "INFO", "commandstats"))
}

func parseCommandStats(t testing.TB, info string) map[string]int {
	t.Helper()
	stats := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, field := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, err := strconv.Atoi(v)
				if err != nil {
					t.Fatalf("redistest: bad commandstats line %q", line)
				}
				stats[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return stats
}

// ResetStats resets the server's statistics (CONFIG RESETSTAT), including
// CommandStats.
func (s *Server) ResetStats(t testing.TB) {
	t.Helper()
	s.CLI(t, "CONFIG", "RESETSTAT")
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// Pause makes the server hold every client command for d (CLIENT PAUSE ... ALL),
// as a stalled server would; it returns at once. Commands sent meanwhile are
// answered when the pause ends. (DEBUG SLEEP is enabled too, for local clients.)
func (s *Server) Pause(t testing.TB, d time.Duration) {
	t.Helper()
	s.CLI(t, "CLIENT", "PAUSE", strconv.FormatInt(d.Milliseconds(), 10), "ALL")
}
