package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/memkvext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/filewatch"
)

// never is otter's "does not expire" duration.
const never = time.Duration(math.MaxInt64)

var (
	layerFile      = metric.WithAttributeSet(attribute.NewSet(attribute.String("layer", "file")))
	layerWritten   = metric.WithAttributeSet(attribute.NewSet(attribute.String("layer", "written")))
	outcomeSuccess = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "success")))
	outcomeFailure = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "failure")))
)

// Store is the embedded in-memory kvcache.Store (and kvcache.Invalidator).
//
// It has two layers. The file layer holds the entries of the configured file: an
// immutable snapshot (see snapshot) that a reload replaces atomically; its entries are never evicted
// and do not expire. The written layer holds entries written with Set: an otter
// cache bounded by max_entries and max_bytes, with a TTL per entry. Get looks in the
// written layer first, so the most recent change of a key wins:
//   - Set overrides the file's value of a key until the entry expires, is evicted
//     or is deleted;
//   - a reload that adds a key or changes its value drops the written entry of that
//     key, so the new file value shows;
//   - Delete removes written entries only: a key that the file defines shows its
//     file value again. File entries change only when the file does.
//
// Set and Delete through one caller notify the OnInvalidate subscribers of the
// other callers with the keys; a successful reload that changed the file notifies
// every subscriber with nil (everything may have changed).
//
// Get, Set and Delete work from NewStore on; Start loads the file and starts the
// watcher; Shutdown stops both and releases the store's goroutines. Close does
// nothing: the store lives until Shutdown.
type Store struct {
	cfg        Config
	path       string // absolute
	format     string
	defaultTTL time.Duration
	logger     *zap.Logger
	tb         *metadata.TelemetryBuilder

	written      *otter.Cache[string, writtenEntry]
	everWritten  atomic.Bool // false until the first Set: reads of a file-only store skip the written layer
	writtenBytes atomic.Int64
	evictions    atomic.Int64
	file         atomic.Pointer[snapshot]
	seed         maphash.Seed

	subsMu sync.Mutex
	subs   atomic.Pointer[[]*subscription]

	lifeMu   sync.Mutex
	host     component.Host
	started  bool
	shutDown bool
	watcher  *filewatch.Watcher
	stop     chan struct{}
	done     chan struct{}
	// failed is true while the last load failed; only the loader (Start, then the
	// watcher goroutine) uses it.
	failed bool
}

type writtenEntry struct {
	value []byte
	ttl   time.Duration
	size  int64 // len(key)+len(value)
}

// source identifies who changed the store, so that a caller is not notified of its
// own writes: a handle given to one extension user, nil for direct users of the
// Store, fileSource for reloads.
type source = *handle

var fileSource = &handle{}

type subscription struct {
	fn   func(keys []string)
	from source
}

var (
	_ kvcache.Store       = (*Store)(nil)
	_ kvcache.Invalidator = (*Store)(nil)
)

// NewStore builds a store from cfg (which must be valid; it is copied). The
// kvcache processor calls it when its config names no store extension; the memkv
// extension wraps one. Call Start to load and watch the file and Shutdown to stop.
func NewStore(cfg *Config, set component.TelemetrySettings) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		cfg:        *cfg,
		defaultTTL: cfg.DefaultTTL,
		logger:     set.Logger,
		seed:       maphash.MakeSeed(),
	}
	if s.logger == nil {
		s.logger = zap.NewNop()
	}
	if s.defaultTTL == 0 {
		s.defaultTTL = never
	}
	if cfg.File.Path != "" {
		path, err := filepath.Abs(cfg.File.Path)
		if err != nil {
			return nil, fmt.Errorf("file::path: %w", err)
		}
		s.path = path
		s.format, _ = cfg.File.format() // checked by Validate
	}
	s.file.Store(emptySnapshot)
	s.subs.Store(&[]*subscription{})

	written, err := otter.New(&otter.Options[string, writtenEntry]{
		MaximumWeight: uint64(cfg.MaxBytes),
		Weigher:       weigher(cfg.MaxEntries, cfg.MaxBytes),
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, writtenEntry]) time.Duration {
			return e.Value.ttl
		}),
		OnAtomicDeletion: func(e otter.DeletionEvent[string, writtenEntry]) {
			s.writtenBytes.Add(-e.Value.size)
			if e.Cause == otter.CauseOverflow {
				s.evictions.Add(1)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	s.written = written

	if s.tb, err = metadata.NewTelemetryBuilder(set); err != nil {
		written.StopAllGoroutines()
		return nil, err
	}
	if err = s.registerMetrics(); err != nil {
		s.tb.Shutdown()
		written.StopAllGoroutines()
		return nil, err
	}
	return s, nil
}

// weigher enforces both bounds with otter's single weight bound: the maximum weight
// is maxBytes and an entry weighs its bytes, but at least maxBytes/maxEntries. So
// the weights cannot add up to more than maxBytes while there are more than
// maxEntries entries or more than maxBytes bytes. When entries are small, the entry
// bound is the one that applies; when they vary in size, eviction may start a
// little before either bound is reached.
func weigher(maxEntries int, maxBytes int64) func(string, writtenEntry) uint32 {
	floor := (maxBytes + int64(maxEntries) - 1) / int64(maxEntries)
	return func(_ string, e writtenEntry) uint32 {
		// Weights are uint32; an entry of 4 GiB or more, or a floor that large,
		// saturates (then only the byte bound is exact).
		return uint32(min(max(e.size, floor), math.MaxUint32))
	}
}

func (s *Store) registerMetrics() error {
	if err := s.tb.RegisterMemkvEntriesCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(int64(s.file.Load().len()), layerFile)
		o.Observe(int64(s.written.EstimatedSize()), layerWritten)
		return nil
	}); err != nil {
		return err
	}
	if err := s.tb.RegisterMemkvBytesCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(s.file.Load().bytes, layerFile)
		// Replacements and evictions may be counted a moment before the write.
		o.Observe(max(s.writtenBytes.Load(), 0), layerWritten)
		return nil
	}); err != nil {
		return err
	}
	return s.tb.RegisterMemkvEvictionsCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(s.evictions.Load())
		return nil
	})
}

