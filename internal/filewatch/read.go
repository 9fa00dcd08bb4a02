package filewatch // import "github.com/otelcol-custom/otelcol-custom/internal/filewatch"

import (
	"fmt"
	"io"
	"os"
)

// ReadBounded reads the file at path, refusing one larger than limit bytes,
// so that a watched file replaced by something huge cannot exhaust memory.
// Errors name the path, never the content.
func ReadBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
