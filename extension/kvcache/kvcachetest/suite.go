// Package kvcachetest helps test code around the kvcache capability: a conformance
// suite that every Store implementation runs (RunStoreTests), an in-memory Store
// with call counters and fault injection for processor tests (MemoryStore), and a
// component.Host that carries extensions (NewHost).
package kvcachetest // import "github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
)

// Sizes the suite writes; a bounded store under test must hold at least this much
// at once (about 2 MiB in 5,001 entries).
const (
	// LargeBatchSize is the number of entries of the large Set and found keys of the large Get.
	LargeBatchSize = 5000
	// LargeValueSize is the size in bytes of the largest single value the suite writes.
	LargeValueSize = 256 << 10
)

// Option changes what RunStoreTests expects of the store.
type Option func(*suiteOptions)

type suiteOptions struct {
	expiry bool
	text   bool
	seed   *seeder
}

// TextValues is for stores whose wire format carries values as text (JSON
// strings, as an HTTP API answers them): the binary-values and large-value checks
// use valid UTF-8 values instead of arbitrary bytes. Keys are unchanged.
func TextValues() Option {
	return func(o *suiteOptions) { o.text = true }
}

// WithoutExpiry is for stores that accept Entry.TTL but do not expire entries
// (the adapter over an upstream storage extension): the suite still writes entries
// with a TTL but does not wait for them to disappear.
func WithoutExpiry() Option {
	return func(o *suiteOptions) { o.expiry = false }
}

// ReadOnly is for read-only stores (kvcache.IsReadOnly reports true: a lookup API,
// a file loaded at start). The suite puts its data into the store's backend with
// put and takes it out with remove instead of calling Set and Delete, so every
// read-side check still runs against the real store: order and repeats, binary
// keys and values, a changed backend value, value ownership, large batches and
// values, concurrency, done contexts. The write-side checks (TTLs, Delete) are
// replaced by one that Set and Delete, empty or not, fail with an error wrapping
// kvcache.ErrReadOnly and change nothing. put and remove must be safe for
// concurrent use and take effect before they return.
func ReadOnly(put func(entries []kvcache.Entry) error, remove func(keys []string) error) Option {
	return func(o *suiteOptions) { o.seed = &seeder{put: put, remove: remove} }
}

// seeder writes to a read-only store's backend.
type seeder struct {
	put    func(entries []kvcache.Entry) error
	remove func(keys []string) error
}

// seededStore reads through the store under test and writes through the seeder, so
// the suite's write-then-read checks run unchanged against a read-only store.
type seededStore struct {
	kvcache.Store
	seed *seeder
}

func (s seededStore) Set(ctx context.Context, entries []kvcache.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The suite's entries are copied, as Set must not keep the caller's buffers.
	cp := make([]kvcache.Entry, len(entries))
	for i, e := range entries {
		cp[i] = kvcache.Entry{Key: e.Key, Value: bytes.Clone(e.Value), TTL: e.TTL}
	}
	return s.seed.put(cp)
}

func (s seededStore) Delete(ctx context.Context, keys []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.seed.remove(keys)
}

// RunStoreTests runs the kvcache.Store conformance suite. newStore is called once
// per subtest and must return a ready store; the suite closes it at the end of the
// subtest (newStore may register more cleanup with t.Cleanup). Stores may share a
// backend across calls: every subtest uses keys under a fresh random prefix and
// deletes nothing it did not write.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) kvcache.Store, opts ...Option) {
	t.Helper()
	o := suiteOptions{expiry: true}
	for _, opt := range opts {
		opt(&o)
	}
	tests := []suiteTest{
		{"EmptyCalls", testEmptyCalls},
		{"GetFoundAndNotFoundInOrder", testGetOrder},
		{"SetOverwrites", testSetOverwrites},
		{"SetWithTTL", func(t *testing.T, s kvcache.Store, p string) { testSetWithTTL(t, s, p, o.expiry) }},
		{"Delete", testDelete},
		{"BinaryKeysAndValues", func(t *testing.T, s kvcache.Store, p string) { testBinary(t, s, p, o.text) }},
		{"ValuesAreNotShared", testValuesNotShared},
		{"LargeBatch", testLargeBatch},
		{"LargeValue", func(t *testing.T, s kvcache.Store, p string) { testLargeValue(t, s, p, o.text) }},
		{"Concurrent", testConcurrent},
		{"ContextDone", testContextDone},
	}
	if o.seed != nil {
		tests = readOnlyTests(tests, o.seed)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "newStore returned nil")
			t.Cleanup(func() {
				assert.NoError(t, s.Close(context.Background()), "Close")
			})
			tt.run(t, s, newPrefix(t))
		})
	}
}

