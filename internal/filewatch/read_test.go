package filewatch

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(path, []byte("12345"), 0o600))
	b, err := ReadBounded(path, 5)
	require.NoError(t, err)
	assert.Equal(t, "12345", string(b))

	_, err = ReadBounded(path, 4)
	require.EqualError(t, err, path+" is larger than 4 bytes")

	_, err = ReadBounded(filepath.Join(t.TempDir(), "missing"), 4)
	require.ErrorIs(t, err, os.ErrNotExist)
}
