// Command benche2e measures the whole collector: it starts the built distribution (and a stock
// peer distribution) on one config per row, drives each with otlpload from this process, and
// reports spans/s accepted and the collector's CPU-s per 100k spans, medians of interleaved runs
// (rows a b c d a b c d ...). `make bench-e2e` builds everything and runs it with the collector
// pinned to one CPU and this process (the load) to the other.
//
// Spans/s is what the generator saw accepted (OK export responses), cross-checked with the
// collector's own otelcol_receiver_accepted_spans over the same window. CPU is utime+stime of
// the collector process from /proc/<pid>/stat over that window.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/otelcol-custom/otelcol-custom/bench/otlpload"
)

type options struct {
	collector, peer  string
	rows             []row
	rounds           int
	warmup, duration time.Duration
	collectorCPU     string
	connections      int
	streams          int
	perfDir          string
	keepDir          bool
	validateOnly     bool
	// pair: run these two rows at the same time, one per CPU of pairCPUs, swapping CPUs
	// every other window (-pair).
	pair     []row
	pairCPUs [2]string
}

// result is one measured window of one row.
type result struct {
	row             string
	spansPerSec     float64 // accepted, as the generator counted
	metricPerSec    float64 // otelcol_receiver_accepted_spans over the window
	cpuPer100k      float64 // collector CPU-s per 100,000 accepted spans
	cores           float64 // collector CPU-s per second
	loadCores       float64 // this process's (the generator's) CPU-s per second
	failures        int64
	lastError       string
	lookupsPerSpan  float64 // kvcache lookups per accepted span (kvcache row only)
	hitRatio        float64 // of those lookups, the share of hits
	acceptedInRange bool
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benche2e:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if opts.validateOnly {
		return validateRows(opts, stderr)
	}
	if opts.pair != nil {
		return runPair(opts, stdout, stderr)
	}
	fmt.Fprintf(stderr, "benche2e: rows %s, %d rounds, warm-up %v, window %v, %d connections x %d streams, collector CPU %q\n",
		rowNames(opts.rows), opts.rounds, opts.warmup, opts.duration, opts.connections, opts.streams, opts.collectorCPU)
	fmt.Fprintf(stderr, "benche2e: load average at start: %s\n", loadAverage())
	var all []result
	var failed []string
	for round := 1; round <= opts.rounds; round++ {
		for _, r := range opts.rows {
			res, err := measure(opts, r, round)
			if err != nil {
				return fmt.Errorf("round %d, row %s: %w", round, r.name, err)
			}
			fmt.Fprintf(stderr, "round %d %-20s %9.0f spans/s accepted (receiver metric %9.0f), %.3f CPU-s/100k spans, %.2f cores (generator %.2f), %d failed exports\n",
				round, r.name, res.spansPerSec, res.metricPerSec, res.cpuPer100k, res.cores, res.loadCores, res.failures)
			if res.failures > 0 || res.spansPerSec == 0 || !res.acceptedInRange {
				failed = append(failed, fmt.Sprintf("round %d, row %s: %d failed exports (last: %q), %.0f spans/s accepted, "+
					"receiver metric %.0f spans/s (the two must agree within the exports in flight)",
					round, r.name, res.failures, res.lastError, res.spansPerSec, res.metricPerSec))
			}
			all = append(all, res)
		}
	}
	fmt.Fprintf(stderr, "benche2e: load average at end: %s\n", loadAverage())
	writeTable(stdout, opts, all)
	if len(failed) > 0 {
		return fmt.Errorf("%d runs are not valid measurements:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("benche2e", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.collector, "collector", "dist/otelcol-custom", "our distribution's binary")
	fs.StringVar(&o.peer, "peer", "bench/_e2e/peerdist/otelcol-peer", "the peer distribution's binary (rows contrib* and floor)")
	rowList := fs.String("rows", defaultRows, "comma-separated rows, in the order run in each round; known: "+rowNames(rows))
	fs.IntVar(&o.rounds, "rounds", 5, "interleaved rounds (each runs every row once)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "load before the measured window")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured window")
	fs.StringVar(&o.collectorCPU, "collector-cpu", "", "CPU list for the collector (taskset -c); empty: not pinned")
	fs.IntVar(&o.connections, "connections", 4, "gRPC connections")
	fs.IntVar(&o.streams, "streams", 2, "exports in flight per connection")
	fs.StringVar(&o.perfDir, "perf", "", "directory: record `perf record -g` of the collector over each window there")
	fs.BoolVar(&o.keepDir, "keep", false, "keep each run's directory (config, collector log)")
	fs.BoolVar(&o.validateOnly, "validate-only", false, "only check every row's config with `<binary> validate`, run nothing")
	pair := fs.String("pair", "", "`a,b`: run rows a and b at the same time, one collector per CPU of -pair-cpus, "+
		"swapping CPUs every other window; reports a's speed relative to b's (-rows and -collector-cpu are ignored)")
	pairCPUs := fs.String("pair-cpus", "0,1", "the two CPUs of -pair")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, name := range strings.Split(*rowList, ",") {
		r, ok := findRow(strings.TrimSpace(name))
		if !ok {
			return o, fmt.Errorf("-rows: unknown row %q (known: %s)", name, rowNames(rows))
		}
		o.rows = append(o.rows, r)
	}
	if *pair != "" {
		names := strings.Split(*pair, ",")
		cpus := strings.Split(*pairCPUs, ",")
		if len(names) != 2 || len(cpus) != 2 {
			return o, errors.New("-pair wants two rows (a,b) and -pair-cpus two CPUs")
		}
		for _, name := range names {
			r, ok := findRow(strings.TrimSpace(name))
			if !ok {
				return o, fmt.Errorf("-pair: unknown row %q (known: %s)", name, rowNames(rows))
			}
			o.pair = append(o.pair, r)
		}
		o.pairCPUs = [2]string{strings.TrimSpace(cpus[0]), strings.TrimSpace(cpus[1])}
		o.rows = o.pair
	}
	if o.rounds < 1 || o.duration <= 0 || o.warmup < 0 {
		return o, errors.New("-rounds must be >= 1, -duration > 0, -warmup >= 0")
	}
	for _, r := range o.rows {
		bin := binaryOf(o, r)
		if _, err := os.Stat(bin); err != nil {
			return o, fmt.Errorf("row %s needs %s: %w", r.name, bin, err)
		}
	}
	return o, nil
}

func rowNames(rs []row) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.name
	}
	return strings.Join(names, ",")
}

