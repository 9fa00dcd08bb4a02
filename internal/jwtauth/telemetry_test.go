package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-custom/otelcol-custom/internal/statustest"
)

// FetchStatus reports once per change of state, and OK only when every key
// set has recovered.
func TestFetchStatus(t *testing.T) {
	host := statustest.NewHost()
	s := NewFetchStatus(host, func(name string, err error) error { return fmt.Errorf("keys of %s: %w", name, err) })
	down := errors.New("down")
	s.Report("a", nil)
	s.Report("a", down)
	s.Report("a", down)
	s.Report("b", down)
	s.Report("a", nil)
	s.Report("a", nil)
	s.Report("b", nil)
	s.Report("b", nil)
	assert.Equal(t, []componentstatus.Status{
		componentstatus.StatusRecoverableError, componentstatus.StatusRecoverableError, componentstatus.StatusOK,
	}, host.Statuses())
	ev := host.Events()
	require.Len(t, ev, 3)
	assert.EqualError(t, ev[0].Err(), "keys of a: down")
	assert.EqualError(t, ev[1].Err(), "keys of b: down")
}

// OnFetch and CountRefusals record with the given attributes, invalidate on
// a withdrawn key and pass the outcome on.
func TestFetchAndRefusalMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	keys, err := meter.Int64Gauge("keys")
	require.NoError(t, err)
	fetches, err := meter.Int64Counter("fetches")
	require.NoError(t, err)
	refused, err := meter.Int64Counter("refused")
	require.NoError(t, err)

	var invalidated int
	var outcomes []error
	iss := attribute.String("issuer", "https://idp")
	onFetch := OnFetch(FetchMetrics{Keys: keys, Fetches: fetches, Attrs: []attribute.KeyValue{iss}},
		func() { invalidated++ }, func(err error) { outcomes = append(outcomes, err) })
	down := errors.New("down")
	onFetch(nil, 2, false)
	onFetch(down, 2, false)
	onFetch(nil, 1, true)
	onRefuse := CountRefusals(refused, "own_reason")
	onRefuse(context.Background(), ReasonExpired)
	onRefuse(context.Background(), ReasonExpired)
	onRefuse(context.Background(), ReasonAudience)
	onRefuse(context.Background(), "own_reason")
	onRefuse(context.Background(), "unlisted_reason") // counted, not a panic

	assert.Equal(t, 1, invalidated)
	assert.Equal(t, []error{nil, down, nil}, outcomes)
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := map[string]int64{}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, p := range d.DataPoints {
				got[m.Name+" "+p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
			}
		case metricdata.Gauge[int64]:
			for _, p := range d.DataPoints {
				got[m.Name+" "+p.Attributes.Encoded(attribute.DefaultEncoder())] = p.Value
			}
		}
	}
	assert.Equal(t, map[string]int64{
		"keys issuer=https://idp":                    1,
		"fetches issuer=https://idp,outcome=success": 2,
		"fetches issuer=https://idp,outcome=failure": 1,
		"refused reason=expired":                     2,
		"refused reason=" + ReasonAudience:           1,
		"refused reason=own_reason":                  1,
		"refused reason=unlisted_reason":             1,
	}, got)
}
