package harness

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ReadTraces parses the output of a file exporter in its default JSON format:
// one OTLP JSON request per line. A missing file is no traces yet, and a last
// line without its newline (still being written) is left for the next read.
func ReadTraces(tb testing.TB, path string) []ptrace.Traces {
	tb.Helper()
	var u ptrace.JSONUnmarshaler
	return readLines(tb, path, "traces", u.UnmarshalTraces)
}

// ReadLogs is ReadTraces for a file exporter's logs.
func ReadLogs(tb testing.TB, path string) []plog.Logs {
	tb.Helper()
	var u plog.JSONUnmarshaler
	return readLines(tb, path, "logs", u.UnmarshalLogs)
}

// readLines parses every complete line of a file exporter's JSON output with parse.
func readLines[T any](tb testing.TB, path, what string, parse func([]byte) (T, error)) []T {
	tb.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	var out []T
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		v, err := parse(line)
		if err != nil {
			tb.Fatalf("%s: a line is not OTLP JSON %s: %v", path, what, err)
		}
		out = append(out, v)
	}
	return out
}

// CountSpans returns the number of spans in a file exporter's JSON output.
func CountSpans(tb testing.TB, path string) int {
	tb.Helper()
	n := 0
	for _, td := range ReadTraces(tb, path) {
		n += td.SpanCount()
	}
	return n
}
