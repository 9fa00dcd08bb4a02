package kvcache_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/goleak"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	storeID = component.MustNewIDWithName("memkv", "store")
	ownerID = component.MustNewIDWithName("kvcache", "enrich")
)

// memClient is a minimal in-memory storage.Client: a map behind a mutex, counting
// Batch calls so the tests can check one round trip per Store call.
type memClient struct {
	mu      sync.Mutex
	data    map[string][]byte
	batches atomic.Int64
	closed  atomic.Bool
	err     error
}

func newMemClient() *memClient { return &memClient{data: map[string][]byte{}} }

func (c *memClient) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	err := c.Batch(ctx, op)
	return op.Value, err
}

func (c *memClient) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, storage.SetOperation(key, value))
}

func (c *memClient) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, storage.DeleteOperation(key))
}

func (c *memClient) Batch(_ context.Context, ops ...*storage.Operation) error {
	c.batches.Add(1)
	if c.err != nil {
		return c.err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			if v, ok := c.data[op.Key]; ok {
				op.Value = slices.Clone(v)
			} else {
				op.Value = nil
			}
		case storage.Set:
			c.data[op.Key] = slices.Clone(op.Value)
		case storage.Delete:
			delete(c.data, op.Key)
		}
	}
	return nil
}

func (c *memClient) Close(context.Context) error {
	c.closed.Store(true)
	return nil
}

// storageExt is a storage.Extension handing out one memClient, recording the
// GetClient arguments.
type storageExt struct {
	component.StartFunc
	component.ShutdownFunc
	client *memClient
	err    error

	mu                 sync.Mutex
	gotKind            component.Kind
	gotID              component.ID
	gotName            string
	getClientCallCount int
}

func (e *storageExt) GetClient(_ context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gotKind, e.gotID, e.gotName = kind, id, name
	e.getClientCallCount++
	if e.err != nil {
		return nil, e.err
	}
	return e.client, nil
}

// provider is a kvcache.Provider over a MemoryStore.
type provider struct {
	component.StartFunc
	component.ShutdownFunc
	store    *kvcachetest.MemoryStore
	gotOwner component.ID
}

func (p *provider) Store(_ context.Context, owner component.ID) (kvcache.Store, error) {
	p.gotOwner = owner
	return p.store, nil
}

// both is a Provider that is also a storage.Extension: the Provider wins.
type both struct {
	provider
	storageExt
}

var _ extension.Extension = (*both)(nil)

func (b *both) Start(ctx context.Context, host component.Host) error {
	return b.provider.Start(ctx, host)
}

func (b *both) Shutdown(ctx context.Context) error { return b.provider.Shutdown(ctx) }

func TestGetStore(t *testing.T) {
	ctx := context.Background()
	mem := kvcachetest.NewMemoryStore()

	t.Run("missing extension", func(t *testing.T) {
		_, err := kvcache.GetStore(ctx, kvcachetest.NewHost(nil), storeID, ownerID)
		require.ErrorContains(t, err, `"memkv/store" not found`)
	})

	t.Run("not a provider", func(t *testing.T) {
		var notKV struct {
			component.StartFunc
			component.ShutdownFunc
		}
		host := kvcachetest.NewHost(map[component.ID]component.Component{storeID: notKV})
		_, err := kvcache.GetStore(ctx, host, storeID, ownerID)
		require.ErrorContains(t, err, `"memkv/store" is neither a kvcache store provider nor a storage extension`)
	})

	t.Run("provider", func(t *testing.T) {
		p := &provider{store: mem}
		host := kvcachetest.NewHost(map[component.ID]component.Component{storeID: p})
		s, err := kvcache.GetStore(ctx, host, storeID, ownerID)
		require.NoError(t, err)
		require.Same(t, mem, s)
		require.Equal(t, ownerID, p.gotOwner)
	})

	t.Run("storage extension", func(t *testing.T) {
		ext := &storageExt{client: newMemClient()}
		host := kvcachetest.NewHost(map[component.ID]component.Component{storeID: ext})
		s, err := kvcache.GetStore(ctx, host, storeID, ownerID)
		require.NoError(t, err)
		require.Equal(t, component.KindProcessor, ext.gotKind)
		require.Equal(t, ownerID, ext.gotID)
		require.Equal(t, kvcache.StorageName, ext.gotName)

		require.NoError(t, s.Set(ctx, []kvcache.Entry{{Key: "k", Value: []byte("v")}}))
		res, err := s.Get(ctx, []string{"k", "nope"})
		require.NoError(t, err)
		require.Equal(t, []kvcache.Result{{Value: []byte("v"), Found: true}, {}}, res)
		require.NoError(t, s.Close(ctx))
		require.True(t, ext.client.closed.Load(), "closing the store closes the storage client")
	})

	t.Run("storage extension GetClient fails", func(t *testing.T) {
		ext := &storageExt{err: errors.New("disk on fire")}
		host := kvcachetest.NewHost(map[component.ID]component.Component{storeID: ext})
		_, err := kvcache.GetStore(ctx, host, storeID, ownerID)
		require.ErrorContains(t, err, `storage extension "memkv/store"`)
		require.ErrorContains(t, err, "disk on fire")
	})

	t.Run("provider wins over storage", func(t *testing.T) {
		b := &both{provider: provider{store: mem}, storageExt: storageExt{client: newMemClient()}}
		host := kvcachetest.NewHost(map[component.ID]component.Component{storeID: b})
		s, err := kvcache.GetStore(ctx, host, storeID, ownerID)
		require.NoError(t, err)
		require.Same(t, mem, s)
		require.Zero(t, b.storageExt.getClientCallCount)
	})
}

