// Command memkvload measures what a large memkv file costs: it writes a table of
// -rows entries (as a csv table, or as the same entries in a json object), loads it
// into a memkv store, and reports the load time, the process's RSS after the load,
// and its peak RSS during two reloads (one that changes 1% of the rows, one that
// changes every row), read from /proc/self/status (VmRSS, VmHWM; the peak is reset
// through /proc/self/clear_refs before each reload). Run each format in its own
// process, so that one does not inherit the other's heap:
//
//	go run ./extension/memkvext/internal/cmd/memkvload -rows 1000000 -format csv
//	go run ./extension/memkvext/internal/cmd/memkvload -rows 1000000 -format json
//
// It uses only memkv's exported API, so the same command measures an older
// version of memkv (copy this directory into that version's tree).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/otelcol-custom/otelcol-custom/extension/memkvext"
)

func main() {
	rows := flag.Int("rows", 1_000_000, "entries in the table")
	format := flag.String("format", memkvext.FormatCSV, "csv (a table: service,team,owner,tier) or json (the same entries)")
	dir := flag.String("dir", "", "directory for the file (default: a new temporary directory, removed at the end)")
	flag.Parse()
	if err := run(os.Stdout, *rows, *format, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "memkvload:", err)
		os.Exit(1)
	}
}

// result is one measurement.
type result struct {
	fileBytes     int64
	load          time.Duration
	rssAfterLoad  int64 // bytes
	heapAfterLoad uint64
	reloads       []reloadResult
}

type reloadResult struct {
	name    string
	took    time.Duration
	peak    int64 // VmHWM during the reload
	rssThen int64 // VmRSS after it
}

