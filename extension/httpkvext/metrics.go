package httpkvext // import "github.com/otelcol-custom/otelcol-custom/extension/httpkvext"

import (
	"context"
	"errors"
	"net"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

type outcome int

const (
	outcomeOK outcome = iota
	outcomeNotFound
	outcomeStatus
	outcomeTooLarge
	outcomeInvalid
	outcomeTimeout
	outcomeCanceled
	outcomeNetwork
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "not_found", "status", "too_large", "invalid_response", "timeout", "canceled", "network"}

// metricAttrs are the attribute sets of the configured mode, built once.
type metricAttrs struct {
	mode     metric.MeasurementOption
	outcomes [numOutcomes]metric.MeasurementOption
}

func newMetricAttrs(mode string) metricAttrs {
	m := metricAttrs{mode: metric.WithAttributeSet(attribute.NewSet(attribute.String("mode", mode)))}
	for o, name := range outcomeNames {
		m.outcomes[o] = metric.WithAttributeSet(attribute.NewSet(attribute.String("mode", mode), attribute.String("outcome", name)))
	}
	return m
}

// record accounts for one HTTP request.
func (e *httpKV) record(ctx context.Context, start time.Time, o outcome) {
	e.telemetry.HttpkvRequests.Add(ctx, 1, e.metrics.outcomes[o])
	e.telemetry.HttpkvRequestDuration.Record(ctx, time.Since(start).Seconds(), e.metrics.mode)
}

// outcomeOf classifies a failed request.
func outcomeOf(err error) outcome {
	var sc statusCodeError
	var tl tooLargeError
	var ne net.Error
	switch {
	case errors.As(err, &sc):
		return outcomeStatus
	case errors.As(err, &tl):
		return outcomeTooLarge
	case errors.Is(err, context.Canceled):
		return outcomeCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return outcomeTimeout
	}
	return outcomeNetwork
}
