package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binaries writes stand-ins for the two binaries (parseFlags checks that they exist).
func binaries(t *testing.T) []string {
	dir := t.TempDir()
	ours, peer := filepath.Join(dir, "ours"), filepath.Join(dir, "peer")
	for _, p := range []string{ours, peer} {
		require.NoError(t, os.WriteFile(p, nil, 0o700))
	}
	return []string{"-collector", ours, "-peer", peer}
}

func TestParsePair(t *testing.T) {
	o, err := parseFlags(append(binaries(t), "-pair", "bearerauth+kvcache, contrib", "-pair-cpus", "1,0"), io.Discard)
	require.NoError(t, err)
	require.Len(t, o.pair, 2)
	assert.Equal(t, "bearerauth+kvcache", o.pair[0].name)
	assert.Equal(t, "contrib", o.pair[1].name)
	assert.Equal(t, [2]string{"1", "0"}, o.pairCPUs)
	assert.Equal(t, o.pair, o.rows, "the pair's rows are the ones checked and validated")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-pair", "contrib"}, "-pair wants two rows"},
		{[]string{"-pair", "contrib,floor,plain"}, "-pair wants two rows"},
		{[]string{"-pair", "contrib,floor", "-pair-cpus", "0"}, "-pair wants two rows (a,b) and -pair-cpus two CPUs"},
		{[]string{"-pair", "contrib,nope"}, `-pair: unknown row "nope"`},
	} {
		_, err := parseFlags(append(binaries(t), tc.args...), io.Discard)
		assert.ErrorContains(t, err, tc.want, tc.args)
	}
}

func TestPairRatio(t *testing.T) {
	assert.InDelta(t, 1.25, pairRatio(0.5, 0.4), 1e-9)
	assert.Zero(t, pairRatio(1, 0), "an empty window gives no ratio, not +Inf")
}