// validateRows renders every selected row's config and has its binary validate it.
func validateRows(opts options, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "benche2e-validate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, r := range opts.rows {
		p, err := freePorts()
		if err != nil {
			return err
		}
		cfg, err := r.config(p, dir)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, r.name+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return err
		}
		out, err := exec.Command(binaryOf(opts, r), "validate", "--config", path).CombinedOutput()
		if err != nil {
			return fmt.Errorf("row %s: config invalid: %w\n%s", r.name, err, out)
		}
		fmt.Fprintf(stderr, "benche2e: row %s: config valid\n", r.name)
	}
	return nil
}

func binaryOf(opts options, r row) string {
	if r.peer {
		return opts.peer
	}
	return opts.collector
}

// collector is one running collector process.
type collector struct {
	cmd   *exec.Cmd
	ports ports
	log   string
	done  chan struct{}
	err   error
}

// maxStartAttempts bounds retries when a chosen port was taken before the collector bound it.
const maxStartAttempts = 3

func startCollector(opts options, r row, dir, cpu string) (*collector, error) {
	bin := binaryOf(opts, r)
	for attempt := 1; ; attempt++ {
		p, err := freePorts()
		if err != nil {
			return nil, err
		}
		cfg, err := r.config(p, dir)
		if err != nil {
			return nil, err
		}
		cfgPath := filepath.Join(dir, fmt.Sprintf("config-%d.yaml", attempt))
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		c := &collector{ports: p, log: filepath.Join(dir, fmt.Sprintf("collector-%d.log", attempt)), done: make(chan struct{})}
		argv := []string{bin, "--config", cfgPath}
		if cpu != "" {
			// taskset execs the collector: the process we wait for is the collector itself.
			argv = append([]string{"taskset", "-c", cpu}, argv...)
		}
		logFile, err := os.Create(c.log)
		if err != nil {
			return nil, err
		}
		c.cmd = exec.Command(argv[0], argv[1:]...)
		c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
		err = c.cmd.Start()
		logFile.Close()
		if err != nil {
			return nil, err
		}
		go func() { c.err = c.cmd.Wait(); close(c.done) }()
		if err = c.waitHealthy(60 * time.Second); err == nil {
			return c, nil
		}
		c.kill()
		logText, _ := os.ReadFile(c.log)
		if attempt < maxStartAttempts && strings.Contains(string(logText), "address already in use") {
			continue
		}
		return nil, fmt.Errorf("collector did not become healthy: %w\n--- log (%s) ---\n%s", err, c.log, tail(string(logText), 8<<10))
	}
}