type suiteTest = struct {
	name string
	run  func(t *testing.T, s kvcache.Store, p string)
}

// readOnlyTests adapts the suite to a read-only store: read-side tests write
// through the seeder, write-side tests are replaced by the read-only checks.
func readOnlyTests(all []suiteTest, seed *seeder) []suiteTest {
	var out []suiteTest
	for _, tt := range all {
		switch tt.name {
		case "EmptyCalls", "SetWithTTL", "Delete", "ContextDone":
			continue // replaced below
		}
		run := tt.run
		out = append(out, suiteTest{tt.name, func(t *testing.T, s kvcache.Store, p string) {
			run(t, seededStore{Store: s, seed: seed}, p)
		}})
	}
	return append(out,
		suiteTest{"EmptyGets", testEmptyGets},
		suiteTest{"RejectsWrites", func(t *testing.T, s kvcache.Store, p string) { testRejectsWrites(t, s, p, seed) }},
		suiteTest{"ContextDoneReadOnly", func(t *testing.T, s kvcache.Store, p string) { testContextDoneReadOnly(t, s, p, seed) }},
	)
}

func testEmptyGets(t *testing.T, s kvcache.Store, _ string) {
	for _, keys := range [][]string{nil, {}} {
		res, err := s.Get(ctxT(t), keys)
		require.NoError(t, err)
		require.Empty(t, res)
	}
}

func testRejectsWrites(t *testing.T, s kvcache.Store, p string, seed *seeder) {
	require.True(t, kvcache.IsReadOnly(s), "a store run with ReadOnly must declare itself read-only (kvcache.ReadOnly)")
	require.NoError(t, seed.put([]kvcache.Entry{{Key: p + "k", Value: []byte("v")}}))
	ctx := ctxT(t)
	for _, entries := range [][]kvcache.Entry{nil, {}, {{Key: p + "k", Value: []byte("changed")}, {Key: p + "new", Value: []byte("n")}}} {
		require.ErrorIs(t, s.Set(ctx, entries), kvcache.ErrReadOnly, "Set of %d entries", len(entries))
	}
	for _, keys := range [][]string{nil, {}, {p + "k"}} {
		require.ErrorIs(t, s.Delete(ctx, keys), kvcache.ErrReadOnly, "Delete of %d keys", len(keys))
	}
	res := get(t, s, p+"k", p+"new")
	requireFound(t, res[0], "v", "the rejected writes changed nothing")
	require.False(t, res[1].Found, "the rejected Set added nothing")
}

func testContextDoneReadOnly(t *testing.T, s kvcache.Store, p string, seed *seeder) {
	require.NoError(t, seed.put([]kvcache.Entry{{Key: p + "k", Value: []byte("v")}}))
	for _, c := range doneContexts(t) {
		_, err := s.Get(c.ctx, []string{p + "k"})
		require.ErrorIs(t, err, c.ctx.Err(), "Get with a %s context", c.name)
		require.Error(t, s.Set(c.ctx, []kvcache.Entry{{Key: p + "k", Value: []byte("x")}}), "Set with a %s context", c.name)
		require.Error(t, s.Delete(c.ctx, []string{p + "k"}), "Delete with a %s context", c.name)
	}
	requireFound(t, get(t, s, p+"k")[0], "v", "value after calls with done contexts")
}

