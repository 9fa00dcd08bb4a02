package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"

	"go.yaml.in/yaml/v3"
)

// hashingReader reads a file, hashing what it reads and failing once more than
// limit bytes were read.
type hashingReader struct {
	f     io.Reader
	h     maphash.Hash
	n     int64
	lines int // newlines read
	limit int64
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	r.lines += bytes.Count(p[:n], []byte{'\n'})
	if r.n > r.limit {
		return n, fmt.Errorf("file is larger than %d bytes (twice max_bytes plus 1 MiB)", r.limit)
	}
	return n, err
}

// hashFile returns the hash (with seed) of the content of f, read to its end, and
// its number of newlines.
func hashFile(f io.Reader, seed maphash.Seed, limit int64) (sum uint64, lines int, err error) {
	r := &hashingReader{f: f, limit: limit}
	r.h.SetSeed(seed)
	if _, err := io.Copy(io.Discard, r); err != nil {
		return 0, 0, err
	}
	return r.h.Sum64(), r.lines, nil
}

// parse reads entries of the given format from r into b. Errors name keys, lines
// and columns, never values. Every format rejects empty and duplicate keys.
func parse(format string, csvCfg *CSVConfig, r io.Reader, b *snapshotBuilder) error {
	switch format {
	case FormatYAML:
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return parseYAML(data, b)
	case FormatJSON:
		return parseJSON(r, b)
	case FormatCSV:
		return parseCSV(r, csvCfg, b)
	default:
		return fmt.Errorf("unknown format %q", format)
	}
}

// addEntry adds key and value to b through the scratch buffer buf, wrapping b's
// errors with where (a position) and the key.
func addEntry(b *snapshotBuilder, buf *[]byte, key string, value []byte, where string) error {
	*buf = append(append((*buf)[:0], key...), value...)
	return entryError(b.add(*buf, len(key)), where, key)
}

func entryError(err error, where, key string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errEmptyKey):
		return fmt.Errorf("%s: empty key", where)
	case errors.Is(err, errDuplicateKey):
		return fmt.Errorf("%s: duplicate key %q", where, key)
	default:
		return fmt.Errorf("%s: %w", where, err)
	}
}

// parseYAML reads a flat map of key to value. Scalars are stored as their text;
// maps and lists as their JSON encoding; null is an error.
func parseYAML(data []byte, b *snapshotBuilder) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 { // empty document, or only comments
		return nil
	}
	root := resolveAlias(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return errors.New("the top level must be a map of key to value")
	}
	var buf []byte
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := resolveAlias(root.Content[i]), resolveAlias(root.Content[i+1])
		where := fmt.Sprintf("line %d", k.Line)
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			return fmt.Errorf("%s: keys must be plain scalars", where)
		}
		value, err := yamlValue(v)
		if err != nil {
			return fmt.Errorf("%s: key %q: %w", where, k.Value, err)
		}
		if err := addEntry(b, &buf, k.Value, value, where); err != nil {
			return err
		}
	}
	return nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func yamlValue(v *yaml.Node) ([]byte, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, errors.New("value is null")
		}
		return []byte(v.Value), nil
	case yaml.MappingNode, yaml.SequenceNode:
		var obj any
		if err := v.Decode(&obj); err != nil {
			return nil, err
		}
		enc, err := json.Marshal(obj)
		if err != nil {
			return nil, errors.New("value cannot be encoded as JSON (maps need string keys)")
		}
		return enc, nil
	default:
		return nil, errors.New("unsupported value")
	}
}

// parseJSON reads one JSON object of key to value. Strings are stored unquoted;
// objects, arrays, numbers and booleans as their (compacted) JSON text; null is
// an error.
func parseJSON(r io.Reader, b *snapshotBuilder) error {
	dec := json.NewDecoder(r)
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("the top level must be an object of key to value")
	}
	var (
		raw      json.RawMessage
		compact  bytes.Buffer
		str, buf []byte
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string) // inside an object, the decoder only yields string keys here
		where := fmt.Sprintf("offset %d", dec.InputOffset())
		raw = raw[:0]
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%s: key %q: %w", where, key, err)
		}
		var value []byte
		switch raw[0] {
		case '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Errorf("%s: key %q: %w", where, key, err)
			}
			str = append(str[:0], s...)
			value = str
		case 'n':
			return fmt.Errorf("%s: key %q: value is null", where, key)
		default:
			compact.Reset()
			if err := json.Compact(&compact, raw); err != nil {
				return fmt.Errorf("%s: key %q: %w", where, key, err)
			}
			value = compact.Bytes()
		}
		if err := addEntry(b, &buf, key, value, where); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the top-level object")
	}
	return nil
}
