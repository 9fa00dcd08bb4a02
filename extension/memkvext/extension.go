package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
)

// memkv is the extension: a Store shared by every component that names it.
type memkv struct {
	store *Store
}

var _ kvcache.Provider = (*memkv)(nil)

func createExtension(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	s, err := NewStore(cfg.(*Config), set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &memkv{store: s}, nil
}

func (m *memkv) Start(ctx context.Context, host component.Host) error {
	return m.store.Start(ctx, host)
}

func (m *memkv) Shutdown(ctx context.Context) error {
	return m.store.Shutdown(ctx)
}

// Store implements kvcache.Provider. All owners share one keyspace; each gets its
// own handle, so that it is not notified of its own writes and its Close ends its
// subscriptions.
func (m *memkv) Store(_ context.Context, _ component.ID) (kvcache.Store, error) {
	return &handle{s: m.store}, nil
}

// handle is one owner's view of the shared Store.
type handle struct {
	s *Store

	mu     sync.Mutex
	unsubs []func()
}

var (
	_ kvcache.Store       = (*handle)(nil)
	_ kvcache.Invalidator = (*handle)(nil)
)

func (h *handle) Get(ctx context.Context, keys []string) ([]kvcache.Result, error) {
	return h.s.Get(ctx, keys)
}

func (h *handle) Set(ctx context.Context, entries []kvcache.Entry) error {
	return h.s.set(ctx, entries, h)
}

func (h *handle) Delete(ctx context.Context, keys []string) error {
	return h.s.delete(ctx, keys, h)
}

func (h *handle) OnInvalidate(fn func(keys []string)) func() {
	unsub := h.s.subscribe(fn, h)
	h.mu.Lock()
	h.unsubs = append(h.unsubs, unsub)
	h.mu.Unlock()
	return unsub
}

// Close ends the handle's subscriptions; the shared store lives on until the
// extension shuts down.
func (h *handle) Close(context.Context) error {
	h.mu.Lock()
	unsubs := h.unsubs
	h.unsubs = nil
	h.mu.Unlock()
	for _, u := range unsubs {
		u()
	}
	return nil
}
