package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/processor"
)

// shared lets the traces, metrics and logs processors built from one configuration
// share one runtime (local cache, store, write queue), as core's internal
// sharedcomponent does for receivers: the runtime starts with the first Start and
// stops with the last Shutdown.
var shared = &registry{m: map[*Config]*sharedEntry{}}

type registry struct {
	mu sync.Mutex
	m  map[*Config]*sharedEntry
}

type sharedEntry struct {
	p    *kvProcessor
	refs int
}

func (r *registry) acquire(set processor.Settings, cfg *Config) (*kvProcessor, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[cfg]; ok {
		e.refs++
		return e.p, nil
	}
	p, err := newKVProcessor(set, cfg)
	if err != nil {
		return nil, err
	}
	r.m[cfg] = &sharedEntry{p: p, refs: 1}
	return p, nil
}

func (r *registry) release(ctx context.Context, cfg *Config) error {
	r.mu.Lock()
	e, ok := r.m[cfg]
	if !ok {
		r.mu.Unlock()
		return nil
	}
	e.refs--
	if e.refs > 0 {
		r.mu.Unlock()
		return nil
	}
	delete(r.m, cfg)
	r.mu.Unlock()
	return e.p.shutdown(ctx)
}
