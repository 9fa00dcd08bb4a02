package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"context"
	"fmt"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottldatapoint"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottllog"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlresource"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlscope"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlspan"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlspanevent"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/ottlfuncs"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
)

// recCtx is the record a walk is at, with its enclosing resource and scope: what an
// OTTL transform context is made of. The walk keeps it current in batchState; only
// rules with key::expression or where read it.
type recCtx struct {
	ctx context.Context

	rs    ptrace.ResourceSpans
	ss    ptrace.ScopeSpans
	span  ptrace.Span
	event ptrace.SpanEvent

	rl plog.ResourceLogs
	sl plog.ScopeLogs
	lr plog.LogRecord

	rm     pmetric.ResourceMetrics
	sm     pmetric.ScopeMetrics
	metric pmetric.Metric
	dp     any // pmetric.NumberDataPoint, HistogramDataPoint, ...

	// resource, scope and their schema URL holders, of whichever signal is walked.
	resource       pcommon.Resource
	scope          pcommon.InstrumentationScope
	resourceSchema ottl.SchemaURLItem
	scopeSchema    ottl.SchemaURLItem
}

// program is a rule's compiled OTTL: its where condition and key expression, either
// of which may be absent.
type program interface {
	// eval reports whether the current record matches the where condition (true when
	// there is none) and, when it does and the rule has a key expression, its value.
	eval(rc *recCtx) (value any, match bool, err error)
	hasExpression() bool
}

type transformContext interface{ Close() }

// ottlProgram is a program in one OTTL context (K is that context's transform context).
type ottlProgram[K transformContext] struct {
	where *ottl.Condition[K]
	expr  *ottl.ValueExpression[K]
	open  func(*recCtx) K
}

func (p *ottlProgram[K]) hasExpression() bool { return p.expr != nil }

func (p *ottlProgram[K]) eval(rc *recCtx) (any, bool, error) {
	t := p.open(rc)
	defer t.Close()
	if p.where != nil {
		ok, err := p.where.Eval(rc.ctx, t)
		if err != nil || !ok {
			return nil, false, err
		}
	}
	if p.expr == nil {
		return nil, true, nil
	}
	v, err := p.expr.Eval(rc.ctx, t)
	return v, true, err
}

// compileProgram parses a rule's key expression and where condition (either may be
// empty) in the OTTL context of the rule's context, with the standard converters.
// Paths carry their context name (span.name, resource.attributes["x"]). It returns
// nil when both are empty; errors are named `key::expression: ...` and `where: ...`.
func compileProgram(context, expr, where string, set component.TelemetrySettings) (program, []error) {
	if expr == "" && where == "" {
		return nil, nil
	}
	switch context {
	case ContextResource:
		p, err := ottlresource.NewParser(ottlfuncs.StandardConverters[*ottlresource.TransformContext](), set, ottlresource.EnablePathContextNames())
		return build(p, err, expr, where, func(rc *recCtx) *ottlresource.TransformContext {
			return ottlresource.NewTransformContext(rc.resource, rc.resourceSchema)
		})
	case ContextScope:
		p, err := ottlscope.NewParser(ottlfuncs.StandardConverters[*ottlscope.TransformContext](), set, ottlscope.EnablePathContextNames())
		return build(p, err, expr, where, func(rc *recCtx) *ottlscope.TransformContext {
			return ottlscope.NewTransformContext(rc.scope, rc.resource, rc.scopeSchema, rc.resourceSchema)
		})
	case ContextSpan:
		p, err := ottlspan.NewParser(ottlfuncs.StandardConverters[*ottlspan.TransformContext](), set, ottlspan.EnablePathContextNames())
		return build(p, err, expr, where, func(rc *recCtx) *ottlspan.TransformContext {
			return ottlspan.NewTransformContext(rc.rs, rc.ss, rc.span)
		})
	case ContextSpanEvent:
		p, err := ottlspanevent.NewParser(ottlfuncs.StandardConverters[*ottlspanevent.TransformContext](), set, ottlspanevent.EnablePathContextNames())
		return build(p, err, expr, where, func(rc *recCtx) *ottlspanevent.TransformContext {
			return ottlspanevent.NewTransformContext(rc.rs, rc.ss, rc.span, rc.event)
		})
	case ContextLog:
		p, err := ottllog.NewParser(ottlfuncs.StandardConverters[*ottllog.TransformContext](), set, ottllog.EnablePathContextNames())
		return build(p, err, expr, where, func(rc *recCtx) *ottllog.TransformContext {
			return ottllog.NewTransformContext(rc.rl, rc.sl, rc.lr)
		})
	case ContextDatapoint:
		p, err := ottldatapoint.NewParser(ottlfuncs.StandardConverters[*ottldatapoint.TransformContext](), set, ottldatapoint.EnablePathContextNames())
		return build(p, err, expr, where, func(rc *recCtx) *ottldatapoint.TransformContext {
			return ottldatapoint.NewTransformContext(rc.rm, rc.sm, rc.metric, rc.dp)
		})
	}
	return nil, nil // an invalid context is reported by validateContext
}

func build[K transformContext](parser ottl.Parser[K], err error, expr, where string, open func(*recCtx) K) (program, []error) {
	if err != nil {
		return nil, []error{fmt.Errorf("OTTL parser: %w", err)}
	}
	p := &ottlProgram[K]{open: open}
	var errs []error
	if expr != "" {
		if p.expr, err = parser.ParseValueExpression(expr); err != nil {
			errs = append(errs, fmt.Errorf("key::expression: %w", err))
		}
	}
	if where != "" {
		if p.where, err = parser.ParseCondition(where); err != nil {
			errs = append(errs, fmt.Errorf("where: %w", err))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// validationSettings are the telemetry settings the parsers get at Validate time
// (they log nothing there).
func validationSettings() component.TelemetrySettings {
	return component.TelemetrySettings{
		Logger:         zap.NewNop(),
		TracerProvider: tracenoop.NewTracerProvider(),
		MeterProvider:  metricnoop.NewMeterProvider(),
	}
}

// keyString is the store key of an expression's value: nil (and an empty value) is no
// key; strings are used as they are, anything else in its string form (as
// pcommon.Value.AsString gives it, like an attribute key).
func keyString(v any) (string, bool) {
	var s string
	switch t := v.(type) {
	case nil:
		return "", false
	case string:
		s = t
	case pcommon.Value:
		s = t.AsString()
	case pcommon.Map:
		val := pcommon.NewValueMap()
		t.CopyTo(val.Map())
		s = val.AsString()
	case pcommon.Slice:
		val := pcommon.NewValueSlice()
		t.CopyTo(val.Slice())
		s = val.AsString()
	default:
		val := pcommon.NewValueEmpty()
		if err := val.FromRaw(t); err != nil {
			s = fmt.Sprint(t)
		} else {
			s = val.AsString()
		}
	}
	return s, s != ""
}