// Get implements kvcache.Store. It never blocks on I/O.
func (s *Store) Get(ctx context.Context, keys []string) ([]kvcache.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := make([]kvcache.Result, len(keys))
	file := s.file.Load()
	checkWritten := s.everWritten.Load()
	for i, k := range keys {
		if checkWritten {
			if w, ok := s.written.GetIfPresent(k); ok {
				res[i] = kvcache.Result{Value: w.value, Found: true}
				continue
			}
		}
		if v, ok := file.get(k); ok {
			res[i] = kvcache.Result{Value: v, Found: true}
		}
	}
	return res, nil
}

// Set implements kvcache.Store. Values are copied. A zero TTL means default_ttl
// (or no expiry when that is zero); a negative TTL deletes the written entry.
func (s *Store) Set(ctx context.Context, entries []kvcache.Entry) error {
	return s.set(ctx, entries, nil)
}

// Delete implements kvcache.Store. It removes written entries only; see Store.
func (s *Store) Delete(ctx context.Context, keys []string) error {
	return s.delete(ctx, keys, nil)
}

// Close implements kvcache.Store and does nothing: use Shutdown.
func (s *Store) Close(context.Context) error { return nil }

// OnInvalidate implements kvcache.Invalidator. fn is called on the goroutine that
// made the change and must not block. Direct users of a Store are not notified of
// their own writes.
func (s *Store) OnInvalidate(fn func(keys []string)) (unsubscribe func()) {
	return s.subscribe(fn, nil)
}

func (s *Store) set(ctx context.Context, entries []kvcache.Entry, from source) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, e := range entries {
		if e.TTL < 0 {
			s.written.Invalidate(e.Key)
			continue
		}
		ttl := e.TTL
		if ttl == 0 {
			ttl = s.defaultTTL
		}
		s.everWritten.Store(true)
		v := make([]byte, len(e.Value))
		copy(v, e.Value)
		size := int64(len(e.Key) + len(v))
		s.written.Set(e.Key, writtenEntry{value: v, ttl: ttl, size: size})
		s.writtenBytes.Add(size)
	}
	s.notifyKeys(len(entries), func(i int) string { return entries[i].Key }, from)
	return nil
}

func (s *Store) delete(ctx context.Context, keys []string, from source) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, k := range keys {
		s.written.Invalidate(k)
	}
	s.notifyKeys(len(keys), func(i int) string { return keys[i] }, from)
	return nil
}

// notifyKeys tells subscribers other than from about n changed keys. The key
// slice is only built when someone listens, and is fresh for every call.
func (s *Store) notifyKeys(n int, key func(int) string, from source) {
	subs := *s.subs.Load()
	if n == 0 || len(subs) == 0 {
		return
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = key(i)
	}
	s.notify(subs, keys, from)
}

func (s *Store) notify(subs []*subscription, keys []string, from source) {
	for _, sub := range subs {
		if sub.from != from {
			sub.fn(keys)
		}
	}
}

func (s *Store) subscribe(fn func(keys []string), from source) func() {
	sub := &subscription{fn: fn, from: from}
	s.subsMu.Lock()
	next := append(slices.Clone(*s.subs.Load()), sub)
	s.subs.Store(&next)
	s.subsMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.subsMu.Lock()
			defer s.subsMu.Unlock()
			next := slices.DeleteFunc(slices.Clone(*s.subs.Load()), func(x *subscription) bool { return x == sub })
			s.subs.Store(&next)
		})
	}
}

