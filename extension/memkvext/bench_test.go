package memkvext

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
)

// BenchmarkGet1000 reads 1,000 keys (900 found, 100 missing) in one Get from
// memkv's written layer and file layer, side by side with the peers: the
// mutex-guarded map of kvcachetest.MemoryStore, and a bare Go map as the floor.
func BenchmarkGet1000(b *testing.B) {
	const stored, asked = 10_000, 1000
	keys := make([]string, asked)
	for i := range keys {
		keys[i] = fmt.Sprintf("service-%05d", (i*7919)%(stored+stored/9)) // ~10% beyond the stored keys
	}
	entries := make([]kvcache.Entry, stored)
	for i := range entries {
		entries[i] = kvcache.Entry{Key: fmt.Sprintf("service-%05d", i), Value: []byte(`{"team":"payments","tier":"1"}`)}
	}
	ctx := context.Background()

	run := func(b *testing.B, s kvcache.Store) {
		res, err := s.Get(ctx, keys)
		require.NoError(b, err)
		found := 0
		for _, r := range res {
			if r.Found {
				found++
			}
		}
		require.Greater(b, found, 800)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := s.Get(ctx, keys); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*asked), "ns/key")
	}

	b.Run("memkv/written", func(b *testing.B) {
		s := benchStore(b, "")
		require.NoError(b, s.Set(ctx, entries))
		run(b, s)
	})
	b.Run("memkv/file", func(b *testing.B) {
		var sb strings.Builder
		sb.WriteString("key,value\n")
		for _, e := range entries {
			fmt.Fprintf(&sb, "%s,\"%s\"\n", e.Key, strings.ReplaceAll(string(e.Value), `"`, `""`))
		}
		path := filepath.Join(b.TempDir(), "lookup.csv")
		require.NoError(b, os.WriteFile(path, []byte(sb.String()), 0o600))
		run(b, benchStore(b, path))
	})
	b.Run("peer=mutexmap", func(b *testing.B) {
		s := kvcachetest.NewMemoryStore()
		require.NoError(b, s.Set(ctx, entries))
		run(b, s)
	})
	b.Run("floor=gomap", func(b *testing.B) {
		m := make(map[string][]byte, stored)
		for _, e := range entries {
			m[e.Key] = e.Value
		}
		run(b, mapStore(m))
	})
}

func benchStore(b *testing.B, path string) *Store {
	cfg := NewDefaultConfig()
	cfg.File.Path = path
	cfg.File.Watch = false
	s, err := NewStore(cfg, componenttest.NewNopTelemetrySettings())
	require.NoError(b, err)
	require.NoError(b, s.Start(context.Background(), componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, s.Shutdown(context.Background())) })
	return s
}

// mapStore is the floor: a read-only map with no locking, expiry or bounds.
type mapStore map[string][]byte

func (m mapStore) Get(ctx context.Context, keys []string) ([]kvcache.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := make([]kvcache.Result, len(keys))
	for i, k := range keys {
		if v, ok := m[k]; ok {
			res[i] = kvcache.Result{Value: v, Found: true}
		}
	}
	return res, nil
}
func (mapStore) Set(context.Context, []kvcache.Entry) error { return nil }
func (mapStore) Delete(context.Context, []string) error     { return nil }
func (mapStore) Close(context.Context) error                { return nil }
