package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"errors"
	"fmt"
	"hash/maphash"
	"unsafe"
)

// snapshot is one immutable load of the file. Readers get it through an atomic
// pointer; a reload builds a new one and swaps the pointer.
//
// It is laid out for tables of millions of entries (see docs/design.md, "memkv's
// file layer"): keys and values live side by side in a few large byte chunks (the
// arena), each entry is a 16-byte reference into it, and the index is an
// open-addressing table of 8-byte slots. Nothing in it holds a pointer per entry,
// so the garbage collector never walks the entries, and a load allocates a few
// dozen blocks instead of two per entry. Go's map[string][]byte would cost about
// 100 bytes per entry on top of the data and two allocations per entry.
type snapshot struct {
	chunks [][]byte
	refs   []entryRef // in load order
	// slots: 0 is empty; otherwise the upper 32 bits are the upper 32 bits of the
	// key's hash (so that most probes compare no key) and the lower 32 bits are the
	// index of the entry in refs plus 1. len(slots) is a power of two, at least
	// twice len(refs).
	slots []uint64
	seed  maphash.Seed
	bytes int64  // sum of len(key)+len(value)
	sum   uint64 // hash of the file's content, to skip reloads that change nothing
}

// entryRef locates one entry: its key is chunks[chunk][off:off+klen], its value
// follows the key.
type entryRef struct {
	chunk, off, klen, vlen uint32
}

var emptySnapshot = &snapshot{}

// len returns the number of entries.
func (s *snapshot) len() int { return len(s.refs) }

// key returns the key of entry i, as bytes of the arena (do not modify).
func (s *snapshot) key(i int) []byte {
	r := &s.refs[i]
	return s.chunks[r.chunk][r.off : r.off+r.klen : r.off+r.klen]
}

// value returns the value of entry i, as bytes of the arena (do not modify; the
// capacity ends with the value, so an append copies).
func (s *snapshot) value(i int) []byte {
	r := &s.refs[i]
	start := r.off + r.klen
	return s.chunks[r.chunk][start : start+r.vlen : start+r.vlen]
}

// get returns the value of key, as bytes of the arena.
func (s *snapshot) get(key string) ([]byte, bool) {
	i := s.find(key)
	if i < 0 {
		return nil, false
	}
	return s.value(i), true
}

// find returns the index of key's entry, or -1.
func (s *snapshot) find(key string) int {
	if len(s.refs) == 0 {
		return -1
	}
	h := maphash.String(s.seed, key)
	tag := h &^ (1<<32 - 1)
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		slot := s.slots[i]
		if slot == 0 {
			return -1
		}
		if slot&^(1<<32-1) == tag {
			e := int(uint32(slot)) - 1
			if string(s.key(e)) == key {
				return e
			}
		}
	}
}

// Sentinel errors of snapshotBuilder.add; the parsers add the position.
var (
	errEmptyKey       = errors.New("empty key")
	errDuplicateKey   = errors.New("duplicate key")
	errTooManyEntries = errors.New("more entries than max_entries")
	errTooManyBytes   = errors.New("more bytes of keys and values than max_bytes")
)

// Arena chunks start small (a file of ten entries costs little) and double up to
// maxChunk; an entry larger than a chunk gets a chunk of its own.
const (
	minChunk = 4 << 10
	maxChunk = 4 << 20
)

// snapshotBuilder builds a snapshot entry by entry, enforcing the bounds as it
// goes, so that a file over them stops loading at the entry that crosses them.
type snapshotBuilder struct {
	s          *snapshot
	cur        []byte // the last chunk, with room to append
	nextChunk  int
	maxEntries int
	maxBytes   int64
}

// newSnapshotBuilder returns a builder bounded by maxEntries and maxBytes, sized
// for about hint entries (the previous load's count: reloads rarely change it much).
func newSnapshotBuilder(maxEntries int, maxBytes int64, hint int) *snapshotBuilder {
	hint = min(hint, maxEntries)
	s := &snapshot{seed: maphash.MakeSeed()}
	s.refs = make([]entryRef, 0, hint)
	s.slots = make([]uint64, slotsFor(hint))
	return &snapshotBuilder{s: s, nextChunk: minChunk, maxEntries: maxEntries, maxBytes: maxBytes}
}

// slotsFor returns the table size for n entries: a power of two, at least 2n and 8.
func slotsFor(n int) int {
	size := 8
	for size < 2*n {
		size <<= 1
	}
	return size
}

// add adds the entry whose key is kv[:klen] and value kv[klen:], copying kv.
func (b *snapshotBuilder) add(kv []byte, klen int) error {
	if klen == 0 {
		return errEmptyKey
	}
	s := b.s
	if s.find(unsafeString(kv[:klen])) >= 0 {
		return errDuplicateKey
	}
	if len(s.refs) >= b.maxEntries {
		return fmt.Errorf("%w (%d)", errTooManyEntries, b.maxEntries)
	}
	if s.bytes+int64(len(kv)) > b.maxBytes {
		return fmt.Errorf("%w (%d)", errTooManyBytes, b.maxBytes)
	}
	if len(b.cur)+len(kv) > cap(b.cur) {
		size := b.nextChunk
		b.nextChunk = min(2*b.nextChunk, maxChunk)
		if len(kv) > size {
			size = len(kv)
		}
		b.cur = make([]byte, 0, size)
		s.chunks = append(s.chunks, nil)
	}
	off := len(b.cur)
	b.cur = append(b.cur, kv...)
	s.chunks[len(s.chunks)-1] = b.cur
	s.refs = append(s.refs, entryRef{
		chunk: uint32(len(s.chunks) - 1),
		off:   uint32(off),
		klen:  uint32(klen),
		vlen:  uint32(len(kv) - klen),
	})
	s.bytes += int64(len(kv))
	if 2*len(s.refs) > len(s.slots) {
		s.slots = make([]uint64, 2*len(s.slots))
		for i := range len(s.refs) - 1 {
			b.insert(i)
		}
	}
	b.insert(len(s.refs) - 1)
	return nil
}

// insert puts entry i into the table (which has room and does not hold its key).
func (b *snapshotBuilder) insert(i int) {
	s := b.s
	h := maphash.Bytes(s.seed, s.key(i))
	mask := uint64(len(s.slots) - 1)
	for j := h & mask; ; j = (j + 1) & mask {
		if s.slots[j] == 0 {
			s.slots[j] = h&^(1<<32-1) | uint64(i+1)
			return
		}
	}
}

// finish returns the snapshot, whose content hashes to sum.
func (b *snapshotBuilder) finish(sum uint64) *snapshot {
	b.s.sum = sum
	return b.s
}

// unsafeString views b as a string without copying; b must not change while the
// string is used.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
