package kvcache_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
)

// roStore is a Store that declares itself read-only (or not, per flag).
type roStore struct {
	kvcache.Store
	readOnly bool
}

func (s roStore) ReadOnly() bool { return s.readOnly }

func TestIsReadOnly(t *testing.T) {
	mem := kvcachetest.NewMemoryStore()
	t.Cleanup(func() { _ = mem.Close(context.Background()) })

	assert.False(t, kvcache.IsReadOnly(mem), "a store without ReadOnly is writable")
	assert.False(t, kvcache.IsReadOnly(roStore{Store: mem, readOnly: false}), "ReadOnly() false is writable")
	assert.True(t, kvcache.IsReadOnly(roStore{Store: mem, readOnly: true}))
}

func TestCheckWritable(t *testing.T) {
	mem := kvcachetest.NewMemoryStore()
	t.Cleanup(func() { _ = mem.Close(context.Background()) })

	require.NoError(t, kvcache.CheckWritable(mem, storeID, ownerID))
	require.NoError(t, kvcache.CheckWritable(roStore{Store: mem}, storeID, ownerID))

	err := kvcache.CheckWritable(roStore{Store: mem, readOnly: true}, storeID, ownerID)
	require.Error(t, err)
	require.ErrorIs(t, err, kvcache.ErrReadOnly)
	assert.Contains(t, err.Error(), storeID.String(), "the error names the store")
	assert.Contains(t, err.Error(), ownerID.String(), "the error names the component that writes")
}
