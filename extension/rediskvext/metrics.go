package rediskvext // import "github.com/otelcol-custom/otelcol-custom/extension/rediskvext"

import (
	"context"
	"errors"
	"time"

	"github.com/redis/rueidis"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

type operation int

const (
	opGet operation = iota
	opSet
	opDelete
	numOps
)

var opNames = [numOps]string{"get", "set", "delete"}

var reasons = []string{"timeout", "canceled", "not_connected", "redis", "network"}

// metricAttrs are the attribute sets, built once.
type metricAttrs struct {
	op                 [numOps]metric.MeasurementOption
	errs               [numOps]map[string]metric.MeasurementOption
	scopeKey, scopeAll metric.MeasurementOption
}

func newMetricAttrs() metricAttrs {
	var m metricAttrs
	for op, name := range opNames {
		m.op[op] = metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", name)))
		m.errs[op] = map[string]metric.MeasurementOption{}
		for _, r := range reasons {
			m.errs[op][r] = metric.WithAttributeSet(attribute.NewSet(
				attribute.String("operation", name), attribute.String("reason", r)))
		}
	}
	m.scopeKey = metric.WithAttributeSet(attribute.NewSet(attribute.String("scope", "key")))
	m.scopeAll = metric.WithAttributeSet(attribute.NewSet(attribute.String("scope", "all")))
	return m
}

// record accounts for one round trip and updates the component status.
func (e *redisKV) record(ctx context.Context, op operation, keys int, start time.Time, err error) {
	t := e.telemetry
	attrs := e.metrics.op[op]
	t.RediskvRoundTrips.Add(ctx, 1, attrs)
	t.RediskvKeysPerRoundTrip.Record(ctx, int64(keys), attrs)
	t.RediskvRoundTripDuration.Record(ctx, time.Since(start).Seconds(), attrs)
	if err == nil {
		e.health.OK()
		return
	}
	reason := errorReason(err)
	t.RediskvErrors.Add(ctx, 1, e.metrics.errs[op][reason])
	e.health.Failed(err) // ignores the caller's cancellation
}

// recordNotStarted accounts for a call that could not be sent at all.
func (e *redisKV) recordNotStarted(ctx context.Context, op operation, err error) {
	if errors.Is(err, errStoreClosed) || errors.Is(err, errShutdown) {
		return
	}
	e.telemetry.RediskvErrors.Add(ctx, 1, e.metrics.errs[op]["not_connected"])
}

func errorReason(err error) string {
	var nc *notConnectedError
	var re *rueidis.RedisError
	switch {
	case errors.As(err, &nc):
		return "not_connected"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &re):
		return "redis"
	default:
		return "network"
	}
}
