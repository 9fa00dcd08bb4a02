package httpkvext // import "github.com/otelcol-custom/otelcol-custom/extension/httpkvext"

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// pointer is a parsed RFC 6901 JSON pointer; nil selects the whole document.
//
// Hand-written: the pointer libraries resolve over decoded values (map[string]any),
// so a selected object would have to be re-encoded; walking json.RawMessage levels
// hands the processor the selected value's own bytes, and the whole evaluator is
// a few lines over encoding/json.
type pointer []string

// parsePointer parses "" (the whole document) or "/a/b~1c/0". Inside a token, ~0
// is '~' and ~1 is '/'; any other '~' is an error naming its position.
func parsePointer(s string) (pointer, error) {
	if s == "" {
		return nil, nil
	}
	if s[0] != '/' {
		return nil, fmt.Errorf("%q must be empty or start with '/' (RFC 6901)", s)
	}
	tokens := strings.Split(s[1:], "/")
	pos := 1
	for i, tok := range tokens {
		for j := 0; j < len(tok); j++ {
			if tok[j] == '~' && (j+1 == len(tok) || (tok[j+1] != '0' && tok[j+1] != '1')) {
				return nil, fmt.Errorf("%q: '~' at byte %d must be followed by 0 or 1 (RFC 6901)", s, pos+j)
			}
		}
		pos += len(tok) + 1
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
	}
	return tokens, nil
}

var errNotJSON = errors.New("not valid JSON")

// selectValue walks p through doc and returns the selected value as the processor
// stores it: a JSON string as its text, any other JSON value (object, array,
// number, bool) as its JSON text. found is false when the pointer leads nowhere
// or to null. An error means doc (or a level of it) is not valid JSON.
func (p pointer) selectValue(doc []byte) (value []byte, found bool, err error) {
	cur := json.RawMessage(bytes.TrimSpace(doc))
	for _, tok := range p {
		if len(cur) == 0 {
			return nil, false, errNotJSON
		}
		switch cur[0] {
		case '{':
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(cur, &obj); err != nil {
				return nil, false, errNotJSON
			}
			v, ok := obj[tok]
			if !ok {
				return nil, false, nil
			}
			cur = v
		case '[':
			var arr []json.RawMessage
			if err := json.Unmarshal(cur, &arr); err != nil {
				return nil, false, errNotJSON
			}
			i, ok := arrayIndex(tok)
			if !ok || i >= len(arr) {
				return nil, false, nil
			}
			cur = arr[i]
		default:
			if !json.Valid(cur) {
				return nil, false, errNotJSON
			}
			return nil, false, nil // a scalar has no members
		}
	}
	return decodeSelected(cur)
}

// decodeSelected turns one JSON value into stored bytes (see selectValue).
func decodeSelected(v json.RawMessage) ([]byte, bool, error) {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0:
		return nil, false, errNotJSON
	case v[0] == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, false, errNotJSON
		}
		return []byte(s), true, nil
	case bytes.Equal(v, []byte("null")):
		return nil, false, nil
	case !json.Valid(v):
		return nil, false, errNotJSON
	}
	return v, true, nil // v is never a caller's buffer: a fresh body or a copy made by Unmarshal
}

// arrayIndex parses an RFC 6901 array index: decimal digits, no leading zero.
func arrayIndex(tok string) (int, bool) {
	if tok == "" || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(tok)
	return i, err == nil
}
