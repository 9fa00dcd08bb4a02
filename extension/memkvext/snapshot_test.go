package memkvext

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func buildSnapshot(t *testing.T, prev *snapshot, hint int, entries [][2]string) *snapshot {
	t.Helper()
	b := newSnapshotBuilder(math.MaxInt, math.MaxInt64, hint, prev)
	for _, e := range entries {
		require.NoError(t, b.add([]byte(e[0]+e[1]), len(e[0])))
	}
	return b.finish(0)
}

func numbered(n int, value func(i int) string) [][2]string {
	out := make([][2]string, n)
	for i := range out {
		out[i] = [2]string{fmt.Sprintf("key-%05d", i), value(i)}
	}
	return out
}

// chunkData is the address of each chunk's bytes, to tell shared chunks apart.
func chunkData(s *snapshot) map[*byte]bool {
	out := map[*byte]bool{}
	for _, c := range s.chunks {
		if c != nil {
			out[unsafe.SliceData(c)] = true
		}
	}
	return out
}

func TestSnapshotGrowsFromNoHint(t *testing.T) {
	entries := numbered(5000, func(i int) string { return strings.Repeat("v", i%300) })
	s := buildSnapshot(t, emptySnapshot, 0, entries)
	require.Equal(t, 5000, s.len())
	var size int64
	for _, e := range entries {
		v, ok := s.get(e[0])
		require.True(t, ok, e[0])
		require.Equal(t, e[1], string(v))
		require.Equal(t, len(v), cap(v), "a value's capacity ends with it")
		size += int64(len(e[0]) + len(e[1]))
	}
	assert.Equal(t, size, s.bytes)
	_, ok := s.get("key-99999")
	assert.False(t, ok)
	assert.Len(t, snapshotMap(s), 5000, "all yields every entry once")
	assert.GreaterOrEqual(t, len(s.slots), 2*s.len())
}

func TestSnapshotBuilderRejects(t *testing.T) {
	b := newSnapshotBuilder(2, 10, 0, emptySnapshot)
	require.ErrorIs(t, b.add([]byte("v"), 0), errEmptyKey)
	require.NoError(t, b.add([]byte("ab"), 1))
	require.ErrorIs(t, b.add([]byte("ac"), 1), errDuplicateKey)
	require.ErrorIs(t, b.add([]byte("b123456789"), 1), errTooManyBytes)
	require.NoError(t, b.add([]byte("b1"), 1))
	require.ErrorIs(t, b.add([]byte("c1"), 1), errTooManyEntries)
}

func TestSnapshotEntryLargerThanAChunk(t *testing.T) {
	big := strings.Repeat("x", maxChunk+10)
	s := buildSnapshot(t, emptySnapshot, 0, [][2]string{{"a", "1"}, {"big", big}, {"b", "2"}})
	v, ok := s.get("big")
	require.True(t, ok)
	require.Equal(t, big, string(v))
	v, _ = s.get("b")
	require.Equal(t, "2", string(v))
}

func TestSnapshotSharesUnchangedEntries(t *testing.T) {
	prev := buildSnapshot(t, emptySnapshot, 0, numbered(20000, func(i int) string { return fmt.Sprintf("value-%d", i) }))
	next := numbered(20000, func(i int) string { return fmt.Sprintf("value-%d", i) })
	next[7][1] = "changed"
	next = append(next[:8], next[9:]...) // key-00008 removed
	next = append(next, [2]string{"new", "added"})
	cur := buildSnapshot(t, prev, prev.len(), next)

	want := map[string]string{}
	for _, e := range next {
		want[e[0]] = e[1]
	}
	require.Equal(t, want, snapshotMap(cur))
	_, ok := cur.get("key-00008")
	assert.False(t, ok)

	// Every chunk of prev is shared (each is mostly unchanged); cur's own chunks
	// hold the two new entries only.
	prevChunks, curChunks := chunkData(prev), chunkData(cur)
	own := 0
	for c := range curChunks {
		if !prevChunks[c] {
			own++
		}
	}
	for c := range prevChunks {
		assert.True(t, curChunks[c], "an unchanged chunk is shared")
	}
	assert.Equal(t, 1, own)
	require.Equal(t, "value-1", string(must(prev.get("key-00001"))), "prev is left as it was")
	require.Equal(t, "value-7", string(must(prev.get("key-00007"))))
}

func TestSnapshotCopiesSparseSharedChunks(t *testing.T) {
	prev := buildSnapshot(t, emptySnapshot, 0, numbered(20000, func(i int) string { return fmt.Sprintf("value-%d", i) }))
	// Keep one entry in ten: every shared chunk would be 10% live.
	var next [][2]string
	for _, e := range numbered(20000, func(i int) string { return fmt.Sprintf("value-%d", i) }) {
		if e[0][len(e[0])-1] == '0' {
			next = append(next, e)
		}
	}
	cur := buildSnapshot(t, prev, prev.len(), next)
	want := map[string]string{}
	for _, e := range next {
		want[e[0]] = e[1]
	}
	require.Equal(t, want, snapshotMap(cur))
	prevChunks := chunkData(prev)
	for c := range chunkData(cur) {
		assert.False(t, prevChunks[c], "a chunk less than half live is not kept")
	}
}

func must(v []byte, ok bool) []byte {
	if !ok {
		return nil
	}
	return v
}
