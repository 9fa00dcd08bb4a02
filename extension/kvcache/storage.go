package kvcache // import "github.com/otelcol-custom/otelcol-custom/extension/kvcache"

import (
	"context"

	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// StorageName is the storage name under which GetStore asks an upstream
// storage.Extension for a client (the "name" argument of GetClient).
const StorageName = "kvcache"

// NewStorageStore adapts a client of any upstream storage extension (for example
// contrib's file_storage) to a Store. Each Get, Set and Delete is one Batch call on
// the client, so it is one transaction in stores that have them.
//
// The storage API has no expiry: Entry.TTL is ignored and entries stay until they
// are deleted or overwritten. With this adapter, the only TTL that applies is the
// one of the processor's local cache in front of it. The storage API also cannot
// tell an empty value from a missing one: a key stored with an empty value may read
// back as not found.
//
// Close closes the client.
func NewStorageStore(client storage.Client) Store {
	return &storageStore{client: client}
}

type storageStore struct {
	client storage.Client
}

var _ Store = (*storageStore)(nil)

func (s *storageStore) Get(ctx context.Context, keys []string) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return []Result{}, nil
	}
	// One backing array for all operations: one allocation instead of one per key.
	backing := make([]storage.Operation, len(keys))
	ops := make([]*storage.Operation, len(keys))
	for i, k := range keys {
		backing[i] = storage.Operation{Key: k, Type: storage.Get}
		ops[i] = &backing[i]
	}
	if err := s.client.Batch(ctx, ops...); err != nil {
		return nil, err
	}
	results := make([]Result, len(keys))
	for i, op := range ops {
		// The storage API reports "not found" as a nil value.
		results[i] = Result{Value: op.Value, Found: op.Value != nil}
	}
	return results, nil
}

func (s *storageStore) Set(ctx context.Context, entries []Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	ops := make([]*storage.Operation, len(entries))
	for i, e := range entries {
		v := e.Value
		if v == nil {
			// A nil value would read back as "not found"; store it as empty instead.
			v = []byte{}
		}
		ops[i] = storage.SetOperation(e.Key, v)
	}
	return s.client.Batch(ctx, ops...)
}

func (s *storageStore) Delete(ctx context.Context, keys []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	ops := make([]*storage.Operation, len(keys))
	for i, k := range keys {
		ops[i] = storage.DeleteOperation(k)
	}
	return s.client.Batch(ctx, ops...)
}

func (s *storageStore) Close(ctx context.Context) error {
	return s.client.Close(ctx)
}
