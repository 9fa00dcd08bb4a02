package kvcache // import "github.com/otelcol-custom/otelcol-custom/extension/kvcache"

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
)

// ErrReadOnly is wrapped by every Set and Delete error of a read-only store, so a
// caller can tell "this store never accepts writes" from a failed write.
var ErrReadOnly = errors.New("read-only store")

// ReadOnly is optionally implemented by a Store that cannot be written (a lookup
// API, a file loaded at start). Such a store returns an error wrapping ErrReadOnly
// from every Set and Delete, and IsReadOnly reports it, so that a component whose
// config writes to the store can refuse to start instead of dropping every write.
type ReadOnly interface {
	ReadOnly() bool
}

// IsReadOnly reports whether s declares itself read-only (implements ReadOnly and
// returns true). Any other store is taken as writable.
func IsReadOnly(s Store) bool {
	ro, ok := s.(ReadOnly)
	return ok && ro.ReadOnly()
}

// CheckWritable returns an error naming both component IDs when s (the store of
// extension storeID) is read-only and owner's config writes to it; nil otherwise.
// Components call it at Start, right after GetStore, when their config has writes.
func CheckWritable(s Store, storeID, owner component.ID) error {
	if !IsReadOnly(s) {
		return nil
	}
	return fmt.Errorf("%s has writes, but store %q cannot be written (remove the writes, or name a writable store such as memkv or rediskv): %w",
		owner, storeID, ErrReadOnly)
}