func newPrefix(t *testing.T) string {
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return "kvcachetest:" + hex.EncodeToString(b[:]) + ":"
}

// ctxT bounds one call of the suite, so that a hung store fails its subtest
// instead of the whole test binary. The bound is generous: no assertion depends on
// it, and a store whose Get costs one request per key (an HTTP API) makes 10,000
// requests for the large batch, which takes tens of seconds with -race on a busy
// machine.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// get reads keys and fails the test on error or on a result count mismatch.
func get(t *testing.T, s kvcache.Store, keys ...string) []kvcache.Result {
	t.Helper()
	res, err := s.Get(ctxT(t), keys)
	require.NoError(t, err, "Get")
	require.Len(t, res, len(keys), "Get must return one result per key")
	return res
}

func set(t *testing.T, s kvcache.Store, entries ...kvcache.Entry) {
	t.Helper()
	require.NoError(t, s.Set(ctxT(t), entries), "Set")
}

func requireFound(t *testing.T, r kvcache.Result, want string, msgAndArgs ...any) {
	t.Helper()
	require.True(t, r.Found, msgAndArgs...)
	require.Equal(t, want, string(r.Value), msgAndArgs...)
}

func testEmptyCalls(t *testing.T, s kvcache.Store, _ string) {
	ctx := ctxT(t)
	for _, keys := range [][]string{nil, {}} {
		res, err := s.Get(ctx, keys)
		require.NoError(t, err)
		require.Empty(t, res)
		require.NoError(t, s.Delete(ctx, keys))
	}
	require.NoError(t, s.Set(ctx, nil))
	require.NoError(t, s.Set(ctx, []kvcache.Entry{}))
}

func testGetOrder(t *testing.T, s kvcache.Store, p string) {
	set(t, s,
		kvcache.Entry{Key: p + "a", Value: []byte("va")},
		kvcache.Entry{Key: p + "c", Value: []byte("vc")},
	)
	res := get(t, s, p+"missing1", p+"a", p+"b", p+"c", p+"a", p+"missing2")
	require.False(t, res[0].Found, "missing1")
	requireFound(t, res[1], "va", "a")
	require.False(t, res[2].Found, "b")
	requireFound(t, res[3], "vc", "c")
	requireFound(t, res[4], "va", "a repeated")
	require.False(t, res[5].Found, "missing2")

	// Only misses.
	res = get(t, s, p+"x", p+"y")
	require.False(t, res[0].Found)
	require.False(t, res[1].Found)
}

func testSetOverwrites(t *testing.T, s kvcache.Store, p string) {
	set(t, s, kvcache.Entry{Key: p + "k", Value: []byte("v1")})
	set(t, s, kvcache.Entry{Key: p + "k", Value: []byte("version-2")})
	requireFound(t, get(t, s, p+"k")[0], "version-2")
	set(t, s, kvcache.Entry{Key: p + "k", Value: []byte("3")})
	requireFound(t, get(t, s, p+"k")[0], "3")
}

func testSetWithTTL(t *testing.T, s kvcache.Store, p string, expiry bool) {
	set(t, s,
		kvcache.Entry{Key: p + "short", Value: []byte("s"), TTL: 300 * time.Millisecond},
		kvcache.Entry{Key: p + "long", Value: []byte("l"), TTL: time.Hour},
		kvcache.Entry{Key: p + "default", Value: []byte("d")},
	)
	res := get(t, s, p+"long", p+"default")
	requireFound(t, res[0], "l", "entry with a long TTL")
	requireFound(t, res[1], "d", "entry with the default TTL")
	if !expiry {
		return
	}
	require.Eventually(t, func() bool {
		return !get(t, s, p+"short")[0].Found
	}, 5*time.Second, 20*time.Millisecond, "an entry written with a 300ms TTL must expire")
	res = get(t, s, p+"long", p+"default")
	requireFound(t, res[0], "l", "entry with a long TTL after the short one expired")
	requireFound(t, res[1], "d", "entry with the default TTL after the short one expired")

	// Overwriting with a new TTL replaces the old one.
	set(t, s, kvcache.Entry{Key: p + "long", Value: []byte("l2"), TTL: 300 * time.Millisecond})
	require.Eventually(t, func() bool {
		return !get(t, s, p+"long")[0].Found
	}, 5*time.Second, 20*time.Millisecond, "an overwrite must apply its own TTL")
}

