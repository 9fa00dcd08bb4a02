package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// csvLayout is what the header row says about the columns of every other row.
type csvLayout struct {
	keyCols []int
	sep     string
	// valCol is the value column of the key,value layout; -1 for a table.
	valCol int
	fields []csvField // table: every column that is not a key column
}

// csvField is a column of a table: a field of each entry's JSON object.
type csvField struct {
	col  int
	name string
	json []byte // the JSON-quoted name and a colon
	typ  string
}

// newCSVLayout reads the header row (on line 1). A header with a value column,
// read with neither key_columns nor types set, is the key,value layout; anything
// else is a table.
func newCSVLayout(header []string, cfg *CSVConfig) (*csvLayout, error) {
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = strings.TrimSpace(h)
	}
	l := &csvLayout{sep: cfg.separator(), valCol: -1}
	if cfg.KeyColumns == nil && len(cfg.Types) == 0 {
		key, val := -1, -1
		for i, n := range names {
			switch strings.ToLower(n) {
			case defaultCSVKeyColumn:
				key = i
			case "value":
				val = i
			}
		}
		if val >= 0 {
			if key < 0 {
				return nil, errors.New(`line 1: the header names a value column but no key column`)
			}
			l.keyCols, l.valCol = []int{key}, val
			return l, nil
		}
	}

	seen := make(map[string]int, len(names))
	for i, n := range names {
		if n == "" {
			return nil, fmt.Errorf("line 1, column %d: empty column name (every column of a table is a field)", i+1)
		}
		if j, dup := seen[n]; dup {
			return nil, fmt.Errorf("line 1, column %d: column %q is also column %d", i+1, n, j+1)
		}
		seen[n] = i
	}
	if cfg.KeyColumns == nil {
		i := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, defaultCSVKeyColumn) })
		if i < 0 {
			return nil, fmt.Errorf("line 1: the header has no %q column; set file::csv::key_columns to the columns that make the key", defaultCSVKeyColumn)
		}
		l.keyCols = []int{i}
	} else {
		for _, k := range cfg.KeyColumns {
			i, ok := seen[k]
			if !ok {
				return nil, fmt.Errorf("line 1: the header has no key column %q (file::csv::key_columns)", k)
			}
			l.keyCols = append(l.keyCols, i)
		}
	}
	for col := range cfg.Types {
		if _, ok := seen[col]; !ok {
			return nil, fmt.Errorf("file::csv::types::%s: the header (line 1) has no such column", col)
		}
	}
	for i, n := range names {
		if slices.Contains(l.keyCols, i) {
			continue
		}
		q, _ := json.Marshal(n) // a string always encodes
		typ := cfg.Types[n]
		if typ == "" {
			typ = CSVTypeString
		}
		l.fields = append(l.fields, csvField{col: i, name: n, json: append(q, ':'), typ: typ})
	}
	return l, nil
}

var utf8BOM = []byte("\xef\xbb\xbf")

// parseCSV reads a header row and then one entry per row (see csvLayout). A row
// that cannot be read fails the whole load, naming its line and column.
func parseCSV(r io.Reader, cfg *CSVConfig, b *snapshotBuilder) error {
	br := bufio.NewReaderSize(r, 64<<10)
	if p, _ := br.Peek(len(utf8BOM)); bytes.Equal(p, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM))
	}
	cr := newCSVReader(br)
	header, err := cr.read()
	if errors.Is(err, io.EOF) {
		return errors.New("missing header row")
	}
	if err != nil {
		return err
	}
	for i := range header { // the cells are views of a buffer the next read reuses
		header[i] = strings.Clone(header[i])
	}
	header = slices.Clone(header)
	l, err := newCSVLayout(header, cfg)
	if err != nil {
		return err
	}
	var buf []byte
	for {
		rec, err := cr.read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err // a *csv.ParseError: it names the line (and column)
		}
		line := cr.cellLine(0)
		buf = buf[:0]
		for i, c := range l.keyCols {
			if i > 0 {
				buf = append(buf, l.sep...)
			}
			buf = append(buf, rec[c]...)
		}
		klen := len(buf)
		if l.valCol >= 0 {
			buf = append(buf, rec[l.valCol]...)
		} else if buf, err = l.appendObject(buf, rec, cr); err != nil {
			return err
		}
		if err := b.add(buf, klen); err != nil {
			where := fmt.Sprintf("line %d", line)
			if len(l.keyCols) == 1 {
				where = fmt.Sprintf("line %d, column %d (%q)", line, l.keyCols[0]+1, strings.TrimSpace(header[l.keyCols[0]]))
			}
			return entryError(err, where, string(buf[:klen]))
		}
	}
}

// appendObject appends the JSON object of a table row's fields to buf, in column
// order. Empty cells are left out (the entry has no such field), as the kvcache
// processor leaves out JSON nulls.
func (l *csvLayout) appendObject(buf []byte, rec []string, cr *csvReader) ([]byte, error) {
	buf = append(buf, '{')
	first := true
	for i := range l.fields {
		f := &l.fields[i]
		cell := rec[f.col]
		if f.typ != CSVTypeString {
			cell = strings.TrimSpace(cell)
		}
		if cell == "" {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, f.json...)
		var err error
		if buf, err = appendCell(buf, cell, f.typ); err != nil {
			// The reason only: strconv's errors quote the cell, and values never
			// appear in errors. A quoted cell may sit on a later line than its row.
			line := cr.cellLine(f.col)
			return nil, fmt.Errorf("line %d, column %d (%q): not %s: %w", line, f.col+1, f.name, article(f.typ), err)
		}
	}
	return append(buf, '}'), nil
}

func article(typ string) string {
	if typ == CSVTypeInt {
		return "an int"
	}
	return "a " + typ
}

// appendCell appends cell as a JSON value of type typ. A double always carries a
// fraction or exponent, so that the processor's JSON decoding keeps it a double.
func appendCell(buf []byte, cell, typ string) ([]byte, error) {
	switch typ {
	case CSVTypeInt:
		n, err := strconv.ParseInt(cell, 10, 64)
		if err != nil {
			return nil, numReason(err)
		}
		return strconv.AppendInt(buf, n, 10), nil
	case CSVTypeDouble:
		d, err := strconv.ParseFloat(cell, 64)
		if err != nil {
			return nil, numReason(err)
		}
		if math.IsInf(d, 0) || math.IsNaN(d) {
			return nil, errors.New("JSON has no infinities or NaN")
		}
		start := len(buf)
		buf = strconv.AppendFloat(buf, d, 'g', -1, 64)
		if !bytes.ContainsAny(buf[start:], ".e") {
			buf = append(buf, ".0"...)
		}
		return buf, nil
	case CSVTypeBool:
		v, err := strconv.ParseBool(cell)
		if err != nil {
			return nil, errors.New("want true or false")
		}
		return strconv.AppendBool(buf, v), nil
	default:
		return appendJSONString(buf, cell), nil
	}
}

func numReason(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}

// appendJSONString appends s as a JSON string. Most cells need no escaping and are
// copied as they are; the rest go through encoding/json (which has no append API
// in the standard library's stable encoding/json).
func appendJSONString(buf []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		buf = append(buf, '"')
		buf = append(buf, s...)
		return append(buf, '"')
	}
	q, _ := json.Marshal(s) // a string always encodes (invalid UTF-8 becomes U+FFFD)
	return append(buf, q...)
}
