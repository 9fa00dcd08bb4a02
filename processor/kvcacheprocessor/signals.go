package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var noTraceID pcommon.TraceID

// Each signal is walked once: every record's keys are looked up as the walk reaches
// it (hits are applied at once); the misses of the whole batch are fetched together
// at the end.

func (p *kvProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	if !p.started.Load() {
		return td, nil
	}
	b := p.begin()
	defer p.release(b)
	b.rec.ctx = ctx
	doScope := p.rule.active[levelScope]
	doSpan := p.rule.active[levelSpan]
	doEvent := p.rule.active[levelSpanEvent]
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		b.rec.rs, b.rec.resource, b.rec.resourceSchema = rs, rs.Resource(), rs
		p.record(b, levelResource, rs.Resource().Attributes(), noTraceID)
		if !doScope && !doSpan && !doEvent {
			continue
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			b.rec.ss, b.rec.scope, b.rec.scopeSchema = ss, ss.Scope(), ss
			if doScope {
				p.record(b, levelScope, ss.Scope().Attributes(), noTraceID)
			}
			if !doSpan && !doEvent {
				continue
			}
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				tid := span.TraceID()
				b.rec.span = span
				if doSpan {
					p.record(b, levelSpan, span.Attributes(), tid)
				}
				if doEvent {
					events := span.Events()
					for e := 0; e < events.Len(); e++ {
						b.rec.event = events.At(e)
						p.record(b, levelSpanEvent, events.At(e).Attributes(), tid)
					}
				}
			}
		}
	}
	p.finish(ctx, b)
	return td, nil
}

func (p *kvProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	if !p.started.Load() {
		return ld, nil
	}
	b := p.begin()
	defer p.release(b)
	b.rec.ctx = ctx
	doScope := p.rule.active[levelScope]
	doLog := p.rule.active[levelLog]
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		b.rec.rl, b.rec.resource, b.rec.resourceSchema = rl, rl.Resource(), rl
		p.record(b, levelResource, rl.Resource().Attributes(), noTraceID)
		if !doScope && !doLog {
			continue
		}
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			b.rec.sl, b.rec.scope, b.rec.scopeSchema = sl, sl.Scope(), sl
			if doScope {
				p.record(b, levelScope, sl.Scope().Attributes(), noTraceID)
			}
			if !doLog {
				continue
			}
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				b.rec.lr = lr
				p.record(b, levelLog, lr.Attributes(), lr.TraceID())
			}
		}
	}
	p.finish(ctx, b)
	return ld, nil
}

func (p *kvProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	if !p.started.Load() {
		return md, nil
	}
	b := p.begin()
	defer p.release(b)
	b.rec.ctx = ctx
	doScope := p.rule.active[levelScope]
	doPoint := p.rule.active[levelDatapoint]
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		b.rec.rm, b.rec.resource, b.rec.resourceSchema = rm, rm.Resource(), rm
		p.record(b, levelResource, rm.Resource().Attributes(), noTraceID)
		if !doScope && !doPoint {
			continue
		}
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			b.rec.sm, b.rec.scope, b.rec.scopeSchema = sm, sm.Scope(), sm
			if doScope {
				p.record(b, levelScope, sm.Scope().Attributes(), noTraceID)
			}
			if !doPoint {
				continue
			}
			ms := sm.Metrics()
			for k := 0; k < ms.Len(); k++ {
				p.dataPoints(b, ms.At(k))
			}
		}
	}
	p.finish(ctx, b)
	return md, nil
}

func (p *kvProcessor) dataPoints(b *batchState, m pmetric.Metric) {
	if p.rule.programs[levelDatapoint] {
		b.rec.metric = m
		defer func() { b.rec.dp = nil }()
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		dps := m.Gauge().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dataPoint(p, b, dps.At(i))
		}
	case pmetric.MetricTypeSum:
		dps := m.Sum().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dataPoint(p, b, dps.At(i))
		}
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dataPoint(p, b, dps.At(i))
		}
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.ExponentialHistogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dataPoint(p, b, dps.At(i))
		}
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dataPoint(p, b, dps.At(i))
		}
	}
}

// dataPoint applies the datapoint rules to one point. Rules with OTTL see the point
// itself (boxed in an interface: an allocation only they pay).
func dataPoint[D interface{ Attributes() pcommon.Map }](p *kvProcessor, b *batchState, dp D) {
	if p.rule.programs[levelDatapoint] {
		b.rec.dp = dp
	}
	p.record(b, levelDatapoint, dp.Attributes(), noTraceID)
}
