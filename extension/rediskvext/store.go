package rediskvext // import "github.com/otelcol-custom/otelcol-custom/extension/rediskvext"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
)

var errStoreClosed = errors.New("rediskv: store is closed")

// store is the kvcache.Store handed to one component. Every call is one round
// trip:
//   - standalone and sentinel: one command (MGET, DEL) or one pipeline (SET ... PX)
//     on one connection;
//   - cluster: the keys are grouped by hash slot (Redis Cluster refuses
//     multi-key commands across slots) and every group's command goes into one
//     DoMulti, which rueidis splits per node and writes as one pipeline per node,
//     all nodes in parallel. The call costs one network round trip of latency
//     (the slowest node's) and one command per slot group, not per key.
type store struct {
	ext      *redisKV
	tracking bool // client_side_caching: tell the extension's other stores of writes
	closed   atomic.Bool

	mu     sync.Mutex
	unsubs map[uint64]func()
	nextID uint64
}

// trackingStore is the store when client_side_caching is on: it also
// implements kvcache.Invalidator. Without tracking the store does not claim to
// be an Invalidator, so callers know to rely on TTLs alone.
type trackingStore struct{ *store }

var (
	_ kvcache.Store       = (*store)(nil)
	_ kvcache.Invalidator = (*trackingStore)(nil)
)

// begin returns the client for one call, or why there is none.
func (s *store) begin() (rueidis.Client, error) {
	if s.closed.Load() {
		return nil, errStoreClosed
	}
	return s.ext.current()
}

func (s *store) key(k string) string { return s.ext.cfg.KeyPrefix + k }

func (s *store) cluster() bool { return s.ext.cfg.Mode == ModeCluster }

// Get reads all keys in one round trip: one MGET (one per hash slot in cluster
// mode). Keys that do not exist, or hold something other than a string, are
// reported as not found.
func (s *store) Get(ctx context.Context, keys []string) (results []kvcache.Result, err error) {
	if len(keys) == 0 {
		return []kvcache.Result{}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("rediskv: get: %w", err)
	}
	c, err := s.begin()
	if err == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.ext.cfg.ReadTimeout)
		defer cancel()
		start := time.Now()
		defer func() { s.ext.record(ctx, opGet, len(keys), start, err) }()
		results = make([]kvcache.Result, len(keys))
		if s.cluster() {
			err = s.getCluster(ctx, c, keys, results)
		} else {
			err = s.getSingle(ctx, c, keys, results)
		}
	} else {
		s.ext.recordNotStarted(ctx, opGet, err)
	}
	if err != nil {
		return nil, fmt.Errorf("rediskv: get %d keys: %w", len(keys), err)
	}
	return results, nil
}

func (s *store) getSingle(ctx context.Context, c rueidis.Client, keys []string, results []kvcache.Result) error {
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = s.key(k)
	}
	values, err := c.Do(ctx, c.B().Mget().Key(full...).Build()).ToArray()
	if err != nil {
		return err
	}
	return fill(results, values, nil)
}

func (s *store) getCluster(ctx context.Context, c rueidis.Client, keys []string, results []kvcache.Result) error {
	groups := groupBySlot(keys, s.ext.cfg.KeyPrefix)
	cmds := make(rueidis.Commands, len(groups))
	for i, g := range groups {
		cmds[i] = c.B().Mget().Key(g.keys...).Build()
	}
	for i, resp := range c.DoMulti(ctx, cmds...) {
		values, err := resp.ToArray()
		if err != nil {
			return err
		}
		if err := fill(results, values, groups[i].index); err != nil {
			return err
		}
	}
	return nil
}

// fill copies MGET values into results; index maps value i to its result
// (nil: identity).
func fill(results []kvcache.Result, values []rueidis.RedisMessage, index []int) error {
	want := len(results)
	if index != nil {
		want = len(index)
	}
	if len(values) != want {
		return fmt.Errorf("MGET returned %d values for %d keys", len(values), want)
	}
	for i := range values {
		if values[i].IsNil() {
			continue
		}
		b, err := values[i].AsBytes() // zero-copy; kvcache callers must not modify it
		if err != nil {
			continue
		}
		r := i
		if index != nil {
			r = index[i]
		}
		results[r] = kvcache.Result{Value: b, Found: true}
	}
	return nil
}

// Set writes all entries as one pipeline of SET key value [PX ttl] (TTL 0: no
// expiry). A TTL below one millisecond is rounded up to one.
func (s *store) Set(ctx context.Context, entries []kvcache.Entry) (err error) {
	if len(entries) == 0 {
		return nil
	}
	for i := range entries {
		if entries[i].TTL < 0 {
			return fmt.Errorf("rediskv: set: entry %d has a negative TTL", i)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rediskv: set: %w", err)
	}
	c, err := s.begin()
	if err == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.ext.cfg.WriteTimeout)
		defer cancel()
		start := time.Now()
		defer func() { s.ext.record(ctx, opSet, len(entries), start, err) }()
		cmds := make(rueidis.Commands, len(entries))
		for i, en := range entries {
			// string(...) copies the value: rueidis may still be writing the command
			// when a timed-out call has returned and the caller reuses its buffer.
			b := c.B().Set().Key(s.key(en.Key)).Value(string(en.Value))
			if en.TTL > 0 {
				cmds[i] = b.PxMilliseconds(ttlMillis(en.TTL)).Build()
			} else {
				cmds[i] = b.Build()
			}
		}
		err = firstError(c.DoMulti(ctx, cmds...))
		if s.tracking {
			keys := make([]string, len(entries))
			for i := range entries {
				keys[i] = entries[i].Key
			}
			s.notifyOthers(keys)
		}
	} else {
		s.ext.recordNotStarted(ctx, opSet, err)
	}
	if err != nil {
		return fmt.Errorf("rediskv: set %d entries: %w", len(entries), err)
	}
	return nil
}

func ttlMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// Delete removes the keys with one DEL (one per hash slot in cluster mode, in one
// DoMulti).
func (s *store) Delete(ctx context.Context, keys []string) (err error) {
	if len(keys) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rediskv: delete: %w", err)
	}
	c, err := s.begin()
	if err == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.ext.cfg.WriteTimeout)
		defer cancel()
		start := time.Now()
		defer func() { s.ext.record(ctx, opDelete, len(keys), start, err) }()
		var cmds rueidis.Commands
		if s.cluster() {
			groups := groupBySlot(keys, s.ext.cfg.KeyPrefix)
			cmds = make(rueidis.Commands, len(groups))
			for i, g := range groups {
				cmds[i] = c.B().Del().Key(g.keys...).Build()
			}
		} else {
			full := make([]string, len(keys))
			for i, k := range keys {
				full[i] = s.key(k)
			}
			cmds = rueidis.Commands{c.B().Del().Key(full...).Build()}
		}
		err = firstError(c.DoMulti(ctx, cmds...))
		if s.tracking {
			s.notifyOthers(keys)
		}
	} else {
		s.ext.recordNotStarted(ctx, opDelete, err)
	}
	if err != nil {
		return fmt.Errorf("rediskv: delete %d keys: %w", len(keys), err)
	}
	return nil
}

// notifyOthers tells the subscribers of the extension's other stores that keys
// were written through s. Redis does not (tracking uses NOLOOP, and all stores
// share the client's connections), and another component's cached value of a
// key must not outlive this write. It runs after the call was sent, even when
// it failed: a timed-out write may still have been applied.
func (s *store) notifyOthers(keys []string) {
	s.ext.subs.publishExcept(keys, s)
}

func firstError(resps []rueidis.RedisResult) error {
	for _, r := range resps {
		if err := r.Error(); err != nil {
			return err
		}
	}
	return nil
}

// Close unsubscribes this store's invalidation callbacks; later calls fail. The
// shared client stays open until the extension shuts down.
func (s *store) Close(context.Context) error {
	if s.closed.Swap(true) {
		return nil
	}
	s.mu.Lock()
	unsubs := s.unsubs
	s.unsubs = nil
	s.mu.Unlock()
	for _, u := range unsubs {
		u()
	}
	return nil
}

// OnInvalidate registers fn for keys (without key_prefix) that changed in Redis.
// nil keys mean "everything": a FLUSHALL/FLUSHDB, or a tracking connection was
// lost so changes may have been missed. With keys, fn runs on rueidis'
// connection reader (or on the goroutine of a write through another store) and
// must not block; nil is delivered on a goroutine of the extension, so a
// subscriber may clear a large cache there without delaying replies (clears
// requested meanwhile are coalesced into one). All subscribers receive the same keys slice and must not
// modify it. A key may be reported more than once (once per tracking
// connection). Writes made through this store are not reported to its own
// subscribers (the caller knows what it wrote; tracking uses NOLOOP), except
// from the other connections when pipeline_multiplex > 0; writes through the
// extension's other stores are.
func (s *trackingStore) OnInvalidate(fn func(keys []string)) (unsubscribe func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return func() {}
	}
	unsub := s.ext.subs.add(s.store, fn)
	if s.unsubs == nil {
		s.unsubs = map[uint64]func(){}
	}
	id := s.nextID
	s.nextID++
	s.unsubs[id] = unsub
	return func() {
		s.mu.Lock()
		delete(s.unsubs, id)
		s.mu.Unlock()
		unsub()
	}
}

// subscribers is a copy-on-write list of invalidation callbacks: publishing,
// which runs on rueidis' reader goroutine, takes no lock.
type subscribers struct {
	mu   sync.Mutex
	next uint64
	list atomic.Pointer[[]subscriber]
}

type subscriber struct {
	id    uint64
	owner *store
	fn    func([]string)
}

func (s *subscribers) add(owner *store, fn func([]string)) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	var cur []subscriber
	if p := s.list.Load(); p != nil {
		cur = *p
	}
	next := append(append(make([]subscriber, 0, len(cur)+1), cur...), subscriber{id: id, owner: owner, fn: fn})
	s.list.Store(&next)
	var once sync.Once
	return func() { once.Do(func() { s.remove(id) }) }
}

func (s *subscribers) remove(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.list.Load()
	if p == nil {
		return
	}
	next := make([]subscriber, 0, len(*p))
	for _, sub := range *p {
		if sub.id != id {
			next = append(next, sub)
		}
	}
	s.list.Store(&next)
}

func (s *subscribers) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list.Store(nil)
}

func (s *subscribers) publish(keys []string) { s.publishExcept(keys, nil) }

// publishExcept calls every subscriber not registered by skip.
func (s *subscribers) publishExcept(keys []string, skip *store) {
	p := s.list.Load()
	if p == nil {
		return
	}
	for _, sub := range *p {
		if skip == nil || sub.owner != skip {
			sub.fn(keys)
		}
	}
}
