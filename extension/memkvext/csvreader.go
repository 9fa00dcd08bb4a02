package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"unsafe"
)

// csvReader reads RFC 4180 records as encoding/csv does with its defaults (comma
// separated, no comments, strict quotes, every record as long as the first, CRLF
// read as LF, blank lines skipped), and fails with encoding/csv's own ParseError.
//
// It is hand-written because encoding/csv returns every record as a new string
// (one allocation per row, even with ReuseRecord): for a 1,000,000-row table that
// is about 48 MiB of garbage per load, which the garbage collector leaves in the
// heap until its next cycle and which made up most of the memory a reload adds
// (docs/benchmarks.md). Here the cells of a record are views of one reused
// buffer, valid until the next read.
type csvReader struct {
	r      *bufio.Reader
	line   int    // lines read so far
	raw    []byte // a line longer than the bufio buffer
	buf    []byte // the current record's cells, one after the other
	ends   []int  // where each cell ends in buf
	lines  []int  // the line each cell starts on
	cells  []string
	fields int // cells per record: the first record's
}

func newCSVReader(r *bufio.Reader) *csvReader {
	return &csvReader{r: r, fields: -1}
}

// readLine returns the next line with its line end as "\n" (also at the end of a
// file that has none), or io.EOF.
func (c *csvReader) readLine() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		c.raw = append(c.raw[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = c.r.ReadSlice('\n')
			c.raw = append(c.raw, line...)
		}
		line = c.raw
	}
	if len(line) > 0 && errors.Is(err, io.EOF) {
		// The last line, without a line end: one trailing CR is dropped (as
		// encoding/csv does); a CR before it stays.
		c.line++
		if line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		c.raw = append(append(c.raw[:0], line...), '\n')
		return c.raw, nil
	}
	if err != nil {
		return nil, err
	}
	c.line++
	if n := len(line); n >= 2 && line[n-2] == '\r' {
		line[n-2] = '\n'
		line = line[:n-1]
	}
	return line, nil
}

// read returns the next record's cells (views of a buffer the next read reuses),
// or io.EOF.
func (c *csvReader) read() ([]string, error) {
	line, err := c.readLine()
	for err == nil && len(line) == 1 { // a blank line
		line, err = c.readLine()
	}
	if err != nil {
		return nil, err
	}
	start := c.line
	c.buf, c.ends, c.lines = c.buf[:0], c.ends[:0], c.lines[:0]
	col := 0 // offset of line[0] in its line, for error columns
	for {
		c.lines = append(c.lines, c.line)
		if line[0] != '"' {
			i := bytes.IndexAny(line, ",\n")
			cell := line[:i]
			if j := bytes.IndexByte(cell, '"'); j >= 0 {
				return nil, &csv.ParseError{StartLine: start, Line: c.line, Column: col + j + 1, Err: csv.ErrBareQuote}
			}
			c.buf = append(c.buf, cell...)
			c.ends = append(c.ends, len(c.buf))
			if line[i] == '\n' {
				break
			}
			line, col = line[i+1:], col+i+1
			continue
		}
		// A quoted cell, maybe over several lines.
		line, col = line[1:], col+1
		for {
			i := bytes.IndexByte(line, '"')
			if i < 0 { // the cell goes on on the next line
				c.buf = append(c.buf, line...)
				if line, err = c.readLine(); err != nil {
					if errors.Is(err, io.EOF) {
						return nil, &csv.ParseError{StartLine: start, Line: c.line, Column: col + 1, Err: csv.ErrQuote}
					}
					return nil, err
				}
				col = 0
				continue
			}
			c.buf = append(c.buf, line[:i]...)
			line, col = line[i+1:], col+i+1
			if line[0] == '"' { // an escaped quote
				c.buf = append(c.buf, '"')
				line, col = line[1:], col+1
				continue
			}
			break
		}
		c.ends = append(c.ends, len(c.buf))
		switch line[0] {
		case ',':
			line, col = line[1:], col+1
			continue
		case '\n':
		default:
			return nil, &csv.ParseError{StartLine: start, Line: c.line, Column: col + 1, Err: csv.ErrQuote}
		}
		break
	}
	if c.fields < 0 {
		c.fields = len(c.ends)
	} else if len(c.ends) != c.fields {
		return nil, &csv.ParseError{StartLine: start, Line: start, Column: 1, Err: csv.ErrFieldCount}
	}
	c.cells = c.cells[:0]
	from := 0
	for _, end := range c.ends {
		b := c.buf[from:end]
		c.cells = append(c.cells, unsafe.String(unsafe.SliceData(b), len(b)))
		from = end
	}
	return c.cells, nil
}

// cellLine returns the line that cell i of the last record starts on.
func (c *csvReader) cellLine(i int) int { return c.lines[i] }