// Start loads the file (an error fails Start) and, when file::watch is on, starts
// watching it. Status events of later reloads are reported to host: pass the host
// of the component that owns the store. Start without a file does nothing.
func (s *Store) Start(_ context.Context, host component.Host) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.started || s.shutDown {
		return fmt.Errorf("memkv: store already started or shut down")
	}
	s.started = true
	s.host = host
	if s.path == "" {
		return nil
	}
	if !s.cfg.File.Watch {
		if err := s.reload(true); err != nil {
			return fmt.Errorf("memkv: load %s: %w", s.path, err)
		}
		return nil
	}
	// Watch before the first load, so that no change in between is missed.
	w := s.newFileWatcher()
	watchErr := w.Start()
	if err := s.reload(true); err != nil {
		w.Stop()
		return fmt.Errorf("memkv: load %s: %w", s.path, err)
	}
	if watchErr != nil {
		w.Stop()
		return fmt.Errorf("memkv: watch %s: %w", s.path, watchErr)
	}
	s.watcher = w
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.watch(w, s.stop, s.done)
	return nil
}

// Shutdown stops the watcher and the store's background goroutines. It may be
// called without Start and more than once. Get, Set and Delete keep working.
func (s *Store) Shutdown(ctx context.Context) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.shutDown {
		return nil
	}
	s.shutDown = true
	s.written.StopAllGoroutines()
	s.tb.Shutdown()
	if s.stop != nil {
		s.watcher.Stop()
		close(s.stop)
		select {
		case <-s.done: // the watcher finishes a reload it is in, then stops
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// reload loads the file and, if it changed, swaps it in. On failure the previous
// data stays and the failure is logged (never the values). Reloads after the
// initial load (which Start reports by its error) report a failure as a
// recoverable error and a success as OK.
func (s *Store) reload(initial bool) error {
	ctx := context.Background()
	old := s.file.Load()
	snap, err := s.load(old)
	if err != nil {
		s.tb.MemkvReloads.Add(ctx, 1, outcomeFailure)
		s.logger.Warn("Loading the key-value file failed; the previous data stays in use",
			zap.String("path", s.path), zap.Error(err))
		if !initial {
			s.reportStatus(componentstatus.NewRecoverableErrorEvent(fmt.Errorf("memkv: reload %s: %w", s.path, err)))
		}
		s.failed = true
		return err
	}
	recovered := s.failed
	s.failed = false
	if snap == old && !recovered {
		return nil // nothing changed
	}
	s.tb.MemkvReloads.Add(ctx, 1, outcomeSuccess)
	if snap != old {
		s.file.Store(snap)
		s.dropOverrides(old, snap)
		s.logger.Info("Loaded the key-value file",
			zap.String("path", s.path), zap.Int("entries", snap.len()), zap.Int64("bytes", snap.bytes))
		s.notify(*s.subs.Load(), nil, fileSource)
	}
	if !initial {
		s.reportStatus(componentstatus.NewEvent(componentstatus.StatusOK))
	}
	return nil
}

// load reads and parses the file; it returns old when the content did not change.
// The file is streamed twice: first only hashed (to skip a reload that changes
// nothing) and its lines counted (to size the index once), then parsed. So a CSV
// or JSON file's content is never held in memory next to the two snapshots; YAML
// is read whole (yaml.v3 parses a whole document; see docs/design.md, "memkv's
// file layer").
func (s *Store) load(old *snapshot) (*snapshot, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	limit := 2*s.cfg.MaxBytes + 1<<20
	sum, lines, err := hashFile(f, s.seed, limit)
	if err != nil {
		return nil, err
	}
	if old != emptySnapshot && sum == old.sum {
		return old, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	// The sum is of what is parsed, should the file change between the two reads.
	r := &hashingReader{f: f, limit: limit}
	r.h.SetSeed(s.seed)
	b := newSnapshotBuilder(s.cfg.MaxEntries, s.cfg.MaxBytes, max(lines, old.len()), old)
	if err := parse(s.format, &s.cfg.File.CSV, r, b); err != nil {
		return nil, err
	}
	return b.finish(r.h.Sum64()), nil
}

// dropOverrides removes the written entries of keys that the reload added or
// changed, so that their new file values show (the most recent change wins).
func (s *Store) dropOverrides(old, cur *snapshot) {
	changed := func(k string, v []byte) bool {
		ov, ok := old.get(k)
		return !ok || !bytes.Equal(ov, v)
	}
	var drop []string
	if s.written.EstimatedSize() < cur.len() {
		for k := range s.written.Keys() {
			if v, ok := cur.get(k); ok && changed(k, v) {
				drop = append(drop, k)
			}
		}
	} else {
		for k, v := range cur.all() {
			if ks := unsafeString(k); changed(ks, v) {
				drop = append(drop, ks) // aliases cur, which is immutable
			}
		}
	}
	for _, k := range drop {
		s.written.Invalidate(k)
	}
}

func (s *Store) reportStatus(ev *componentstatus.Event) {
	if s.host != nil {
		componentstatus.ReportStatus(s.host, ev)
	}
}