func TestStorageStoreOneBatchPerCall(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	s := kvcache.NewStorageStore(c)
	entries := make([]kvcache.Entry, 100)
	keys := make([]string, 100)
	for i := range entries {
		keys[i] = string(rune('a'+i%26)) + string(rune('0'+i/26))
		entries[i] = kvcache.Entry{Key: keys[i], Value: []byte(keys[i])}
	}
	require.NoError(t, s.Set(ctx, entries))
	require.EqualValues(t, 1, c.batches.Load())
	_, err := s.Get(ctx, keys)
	require.NoError(t, err)
	require.EqualValues(t, 2, c.batches.Load())
	require.NoError(t, s.Delete(ctx, keys))
	require.EqualValues(t, 3, c.batches.Load())

	// Empty calls cost no round trip.
	_, err = s.Get(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, s.Set(ctx, nil))
	require.NoError(t, s.Delete(ctx, nil))
	require.EqualValues(t, 3, c.batches.Load())
}

func TestStorageStoreErrors(t *testing.T) {
	ctx := context.Background()
	c := newMemClient()
	c.err = errors.New("batch failed")
	s := kvcache.NewStorageStore(c)
	_, err := s.Get(ctx, []string{"a"})
	require.ErrorIs(t, err, c.err)
	require.ErrorIs(t, s.Set(ctx, []kvcache.Entry{{Key: "a"}}), c.err)
	require.ErrorIs(t, s.Delete(ctx, []string{"a"}), c.err)
}

func TestStorageStoreNilValueIsFound(t *testing.T) {
	ctx := context.Background()
	s := kvcache.NewStorageStore(newMemClient())
	require.NoError(t, s.Set(ctx, []kvcache.Entry{{Key: "empty"}}))
	res, err := s.Get(ctx, []string{"empty"})
	require.NoError(t, err)
	require.True(t, res[0].Found, "a nil value is written as an empty one, not lost")
	require.Empty(t, res[0].Value)
}

func TestConformanceMemoryStore(t *testing.T) {
	kvcachetest.RunStoreTests(t, func(*testing.T) kvcache.Store {
		return kvcachetest.NewMemoryStore()
	})
}

func TestConformanceStorageAdapterInMemory(t *testing.T) {
	kvcachetest.RunStoreTests(t, func(*testing.T) kvcache.Store {
		return kvcache.NewStorageStore(newMemClient())
	}, kvcachetest.WithoutExpiry())
}

// TestConformanceStorageAdapterFileStorage runs the suite through GetStore against
// contrib's file_storage extension (bbolt on disk), as a collector would.
func TestConformanceStorageAdapterFileStorage(t *testing.T) {
	kvcachetest.RunStoreTests(t, func(t *testing.T) kvcache.Store {
		f := filestorage.NewFactory()
		cfg := f.CreateDefaultConfig().(*filestorage.Config)
		cfg.Directory = t.TempDir()
		ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
		require.NoError(t, err)
		host := kvcachetest.NewHost(map[component.ID]component.Component{storeID: ext})
		require.NoError(t, ext.Start(context.Background(), host))
		t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
		s, err := kvcache.GetStore(context.Background(), host, storeID, ownerID)
		require.NoError(t, err)
		return s
	}, kvcachetest.WithoutExpiry())
}