func (c *collector) waitHealthy(timeout time.Duration) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/", c.ports.health)
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-c.done:
			return fmt.Errorf("exited: %v", c.err)
		default:
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("health_check not OK after %v", timeout)
}

func (c *collector) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

// stop sends SIGTERM and waits; an exit other than a clean one is an error.
func (c *collector) stop() error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.err
	case <-time.After(30 * time.Second):
		c.kill()
		return errors.New("collector did not exit within 30s of SIGTERM (killed)")
	}
}

// freePorts asks the kernel for three free loopback ports.
func freePorts() (ports, error) {
	var got [3]int
	var lis []net.Listener
	defer func() {
		for _, l := range lis {
			l.Close()
		}
	}()
	for i := range got {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ports{}, err
		}
		lis = append(lis, l)
		got[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports{otlp: got[0], health: got[1], metrics: got[2]}, nil
}

// snapshot is what is read at one edge of the measured window.
type snapshot struct {
	at       time.Time
	load     otlpload.Counts
	cpu      float64
	loadCPU  float64
	accepted float64
	lookups  float64
	hits     float64
}

func take(c *collector, g *otlpload.Generator) (snapshot, error) {
	s := snapshot{at: time.Now(), load: g.Counts()}
	var err error
	if s.cpu, err = cpuSeconds(c.cmd.Process.Pid); err != nil {
		return s, err
	}
	if s.loadCPU, err = cpuSeconds(os.Getpid()); err != nil {
		return s, err
	}
	text, err := scrape(c.ports.metrics)
	if err != nil {
		return s, err
	}
	s.accepted = sumMetric(text, "otelcol_receiver_accepted_spans")
	s.lookups = sumMetric(text, "otelcol_processor_kvcache_lookups")
	s.hits = sumMetric(text, "otelcol_processor_kvcache_lookups", `result="hit"`)
	return s, nil
}

// session is one row's collector under load from this process.
type session struct {
	r   row
	dir string
	c   *collector
	g   *otlpload.Generator
	s0  snapshot
}

// begin starts r's collector, pinned to cpu (taskset -c; empty: not pinned), and its load.
func begin(opts options, r row, cpu string) (s *session, err error) {
	s = &session{r: r}
	if s.dir, err = os.MkdirTemp("", "benche2e-"+strings.NewReplacer("+", "-").Replace(r.name)+"-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = s.end(opts)
		}
	}()
	if s.c, err = startCollector(opts, r, s.dir, cpu); err != nil {
		return s, err
	}
	cfg := otlpload.Config{
		Endpoint:             fmt.Sprintf("127.0.0.1:%d", s.c.ports.otlp),
		Connections:          opts.connections,
		StreamsPerConnection: opts.streams,
		Spans:                loadSpans,
		Keys:                 userKeys,
	}
	if r.auth {
		cfg.Headers = map[string]string{"authorization": "Bearer " + benchToken}
	}
	s.g, err = otlpload.Start(cfg)
	return s, err
}

