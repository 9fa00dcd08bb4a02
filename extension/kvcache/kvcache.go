// Package kvcache is the key-value capability that processors use to look values
// up and write them back without knowing which database is underneath. It is shaped
// like upstream extensionauth: a small interface that provider extensions implement,
// and a helper that finds the provider a component names in its config.
//
// Every call is batch-shaped: one call is one round trip to the backing store, however
// many keys it carries.
package kvcache // import "github.com/otelcol-custom/otelcol-custom/extension/kvcache"

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// Result is the outcome of looking up one key.
type Result struct {
	Value []byte
	Found bool
}

// Entry is one key-value pair to write. A TTL of zero means the store's default
// (which may be "never expires").
type Entry struct {
	Key   string
	Value []byte
	TTL   time.Duration
}

// Store is a batch-shaped key-value store. Implementations are safe for concurrent
// use. A returned error applies to the whole call; keys that simply do not exist are
// not errors (Found is false). Callers must not modify returned Value slices.
//
// The conformance suite in package kvcachetest (RunStoreTests) checks the rest of
// the contract, which every implementation keeps:
//   - empty key or entry lists are valid and cost no round trip;
//   - a call whose context is already done fails with an error wrapping ctx.Err();
//   - Set does not keep entry.Value after it returns (callers may reuse buffers),
//     and a later Set does not change a Value returned earlier.
type Store interface {
	// Get looks up all keys in one round trip; results[i] belongs to keys[i].
	Get(ctx context.Context, keys []string) ([]Result, error)
	// Set writes all entries, each with its own TTL.
	Set(ctx context.Context, entries []Entry) error
	// Delete removes the keys; missing keys are not an error.
	Delete(ctx context.Context, keys []string) error
	// Close releases what the store holds for its caller.
	Close(ctx context.Context) error
}

// Invalidator is optionally implemented by a Store whose values can change behind
// the caller's back (Redis with server-assisted client-side caching, a reloaded file).
// fn is called with the (unprefixed) keys that changed; nil keys mean "everything".
// fn must not block. The returned function unsubscribes.
type Invalidator interface {
	OnInvalidate(fn func(keys []string)) (unsubscribe func())
}

// Provider is implemented by extensions that provide a Store.
type Provider interface {
	extension.Extension
	// Store returns a store for the component `owner`. Providers may namespace
	// keys by owner or share one keyspace; their README says which.
	Store(ctx context.Context, owner component.ID) (Store, error)
}

// GetStore finds the extension `id` among the host's extensions and returns its
// Store for `owner`. The error names the extension ID when it is missing or is
// neither a Provider nor an upstream storage extension.
//
// A Provider is asked for its Store. Otherwise, an upstream storage.Extension (such
// as contrib's file_storage) is asked for a client with kind component.KindProcessor,
// id `owner` and name StorageName, and the client is adapted with NewStorageStore
// (which ignores TTLs; see there). The caller closes the returned Store.
func GetStore(ctx context.Context, host component.Host, id component.ID, owner component.ID) (Store, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("kvcache store extension %q not found", id)
	}
	switch e := ext.(type) {
	case Provider:
		return e.Store(ctx, owner)
	case storage.Extension:
		client, err := e.GetClient(ctx, component.KindProcessor, owner, StorageName)
		if err != nil {
			return nil, fmt.Errorf("storage extension %q: get client: %w", id, err)
		}
		return NewStorageStore(client), nil
	default:
		return nil, fmt.Errorf("extension %q is neither a kvcache store provider nor a storage extension", id)
	}
}
