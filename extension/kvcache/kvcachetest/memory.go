package kvcachetest // import "github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
)

// ErrClosed is returned by a MemoryStore used after Close.
var ErrClosed = errors.New("kvcachetest: store is closed")

// Stats counts the calls a MemoryStore received. A "round trip" is one call with
// at least one key or entry (calls with none do no work and are not counted).
type Stats struct {
	GetCalls    int64 // Get round trips
	SetCalls    int64 // Set round trips
	DeleteCalls int64 // Delete round trips
	KeysRead    int64 // keys asked for in Get round trips, duplicates included
	KeysWritten int64 // entries in Set round trips
}

// MemoryStore is a kvcache.Store and kvcache.Invalidator for tests: a mutex-guarded
// map with per-entry expiry, call counters, and fault injection (SetError, SetDelay).
// It is not bounded and not fast; the embedded store for real use is memkvext.
// The zero value is not usable; use NewMemoryStore.
type MemoryStore struct {
	mu      sync.Mutex
	data    map[string]memEntry
	subs    map[int]func([]string)
	nextSub int
	err     error
	delay   time.Duration

	closed                                     atomic.Bool
	gets, sets, deletes, keysRead, keysWritten atomic.Int64
}

type memEntry struct {
	value   []byte
	expires time.Time // zero: never
}

var (
	_ kvcache.Store       = (*MemoryStore)(nil)
	_ kvcache.Invalidator = (*MemoryStore)(nil)
)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{data: map[string]memEntry{}, subs: map[int]func([]string){}}
}

// SetError makes every later call (with at least one key) fail with err; nil
// restores normal operation. Done contexts still win over err.
func (m *MemoryStore) SetError(err error) {
	m.mu.Lock()
	m.err = err
	m.mu.Unlock()
}

// SetDelay makes every later call (with at least one key) wait d before it runs, or
// return ctx.Err() if the context ends first. Zero removes the delay.
func (m *MemoryStore) SetDelay(d time.Duration) {
	m.mu.Lock()
	m.delay = d
	m.mu.Unlock()
}

// Stats returns the call counters.
func (m *MemoryStore) Stats() Stats {
	return Stats{
		GetCalls:    m.gets.Load(),
		SetCalls:    m.sets.Load(),
		DeleteCalls: m.deletes.Load(),
		KeysRead:    m.keysRead.Load(),
		KeysWritten: m.keysWritten.Load(),
	}
}

// Put writes key=value directly, as another writer of the backend would: it is not
// counted, and it does not notify subscribers (call Invalidate for that).
func (m *MemoryStore) Put(key, value string) {
	m.mu.Lock()
	m.data[key] = memEntry{value: []byte(value)}
	m.mu.Unlock()
}

// Remove deletes key directly, without counting or notifying.
func (m *MemoryStore) Remove(key string) {
	m.mu.Lock()
	delete(m.data, key)
	m.mu.Unlock()
}

// Invalidate calls every subscriber with keys (nil means everything), as a store
// does when values change behind its callers' backs.
func (m *MemoryStore) Invalidate(keys []string) {
	m.mu.Lock()
	fns := make([]func([]string), 0, len(m.subs))
	for _, fn := range m.subs {
		fns = append(fns, fn)
	}
	m.mu.Unlock()
	for _, fn := range fns {
		fn(keys)
	}
}

// Subscribers returns the number of current OnInvalidate subscriptions.
func (m *MemoryStore) Subscribers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.subs)
}

// Closed reports whether Close was called.
func (m *MemoryStore) Closed() bool { return m.closed.Load() }

// OnInvalidate implements kvcache.Invalidator.
func (m *MemoryStore) OnInvalidate(fn func(keys []string)) func() {
	m.mu.Lock()
	id := m.nextSub
	m.nextSub++
	m.subs[id] = fn
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.subs, id)
		m.mu.Unlock()
	}
}

// begin applies the context, the closed state and the injected faults.
func (m *MemoryStore) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.closed.Load() {
		return ErrClosed
	}
	m.mu.Lock()
	err, delay := m.err, m.delay
	m.mu.Unlock()
	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
	return err
}

// Get implements kvcache.Store.
func (m *MemoryStore) Get(ctx context.Context, keys []string) ([]kvcache.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return []kvcache.Result{}, nil
	}
	m.gets.Add(1)
	m.keysRead.Add(int64(len(keys)))
	if err := m.begin(ctx); err != nil {
		return nil, err
	}
	now := time.Now()
	res := make([]kvcache.Result, len(keys))
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, k := range keys {
		e, ok := m.data[k]
		if ok && !e.expires.IsZero() && !now.Before(e.expires) {
			delete(m.data, k)
			ok = false
		}
		if ok {
			res[i] = kvcache.Result{Value: e.value, Found: true}
		}
	}
	return res, nil
}

// Set implements kvcache.Store. Entries with a TTL expire; TTL zero never does.
func (m *MemoryStore) Set(ctx context.Context, entries []kvcache.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	m.sets.Add(1)
	m.keysWritten.Add(int64(len(entries)))
	if err := m.begin(ctx); err != nil {
		return err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range entries {
		me := memEntry{value: slices.Clone(e.Value)}
		if me.value == nil {
			me.value = []byte{}
		}
		if e.TTL != 0 {
			me.expires = now.Add(e.TTL)
		}
		m.data[e.Key] = me
	}
	return nil
}

// Delete implements kvcache.Store.
func (m *MemoryStore) Delete(ctx context.Context, keys []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	m.deletes.Add(1)
	if err := m.begin(ctx); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.data, k)
	}
	return nil
}

// Close implements kvcache.Store: later calls fail with ErrClosed.
func (m *MemoryStore) Close(context.Context) error {
	m.closed.Store(true)
	return nil
}