// loadSpans is the number of spans per export request.
const loadSpans = 1000

// mark opens the measured window.
func (s *session) mark() (err error) {
	s.s0, err = take(s.c, s.g)
	return err
}

// result closes the window and computes its figures.
func (s *session) result(opts options) (result, error) {
	s1, err := take(s.c, s.g)
	if err != nil {
		return result{}, err
	}
	s0 := s.s0
	secs := s1.at.Sub(s0.at).Seconds()
	d := s1.load.Sub(s0.load)
	res := result{
		row:          s.r.name,
		spansPerSec:  float64(d.AcceptedSpans) / secs,
		metricPerSec: (s1.accepted - s0.accepted) / secs,
		cores:        (s1.cpu - s0.cpu) / secs,
		loadCores:    (s1.loadCPU - s0.loadCPU) / secs,
		failures:     s1.load.Failures, // warm-up included: a refusal at any time invalidates the run
		lastError:    s1.load.LastError,
	}
	if d.AcceptedSpans > 0 {
		res.cpuPer100k = (s1.cpu - s0.cpu) / float64(d.AcceptedSpans) * 1e5
		res.lookupsPerSpan = (s1.lookups - s0.lookups) / float64(d.AcceptedSpans)
	}
	if l := s1.lookups - s0.lookups; l > 0 {
		res.hitRatio = (s1.hits - s0.hits) / l
	}
	// The two counts are read at slightly different instants (the metric is recorded when the
	// pipeline returns, the generator counts when the response arrives): at each edge of the
	// window the exports in flight may be on one side only.
	inFlight := float64(2 * opts.connections * opts.streams * loadSpans)
	metricSpans := s1.accepted - s0.accepted
	res.acceptedInRange = metricSpans > 0 && math.Abs(metricSpans-float64(d.AcceptedSpans)) <= inFlight+0.01*float64(d.AcceptedSpans)
	return res, nil
}

// end stops the load and the collector and removes the run's directory (unless -keep).
func (s *session) end(opts options) (err error) {
	if s.g != nil {
		s.g.Stop()
	}
	if s.c != nil {
		if stopErr := s.c.stop(); stopErr != nil {
			err = fmt.Errorf("stopping the collector: %w (log: %s)", stopErr, s.c.log)
		}
	}
	if !opts.keepDir {
		os.RemoveAll(s.dir)
	}
	return err
}

// measure runs one row alone: start, warm up, one window (under perf record with -perf).
func measure(opts options, r row, round int) (res result, err error) {
	s, err := begin(opts, r, opts.collectorCPU)
	if err != nil {
		return res, err
	}
	defer func() {
		if endErr := s.end(opts); endErr != nil && err == nil {
			err = endErr
		}
	}()
	time.Sleep(opts.warmup)
	if err := s.mark(); err != nil {
		return res, err
	}
	if opts.perfDir != "" {
		out := filepath.Join(opts.perfDir, fmt.Sprintf("%s-%d.perf.data", r.name, round))
		perf := exec.Command("perf", "record", "-q", "-g", "-F", "499", "-p", strconv.Itoa(s.c.cmd.Process.Pid), "-o", out,
			"--", "sleep", strconv.FormatFloat(opts.duration.Seconds(), 'f', 3, 64))
		perf.Stderr = os.Stderr
		if err := perf.Run(); err != nil {
			return res, fmt.Errorf("perf record: %w", err)
		}
	} else {
		time.Sleep(opts.duration)
	}
	return s.result(opts)
}