func testDelete(t *testing.T, s kvcache.Store, p string) {
	set(t, s,
		kvcache.Entry{Key: p + "a", Value: []byte("1")},
		kvcache.Entry{Key: p + "b", Value: []byte("2")},
		kvcache.Entry{Key: p + "c", Value: []byte("3")},
	)
	require.NoError(t, s.Delete(ctxT(t), []string{p + "a", p + "never-written", p + "c"}))
	res := get(t, s, p+"a", p+"b", p+"c")
	require.False(t, res[0].Found, "deleted a")
	requireFound(t, res[1], "2", "b was not deleted")
	require.False(t, res[2].Found, "deleted c")

	// Deleting again is not an error; writing again brings the key back.
	require.NoError(t, s.Delete(ctxT(t), []string{p + "a"}))
	set(t, s, kvcache.Entry{Key: p + "a", Value: []byte("again")})
	requireFound(t, get(t, s, p+"a")[0], "again")
}

func testBinary(t *testing.T, s kvcache.Store, p string, text bool) {
	keys := []string{p + "with space", p + "ütf-8 ✓", p + "a:b/c{d}", p + "line\nbreak"}
	vals := [][]byte{{0x00, 0xff, 0x00}, []byte("ünïcödé"), []byte(`{"json":true,"n":1}`), bytes.Repeat([]byte{0x80}, 33)}
	if text {
		vals[0], vals[3] = []byte("nul\x00 and \"quotes\" \\ <tags>"), []byte(strings.Repeat("€", 33))
	}
	entries := make([]kvcache.Entry, len(keys))
	for i := range keys {
		entries[i] = kvcache.Entry{Key: keys[i], Value: vals[i]}
	}
	set(t, s, entries...)
	res := get(t, s, keys...)
	for i := range keys {
		require.True(t, res[i].Found, "key %q", keys[i])
		require.Equal(t, vals[i], res[i].Value, "key %q", keys[i])
	}
}

func testValuesNotShared(t *testing.T, s kvcache.Store, p string) {
	buf := []byte("original")
	set(t, s, kvcache.Entry{Key: p + "k", Value: buf})
	copy(buf, "XXXXXXXX") // the caller reuses its buffer after Set
	got := get(t, s, p+"k")[0]
	requireFound(t, got, "original", "Set must not keep the caller's buffer")

	set(t, s, kvcache.Entry{Key: p + "k", Value: []byte("replaced")})
	require.Equal(t, "original", string(got.Value), "a later Set must not change a value returned earlier")
}

func largeValue(i int) []byte {
	// Distinct, checkable values of varying size (30 to 530 bytes).
	return []byte(fmt.Sprintf("value-%06d-%s", i, bytes.Repeat([]byte{'a' + byte(i%26)}, 17+(i*7)%500)))
}

