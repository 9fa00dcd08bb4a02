package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRedactor(t *testing.T) {
	r := redactor{"s3cret", "", "other"}
	assert.Equal(t, "a [REDACTED] b [REDACTED][REDACTED]", r.apply("a s3cret b others3cret"))
}

func TestTail(t *testing.T) {
	assert.Equal(t, "short", tail("short", 10))
	got := tail("line1\nline2\nline3\n", 9)
	assert.True(t, strings.HasSuffix(got, "line3\n"), got)
	assert.NotContains(t, got, "line1")
	assert.Contains(t, got, "cut")
}

func TestPorts(t *testing.T) {
	p := newPorts(t)
	a, b := p.Get("a"), p.Get("b")
	assert.Equal(t, a, p.Get("a"), "same name, same port")
	assert.NotEqual(t, a, b)
	assert.True(t, p.has("a"))
	assert.False(t, p.has("c"))
	assert.True(t, strings.HasPrefix(p.Endpoint("a"), "127.0.0.1:"))
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	WriteFile(t, path, []byte("one"))
	WriteFile(t, path, []byte("two"))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "two", string(got))
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")
}

func traceJSON(t *testing.T, spans int) string {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for range spans {
		ss.Spans().AppendEmpty().SetName("s")
	}
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return string(b)
}

func TestCountSpans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.json")
	assert.Equal(t, 0, CountSpans(t, path), "missing file: nothing received yet")

	complete := traceJSON(t, 2) + "\n" + traceJSON(t, 3) + "\n"
	partial := traceJSON(t, 5)
	require.NoError(t, os.WriteFile(path, []byte(complete+partial[:len(partial)/2]), 0o600))
	assert.Equal(t, 5, CountSpans(t, path), "a half-written last line is not counted")

	require.NoError(t, os.WriteFile(path, []byte(complete+partial+"\n"), 0o600))
	assert.Equal(t, 10, CountSpans(t, path))
}

func TestReadLogs(t *testing.T) {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	lrs.AppendEmpty().Body().SetStr("a")
	lrs.AppendEmpty().Body().SetStr("b")
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "logs.json")
	assert.Empty(t, ReadLogs(t, path), "missing file: nothing received yet")
	require.NoError(t, os.WriteFile(path, append(append(b, '\n'), b[:len(b)/2]...), 0o600))
	got := ReadLogs(t, path)
	require.Len(t, got, 1, "a half-written last line is left for the next read")
	assert.Equal(t, 2, got[0].LogRecordCount())
	assert.Equal(t, "b", got[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(1).Body().Str())
}

func TestParseComponents(t *testing.T) {
	out := []byte(`buildinfo:
    command: otelcol-custom
receivers:
    - name: otlp
      module: go.opentelemetry.io/collector/receiver/otlpreceiver v0.165.0
processors:
    - name: kvcache
      module: github.com/otelcol-custom/otelcol-custom v0.0.0
extensions:
    - name: memkv
      module: github.com/otelcol-custom/otelcol-custom v0.0.0
providers:
    - scheme: env
      module: go.opentelemetry.io/collector/confmap/provider/envprovider v1.71.0
`)
	c, err := ParseComponents(out)
	require.NoError(t, err)
	assert.Equal(t, []string{"otlp", "kvcache", "memkv"}, c.Types())
	assert.Equal(t, "env", c.Providers[0].Scheme)
	_, err = ParseComponents([]byte("receivers: [unclosed"))
	assert.Error(t, err)
}