func run(out io.Writer, rows int, format, dir string) error {
	if format != memkvext.FormatCSV && format != memkvext.FormatJSON {
		return fmt.Errorf("-format must be csv or json, got %q", format)
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "memkvload")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	res, err := measure(rows, format, filepath.Join(dir, "table."+format))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "format=%s rows=%d file=%.1f MiB %s %s GOGC=%s\n", format, rows, mib(res.fileBytes),
		runtime.Version(), runtime.GOARCH, os.Getenv("GOGC"))
	fmt.Fprintf(out, "| load | RSS after load | Go heap in use after load |\n|---:|---:|---:|\n")
	fmt.Fprintf(out, "| %.2f s | %.0f MiB | %.0f MiB |\n", res.load.Seconds(), mib(res.rssAfterLoad), mib(int64(res.heapAfterLoad)))
	fmt.Fprintf(out, "| reload | took | peak RSS during it | peak / RSS after load | RSS after it |\n|---|---:|---:|---:|---:|\n")
	for _, r := range res.reloads {
		fmt.Fprintf(out, "| %s | %.2f s | %.0f MiB | %.2fx | %.0f MiB |\n", r.name, r.took.Seconds(), mib(r.peak),
			float64(r.peak)/float64(res.rssAfterLoad), mib(r.rssThen))
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func measure(rows int, format, path string) (*result, error) {
	size, err := writeTable(path, format, rows, 0, steps[0])
	if err != nil {
		return nil, err
	}
	for gen := 1; gen < len(steps); gen++ {
		if _, err := writeTable(fmt.Sprintf("%s.%d", path, gen), format, rows, gen, steps[gen]); err != nil {
			return nil, err
		}
	}
	debug.FreeOSMemory() // start from the runtime's own pages
	cfg := memkvext.NewDefaultConfig()
	cfg.MaxEntries = rows
	cfg.MaxBytes = 1 << 30
	cfg.File.Path = path
	cfg.File.Watch = true
	cfg.File.ReloadDelay = 20 * time.Millisecond
	if format == memkvext.FormatCSV {
		cfg.File.CSV.KeyColumns = []string{"service"}
		cfg.File.CSV.Types = map[string]string{"tier": memkvext.CSVTypeInt}
	}
	store, err := memkvext.NewStore(cfg, componenttest.NewNopTelemetrySettings())
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	start := time.Now()
	if err := store.Start(ctx, componenttest.NewNopHost()); err != nil {
		return nil, err
	}
	defer func() { _ = store.Shutdown(ctx) }()
	res := &result{fileBytes: size, load: time.Since(start)}
	if res.rssAfterLoad, err = procStatus("VmRSS"); err != nil {
		return nil, err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.heapAfterLoad = ms.HeapInuse
	if err := expect(store, rows, 0); err != nil {
		return nil, err
	}

	// Each reload rewrites the file (a rename over it, as deployment tools do) with
	// new values in every step-th row, and is done when a changed row reads back.
	for gen := 1; gen < len(steps); gen++ {
		name := map[int]string{100: "1% of the rows changed", 1: "every row changed"}[steps[gen]]
		tmp := fmt.Sprintf("%s.%d", path, gen)
		// The peak counts the pages the reload touches: what the runtime keeps
		// of freed memory (which a reload would reuse first) is returned first.
		debug.FreeOSMemory()
		if err := resetPeak(); err != nil {
			return nil, err
		}
		start := time.Now()
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
		if err := waitFor(store, rows, gen); err != nil {
			return nil, err
		}
		r := reloadResult{name: name, took: time.Since(start)}
		if r.peak, err = procStatus("VmHWM"); err != nil {
			return nil, err
		}
		if r.rssThen, err = procStatus("VmRSS"); err != nil {
			return nil, err
		}
		res.reloads = append(res.reloads, r)
	}
	return res, nil
}

// steps says which rows generation g of the file changes: every steps[g]-th row
// (0: none, the first load).
var steps = []int{0, 100, 1}

// fields returns the fields of row i of generation gen, in which every step-th
// row has changed (step 0: none).
func fields(i, gen, step int) (team, owner, tier int) {
	g := 0
	if step > 0 && i%step == 0 {
		g = gen
	}
	return (i + g) % 500, i + g, (i + g) % 4
}

// appendPadded appends n in decimal with at least width digits.
func appendPadded(b []byte, n, width int) []byte {
	start := len(b)
	b = strconv.AppendInt(b, int64(n), 10)
	for len(b)-start < width {
		b = append(b[:start+1], b[start:]...)
		b[start] = '0'
	}
	return b
}

// appendRow appends row i of generation gen as a csv row or a json member,
// without allocating (so that the generator leaves no garbage in the heap).
func appendRow(b []byte, format string, i, gen, step int) []byte {
	team, owner, tier := fields(i, gen, step)
	q := []byte(nil)
	if format == memkvext.FormatJSON {
		q = []byte{'"'}
		b = append(b, '"')
	}
	b = appendPadded(append(b, "svc-"...), i, 7)
	if format == memkvext.FormatJSON {
		b = append(b, `":{"team":"`...)
	} else {
		b = append(b, ',')
	}
	b = appendPadded(append(b, "team-"...), team, 3)
	if format == memkvext.FormatJSON {
		b = append(b, `","owner":"`...)
	} else {
		b = append(b, ',')
	}
	b = append(appendPadded(append(b, "owner-"...), owner, 7), "@example.com"...)
	b = append(b, q...)
	if format == memkvext.FormatJSON {
		b = append(b, `,"tier":`...)
	} else {
		b = append(b, ',')
	}
	b = strconv.AppendInt(b, int64(tier), 10)
	if format == memkvext.FormatJSON {
		b = append(b, '}')
	}
	return b
}

// writeTable writes the table of generation gen and returns its size.
func writeTable(path, format string, rows, gen, step int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if format == memkvext.FormatCSV {
		fmt.Fprintln(w, "service,team,owner,tier")
	} else {
		fmt.Fprintln(w, "{")
	}
	var b []byte
	for i := range rows {
		b = appendRow(b[:0], format, i, gen, step)
		if format == memkvext.FormatJSON && i < rows-1 {
			b = append(b, ',')
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return 0, err
		}
	}
	if format == memkvext.FormatJSON {
		fmt.Fprintln(w, "}")
	}
	err = errors.Join(w.Flush(), f.Close())
	if err != nil {
		return 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// expect checks that row 0 (changed in every generation) and the last row read
// back as generation gen wrote them.
func expect(store *memkvext.Store, rows, gen int) error {
	for _, i := range []int{0, rows - 1} {
		team, owner, tier := fields(i, gen, steps[gen])
		want := fmt.Sprintf(`"team":"team-%03d","owner":"owner-%07d@example.com","tier":%d`, team, owner, tier)
		res, err := store.Get(context.Background(), []string{fmt.Sprintf("svc-%07d", i)})
		if err != nil {
			return err
		}
		if !res[0].Found || !strings.Contains(string(res[0].Value), want) {
			return fmt.Errorf("row %d: got %q (found %v), want an object with %s", i, res[0].Value, res[0].Found, want)
		}
	}
	return nil
}

func waitFor(store *memkvext.Store, rows, gen int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := expect(store, rows, gen)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// procStatus returns a memory figure of /proc/self/status in bytes.
func procStatus(field string) (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

// resetPeak sets VmHWM to the current RSS (proc(5), clear_refs: 5).
func resetPeak() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}
