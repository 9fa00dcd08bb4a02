package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseStatCPU(t *testing.T) {
	// a command name with a space and a ')' must not shift the fields
	stat := "4242 (otel col) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 12 0 1000 0 0"
	got, err := parseStatCPU(stat)
	require.NoError(t, err)
	assert.InDelta(t, 3.25, got, 1e-9)

	_, err = parseStatCPU("4242 (short) S 1 2")
	assert.ErrorContains(t, err, "fields")
	_, err = parseStatCPU("no name")
	assert.Error(t, err)
}

func TestCPUSecondsOfThisProcess(t *testing.T) {
	got, err := cpuSeconds(os.Getpid())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, got, 0.0)
}

func TestSumMetric(t *testing.T) {
	text := `# HELP otelcol_receiver_accepted_spans_total Number of spans successfully pushed into the pipeline.
# TYPE otelcol_receiver_accepted_spans_total counter
otelcol_receiver_accepted_spans_total{receiver="otlp",service_name="x y",transport="grpc"} 1.5e+06
otelcol_receiver_accepted_spans_total{receiver="otlp/2",transport="http"} 500 1700000000000
otelcol_receiver_refused_spans_total{receiver="otlp",transport="grpc"} 7
otelcol_processor_kvcache_lookups_total{result="hit"} 990
otelcol_processor_kvcache_lookups_total{result="miss"} 10
plain_metric 3
`
	assert.InDelta(t, 1.5e6+500, sumMetric(text, "otelcol_receiver_accepted_spans"), 1e-9)
	assert.InDelta(t, 1000, sumMetric(text, "otelcol_processor_kvcache_lookups"), 1e-9)
	assert.InDelta(t, 990, sumMetric(text, "otelcol_processor_kvcache_lookups", `result="hit"`), 1e-9)
	assert.InDelta(t, 3, sumMetric(text, "plain_metric"), 1e-9)
	assert.Zero(t, sumMetric(text, "otelcol_receiver_accepted_log_records"))
}

func TestMedianAndThousands(t *testing.T) {
	assert.InDelta(t, 2, median([]float64{3, 1, 2}), 1e-9)
	assert.InDelta(t, 2.5, median([]float64{4, 1, 2, 3}), 1e-9)
	assert.Equal(t, "640,123", thousands(640123.4))
	assert.Equal(t, "999", thousands(999))
	assert.Equal(t, "1,000,000", thousands(999999.6))
}