// measurePair runs two rows at the same time, a's collector pinned to cpuA and b's to cpuB,
// over the same window: a slow moment of the machine falls on both.
func measurePair(opts options, a, b row, cpuA, cpuB string) (ra, rb result, err error) {
	var ss []*session
	defer func() {
		for _, s := range ss {
			if endErr := s.end(opts); endErr != nil && err == nil {
				err = endErr
			}
		}
	}()
	for _, x := range []struct {
		r   row
		cpu string
	}{{a, cpuA}, {b, cpuB}} {
		s, beginErr := begin(opts, x.r, x.cpu)
		if beginErr != nil {
			return ra, rb, beginErr
		}
		ss = append(ss, s)
	}
	time.Sleep(opts.warmup)
	for _, s := range ss {
		if err := s.mark(); err != nil {
			return ra, rb, err
		}
	}
	time.Sleep(opts.duration)
	if ra, err = ss[0].result(opts); err != nil {
		return ra, rb, err
	}
	rb, err = ss[1].result(opts)
	return ra, rb, err
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// writeTable prints one markdown row per configuration (medians over the rounds) and, when the
// contrib row ran, each row's throughput as a ratio to it: the median of per-round ratios, so
// that a slow moment of the shared machine weighs on both sides of a ratio.
func writeTable(w io.Writer, opts options, all []result) {
	by := map[string][]result{}
	for _, r := range all {
		by[r.row] = append(by[r.row], r)
	}
	peer, hasPeer := by["contrib"]
	fmt.Fprintf(w, "\n| row | config | spans/s accepted | receiver metric spans/s | CPU-s per 100k spans | collector cores | generator cores | spans per CPU-s | x contrib (spans/s) | x contrib (spans per CPU-s) |\n")
	fmt.Fprintf(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range opts.rows {
		rs := by[r.name]
		pick := func(f func(result) float64) float64 {
			xs := make([]float64, len(rs))
			for i, x := range rs {
				xs[i] = f(x)
			}
			return median(xs)
		}
		ratio, cpuRatio := "", ""
		if hasPeer && len(peer) == len(rs) {
			xs := make([]float64, len(rs))
			cs := make([]float64, len(rs))
			for i := range rs {
				xs[i] = rs[i].spansPerSec / peer[i].spansPerSec
				cs[i] = peer[i].cpuPer100k / rs[i].cpuPer100k
			}
			ratio, cpuRatio = fmt.Sprintf("%.2fx", median(xs)), fmt.Sprintf("%.2fx", median(cs))
		}
		desc := r.desc
		if r.name == "bearerauth+kvcache" {
			desc += fmt.Sprintf(" (%.2f lookups/span, %.0f%% hits)", pick(func(x result) float64 { return x.lookupsPerSpan }),
				100*pick(func(x result) float64 { return x.hitRatio }))
		}
		cpu := pick(func(x result) float64 { return x.cpuPer100k })
		perCPU := ""
		if cpu > 0 {
			perCPU = thousands(1e5 / cpu)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.3f | %.2f | %.2f | %s | %s | %s |\n", r.name, desc,
			thousands(pick(func(x result) float64 { return x.spansPerSec })),
			thousands(pick(func(x result) float64 { return x.metricPerSec })),
			cpu, pick(func(x result) float64 { return x.cores }), pick(func(x result) float64 { return x.loadCores }), perCPU, ratio, cpuRatio)
	}
	fmt.Fprintf(w, "\nspans per CPU-s = 100k / (CPU-s per 100k spans): the rate on a core of its own when the collector is CPU-bound; "+
		"x contrib: median of per-round ratios\n")
	fmt.Fprintf(w, "\nmedians of %d interleaved rounds, %v window after %v warm-up, %d connections x %d streams, 1,000-span requests\n",
		opts.rounds, opts.duration, opts.warmup, opts.connections, opts.streams)
}

// thousands formats n rounded to an integer with comma separators.
func thousands(n float64) string {
	s := strconv.FormatInt(int64(n+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
