package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"unsafe"
)

// snapshot is one immutable load of the file. Readers get it through an atomic
// pointer; a reload builds a new one and swaps the pointer.
//
// It is laid out for tables of millions of entries (see docs/design.md, "memkv's
// file layer"): each entry is its key and value lengths (uvarints), its key and its
// value, side by side in a few large byte chunks (the arena); the index is an
// open-addressing table of 8-byte slots, each holding 16 bits of the key's hash
// (so that most probes compare no key) and the entry's place in the arena. Nothing
// holds a pointer per entry, so the garbage collector never walks the entries, and
// a load allocates a few dozen blocks instead of two per entry. Go's
// map[string][]byte costs about 100 bytes per entry on top of the data.
type snapshot struct {
	chunks [][]byte
	// slots: 0 is empty, otherwise tag<<tagShift | (chunk<<chunkShift | offset) + 1.
	// len(slots) is a power of two, at least twice n.
	slots []uint64
	n     int
	seed  maphash.Seed
	bytes int64  // sum of len(key)+len(value)
	sum   uint64 // hash of the file's content, to skip reloads that change nothing
}

const (
	tagShift   = 48
	posMask    = 1<<tagShift - 1
	chunkShift = 22 // offsets in a chunk are below maxChunk
	minChunk   = 4 << 10
	// maxChunk bounds the chunks that hold several entries: chunks start small (a
	// file of ten entries costs little) and double up to it; an entry larger than a
	// chunk gets a chunk of its own, at offset 0.
	maxChunk = 1 << chunkShift
)

var emptySnapshot = &snapshot{}

// len returns the number of entries.
func (s *snapshot) len() int { return s.n }

// entry returns the key and value the slot points to, as bytes of the arena (do
// not modify; each capacity ends with its slice, so an append copies).
func (s *snapshot) entry(slot uint64) (key, value []byte) {
	pos := slot&posMask - 1
	c := s.chunks[pos>>chunkShift][pos&(maxChunk-1):]
	var klen, vlen, k uint64
	if c[0] < 0x80 && c[1] < 0x80 { // both lengths below 128: one byte each
		klen, vlen, k = uint64(c[0]), uint64(c[1]), 2
	} else {
		var n1, n2 int
		klen, n1 = binary.Uvarint(c)
		vlen, n2 = binary.Uvarint(c[n1:])
		k = uint64(n1 + n2)
	}
	return c[k : k+klen : k+klen], c[k+klen : k+klen+vlen : k+klen+vlen]
}

// all yields every entry (in no particular order).
func (s *snapshot) all() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for _, slot := range s.slots {
			if slot != 0 {
				if k, v := s.entry(slot); !yield(k, v) {
					return
				}
			}
		}
	}
}

// get returns the value of key, as bytes of the arena.
func (s *snapshot) get(key string) ([]byte, bool) {
	if s.n == 0 {
		return nil, false
	}
	i := s.find(key, maphash.String(s.seed, key))
	if i < 0 {
		return nil, false
	}
	_, v := s.entry(s.slots[i])
	return v, true
}