func testLargeBatch(t *testing.T, s kvcache.Store, p string) {
	entries := make([]kvcache.Entry, LargeBatchSize)
	keys := make([]string, 0, 2*LargeBatchSize)
	for i := range entries {
		entries[i] = kvcache.Entry{Key: fmt.Sprintf("%skey-%06d", p, i), Value: largeValue(i), TTL: time.Hour}
		keys = append(keys, entries[i].Key, fmt.Sprintf("%smissing-%06d", p, i))
	}
	set(t, s, entries...)
	res := get(t, s, keys...)
	for i := range entries {
		found, missing := res[2*i], res[2*i+1]
		require.True(t, found.Found, "key %d", i)
		require.Equal(t, entries[i].Value, found.Value, "key %d", i)
		require.False(t, missing.Found, "missing key %d", i)
	}
	delKeys := make([]string, 0, LargeBatchSize/2)
	for i := 0; i < LargeBatchSize; i += 2 {
		delKeys = append(delKeys, entries[i].Key)
	}
	require.NoError(t, s.Delete(ctxT(t), delKeys))
	res = get(t, s, keys[:20]...)
	for i := 0; i < 10; i++ {
		require.Equal(t, i%2 == 1, res[2*i].Found, "key %d after deleting the even keys", i)
	}
}

func testLargeValue(t *testing.T, s kvcache.Store, p string, text bool) {
	v := make([]byte, LargeValueSize)
	for i := range v {
		v[i] = byte(i * 31)
		if text {
			v[i] = ' ' + byte(i*31)%95 // printable ASCII
		}
	}
	set(t, s, kvcache.Entry{Key: p + "big", Value: v})
	got := get(t, s, p+"big")[0]
	require.True(t, got.Found)
	require.True(t, bytes.Equal(v, got.Value), "large value read back differs")
}

func testConcurrent(t *testing.T, s kvcache.Store, p string) {
	const workers, rounds = 8, 50
	set(t, s, kvcache.Entry{Key: p + "shared", Value: []byte("shared")})
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			errs <- concurrentWorker(ctxT(t), s, p, w, rounds)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func concurrentWorker(ctx context.Context, s kvcache.Store, p string, w, rounds int) error {
	for r := range rounds {
		k := fmt.Sprintf("%sw%d-%d", p, w, r%5)
		v := fmt.Sprintf("w%d-r%d", w, r)
		if err := s.Set(ctx, []kvcache.Entry{{Key: k, Value: []byte(v), TTL: time.Hour}}); err != nil {
			return fmt.Errorf("worker %d round %d: Set: %w", w, r, err)
		}
		res, err := s.Get(ctx, []string{k, p + "shared"})
		if err != nil {
			return fmt.Errorf("worker %d round %d: Get: %w", w, r, err)
		}
		if len(res) != 2 || !res[0].Found || string(res[0].Value) != v || !res[1].Found || string(res[1].Value) != "shared" {
			return fmt.Errorf("worker %d round %d: read %+v after writing %q", w, r, res, v)
		}
		if r%3 == 0 {
			if err := s.Delete(ctx, []string{k}); err != nil {
				return fmt.Errorf("worker %d round %d: Delete: %w", w, r, err)
			}
		}
	}
	return nil
}

func testContextDone(t *testing.T, s kvcache.Store, p string) {
	set(t, s, kvcache.Entry{Key: p + "k", Value: []byte("v")})

	for _, c := range doneContexts(t) {
		want := c.ctx.Err()
		_, err := s.Get(c.ctx, []string{p + "k"})
		require.ErrorIs(t, err, want, "Get with a %s context", c.name)
		err = s.Set(c.ctx, []kvcache.Entry{{Key: p + "k", Value: []byte("changed")}})
		require.ErrorIs(t, err, want, "Set with a %s context", c.name)
		err = s.Delete(c.ctx, []string{p + "k"})
		require.ErrorIs(t, err, want, "Delete with a %s context", c.name)
	}
	// The failed calls changed nothing.
	requireFound(t, get(t, s, p+"k")[0], "v", "value after calls with done contexts")
}

type namedContext struct {
	name string
	ctx  context.Context
}

// doneContexts returns a cancelled context and one whose deadline has passed.
func doneContexts(t *testing.T) []namedContext {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	t.Cleanup(cancel2)
	return []namedContext{{"canceled", canceled}, {"deadline exceeded", expired}}
}
