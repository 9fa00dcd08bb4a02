package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// snapshot is one immutable load of the file. Readers get it through an atomic
// pointer; a reload builds a new one and swaps the pointer.
type snapshot struct {
	entries map[string][]byte
	bytes   int64  // sum of len(key)+len(value)
	sum     uint64 // hash of the file's content, to skip reloads that change nothing
}

var emptySnapshot = &snapshot{entries: map[string][]byte{}}

// readFile reads at most limit bytes of path (following symbolic links).
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("file is larger than %d bytes (twice max_bytes plus 1 MiB)", limit)
	}
	return data, nil
}

// parse turns the file's content into entries. Errors name keys and lines, never
// values. Every format rejects empty and duplicate keys.
func parse(format string, data []byte) (map[string][]byte, error) {
	switch format {
	case FormatYAML:
		return parseYAML(data)
	case FormatJSON:
		return parseJSON(data)
	case FormatCSV:
		return parseCSV(data)
	default:
		return nil, fmt.Errorf("unknown format %q", format)
	}
}

// entriesBuilder collects entries, rejecting empty and duplicate keys.
type entriesBuilder map[string][]byte

func (b entriesBuilder) add(key string, value []byte, where string) error {
	if key == "" {
		return fmt.Errorf("%s: empty key", where)
	}
	if _, dup := b[key]; dup {
		return fmt.Errorf("%s: duplicate key %q", where, key)
	}
	b[key] = value
	return nil
}

// parseYAML reads a flat map of key to value. Scalars are stored as their text;
// maps and lists as their JSON encoding; null is an error.
func parseYAML(data []byte) (map[string][]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	out := entriesBuilder{}
	if len(doc.Content) == 0 { // empty document, or only comments
		return out, nil
	}
	root := resolveAlias(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, errors.New("the top level must be a map of key to value")
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := resolveAlias(root.Content[i]), resolveAlias(root.Content[i+1])
		where := fmt.Sprintf("line %d", k.Line)
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			return nil, fmt.Errorf("%s: keys must be plain scalars", where)
		}
		value, err := yamlValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: key %q: %w", where, k.Value, err)
		}
		if err := out.add(k.Value, value, where); err != nil {
			return nil, err
		}
	}
	return out, nil
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
func parseJSON(data []byte) (map[string][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("the top level must be an object of key to value")
	}
	out := entriesBuilder{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string) // inside an object, the decoder only yields string keys here
		where := fmt.Sprintf("offset %d", dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s: key %q: %w", where, key, err)
		}
		value, err := jsonValue(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: key %q: %w", where, key, err)
		}
		if err := out.add(key, value, where); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the top-level object")
	}
	return out, nil
}

func jsonValue(raw json.RawMessage) ([]byte, error) {
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	case 'n':
		return nil, errors.New("value is null")
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
}

// parseCSV reads rows under a header row that names a "key" and a "value" column
// (other columns are ignored). Values are stored as they are.
func parseCSV(data []byte) (map[string][]byte, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("missing header row with key and value columns")
	}
	if err != nil {
		return nil, err
	}
	keyCol, valCol := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "key":
			keyCol = i
		case "value":
			valCol = i
		}
	}
	if keyCol < 0 || valCol < 0 {
		return nil, errors.New("the header row must name a key and a value column")
	}
	out := entriesBuilder{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := r.FieldPos(keyCol)
		if err := out.add(rec[keyCol], []byte(rec[valCol]), fmt.Sprintf("line %d", line)); err != nil {
			return nil, err
		}
	}
}