// find returns the index of key's slot (h is its hash), or -1.
func (s *snapshot) find(key string, h uint64) int {
	if s.n == 0 {
		return -1
	}
	tag := h >> tagShift << tagShift
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		slot := s.slots[i]
		if slot == 0 {
			return -1
		}
		if slot&^posMask == tag {
			if k, _ := s.entry(slot); string(k) == key {
				return int(i)
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

// snapshotBuilder builds a snapshot entry by entry, enforcing the bounds as it
// goes, so that a file over them stops loading at the entry that crosses them.
//
// An entry whose key and value are those of an entry of the previous snapshot
// shares that entry's bytes instead of copying them, so that a reload that
// changes a few rows of a large file allocates little more than the index. So
// that shared chunks do not keep ever more dead bytes alive over many reloads,
// finish copies the entries of a shared chunk that is less than half used.
type snapshotBuilder struct {
	s          *snapshot
	cur        []byte // the last chunk of the snapshot's own, with room to append
	curIdx     int    // its index in s.chunks
	nextChunk  int
	maxEntries int
	maxBytes   int64
	scratch    []byte

	prev *snapshot
	// shared[i] is the index in s.chunks of prev's chunk i, or -1.
	shared []int32
	// used[i] is the bytes of entries in s.chunks[i], for the chunks shared with prev.
	used map[int]int
}

// newSnapshotBuilder returns a builder bounded by maxEntries and maxBytes, sized
// for about hint entries, that shares bytes with prev (which may be empty).
func newSnapshotBuilder(maxEntries int, maxBytes int64, hint int, prev *snapshot) *snapshotBuilder {
	hint = max(min(hint, maxEntries), 0)
	s := &snapshot{seed: maphash.MakeSeed(), slots: make([]uint64, slotsFor(hint))}
	b := &snapshotBuilder{s: s, nextChunk: minChunk, maxEntries: maxEntries, maxBytes: maxBytes, prev: prev}
	if prev.len() > 0 {
		b.shared = make([]int32, len(prev.chunks))
		for i := range b.shared {
			b.shared[i] = -1
		}
		b.used = map[int]int{}
	}
	return b
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
	key, value := unsafeString(kv[:klen]), kv[klen:]
	h := maphash.String(s.seed, key)
	if s.find(key, h) >= 0 {
		return errDuplicateKey
	}
	if s.n >= b.maxEntries {
		return fmt.Errorf("%w (%d)", errTooManyEntries, b.maxEntries)
	}
	if s.bytes+int64(len(kv)) > b.maxBytes {
		return fmt.Errorf("%w (%d)", errTooManyBytes, b.maxBytes)
	}
	pos, ok := b.share(key, value)
	if !ok {
		pos = b.copy(key, value)
	}
	s.n++
	s.bytes += int64(len(kv))
	if 2*s.n > len(s.slots) {
		old := s.slots
		s.slots = make([]uint64, 2*len(old))
		for _, slot := range old {
			if slot != 0 {
				k, _ := s.entry(slot)
				b.insert(maphash.Bytes(s.seed, k), slot&posMask)
			}
		}
	}
	b.insert(h, pos)
	return nil
}

// insert puts the entry at pos+1 into the table (which has room and does not hold
// its key); h is the hash of its key.
func (b *snapshotBuilder) insert(h, pos uint64) {
	s := b.s
	mask := uint64(len(s.slots) - 1)
	for j := h & mask; ; j = (j + 1) & mask {
		if s.slots[j] == 0 {
			s.slots[j] = h>>tagShift<<tagShift | pos
			return
		}
	}
}

// share returns the place (plus 1) of prev's bytes of the same entry, if prev has it.
func (b *snapshotBuilder) share(key string, value []byte) (uint64, bool) {
	if b.shared == nil {
		return 0, false
	}
	p := b.prev
	i := p.find(key, maphash.String(p.seed, key))
	if i < 0 {
		return 0, false
	}
	if _, v := p.entry(p.slots[i]); !bytes.Equal(v, value) {
		return 0, false
	}
	pos := p.slots[i]&posMask - 1
	pc := pos >> chunkShift
	c := b.shared[pc]
	if c < 0 {
		c = int32(len(b.s.chunks))
		b.s.chunks = append(b.s.chunks, p.chunks[pc])
		b.shared[pc] = c
	}
	b.used[int(c)] += entrySize(len(key), len(value))
	return uint64(c)<<chunkShift | pos&(maxChunk-1) + 1, true
}

func entrySize(klen, vlen int) int {
	var tmp [binary.MaxVarintLen64]byte
	return binary.PutUvarint(tmp[:], uint64(klen)) + binary.PutUvarint(tmp[:], uint64(vlen)) + klen + vlen
}

// copy appends the entry to the arena and returns its place plus 1.
func (b *snapshotBuilder) copy(key string, value []byte) uint64 {
	e := binary.AppendUvarint(b.scratch[:0], uint64(len(key)))
	e = binary.AppendUvarint(e, uint64(len(value)))
	e = append(append(e, key...), value...)
	b.scratch = e
	s := b.s
	if len(b.cur)+len(e) > cap(b.cur) {
		size := b.nextChunk
		b.nextChunk = min(2*b.nextChunk, maxChunk)
		if len(e) > size {
			size = len(e)
		}
		b.cur = make([]byte, 0, size)
		b.curIdx = len(s.chunks)
		s.chunks = append(s.chunks, nil)
	}
	off := len(b.cur)
	b.cur = append(b.cur, e...)
	s.chunks[b.curIdx] = b.cur
	return uint64(b.curIdx)<<chunkShift | uint64(off) + 1
}

// finish returns the snapshot, whose content hashes to sum. The entries of shared
// chunks less than half used are copied first, so that at least half of every
// shared chunk is live.
func (b *snapshotBuilder) finish(sum uint64) *snapshot {
	s := b.s
	s.sum = sum
	sparse := map[uint64]bool{}
	for c, used := range b.used {
		if 2*used < cap(s.chunks[c]) {
			sparse[uint64(c)] = true
		}
	}
	if len(sparse) > 0 {
		for i, slot := range s.slots {
			if slot != 0 && sparse[(slot&posMask-1)>>chunkShift] {
				k, v := s.entry(slot)
				s.slots[i] = slot&^posMask | b.copy(unsafeString(k), v)
			}
		}
		for c := range sparse {
			s.chunks[c] = nil
		}
	}
	b.prev, b.shared, b.used = nil, nil, nil
	return s
}

// unsafeString views b as a string without copying; b must not change while the
// string is used.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
