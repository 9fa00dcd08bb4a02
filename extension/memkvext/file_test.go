package memkvext

import (
	"hash/maphash"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The three fixtures hold the same data.
func TestParseFixtures(t *testing.T) {
	for _, format := range []string{FormatYAML, FormatJSON, FormatCSV} {
		t.Run(format, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "lookup."+format))
			require.NoError(t, err)
			got, err := parseMap(format, &CSVConfig{}, string(data))
			require.NoError(t, err)
			require.Len(t, got, 7)
			assert.Equal(t, "payments", got["checkout"])
			assert.Equal(t, "value with spaces", got["quoted key"])
			assert.Equal(t, "8080", got["port"])
			assert.Equal(t, "true", got["enabled"])
			assert.Equal(t, "0.5", got["ratio"])
			assert.JSONEq(t, `{"name":"Payments","oncall":"alice","size":5,"active":true,"nested":{"tier":1}}`, got["team-info"])
			assert.JSONEq(t, `["a","b"]`, got["tags"])
		})
	}
}

func TestParse(t *testing.T) {
	// Values in the invalid inputs contain "s3cr3t": errors must never show values.
	tests := []struct {
		name    string
		format  string
		in      string
		want    map[string]string
		wantErr string
	}{
		{name: "yaml empty", format: FormatYAML, in: "", want: map[string]string{}},
		{name: "yaml only comments", format: FormatYAML, in: "# nothing\n", want: map[string]string{}},
		{name: "yaml empty map", format: FormatYAML, in: "{}", want: map[string]string{}},
		{name: "yaml anchors", format: FormatYAML, in: "a: &x {k: v}\nb: *x\n", want: map[string]string{"a": `{"k":"v"}`, "b": `{"k":"v"}`}},
		{name: "yaml quoted scalars keep text", format: FormatYAML, in: "a: '007'\nb: \"yes\"\nc: 1e3\n", want: map[string]string{"a": "007", "b": "yes", "c": "1e3"}},
		{name: "yaml multi-line string", format: FormatYAML, in: "a: |\n  line1\n  line2\n", want: map[string]string{"a": "line1\nline2\n"}},
		{name: "yaml not a map", format: FormatYAML, in: "- s3cr3t\n- b\n", wantErr: "top level must be a map"},
		{name: "yaml null value", format: FormatYAML, in: "a: s3cr3t\nb:\n", wantErr: `line 2: key "b": value is null`},
		{name: "yaml duplicate key", format: FormatYAML, in: "a: s3cr3t\na: s3cr3t2\n", wantErr: `line 2: duplicate key "a"`},
		{name: "yaml empty key", format: FormatYAML, in: "'': s3cr3t\n", wantErr: "line 1: empty key"},
		{name: "yaml map key", format: FormatYAML, in: "? {a: b}\n: s3cr3t\n", wantErr: "keys must be plain scalars"},
		{name: "yaml merge key", format: FormatYAML, in: "base: &b {x: s3cr3t}\n<<: *b\n", wantErr: "keys must be plain scalars"},
		{name: "yaml non-string nested keys", format: FormatYAML, in: "a: {1: s3cr3t, [x]: y}\n", wantErr: `key "a"`},
		{name: "yaml syntax", format: FormatYAML, in: "a: [s3cr3t\n", wantErr: "yaml"},

		{name: "json empty object", format: FormatJSON, in: " {} ", want: map[string]string{}},
		{name: "json escapes", format: FormatJSON, in: `{"a\"b": "\u00fc\n", "n": -1.5e3, "o": { "x" : [ 1 , 2 ] }}`, want: map[string]string{`a"b`: "ü\n", "n": "-1.5e3", "o": `{"x":[1,2]}`}},
		{name: "json empty", format: FormatJSON, in: "", wantErr: "EOF"},
		{name: "json not an object", format: FormatJSON, in: `["s3cr3t"]`, wantErr: "top level must be an object"},
		{name: "json null value", format: FormatJSON, in: `{"a": "s3cr3t", "b": null}`, wantErr: `key "b": value is null`},
		{name: "json duplicate key", format: FormatJSON, in: `{"a": "s3cr3t", "a": "s3cr3t2"}`, wantErr: `duplicate key "a"`},
		{name: "json empty key", format: FormatJSON, in: `{"": "s3cr3t"}`, wantErr: "empty key"},
		{name: "json trailing data", format: FormatJSON, in: `{"a": "s3cr3t"} {"b": 1}`, wantErr: "unexpected data after the top-level object"},
		{name: "json truncated", format: FormatJSON, in: `{"a": "s3cr3t", "b": {"c": 1`, wantErr: `key "b"`},
		{name: "json unclosed", format: FormatJSON, in: `{"a": "s3cr3t"`, wantErr: "EOF"},

		{name: "csv header only", format: FormatCSV, in: "key,value\n", want: map[string]string{}},
		{name: "csv columns in any order", format: FormatCSV, in: "value,extra,KEY\nv1,x,k1\n\"a,b\",y,k2\n", want: map[string]string{"k1": "v1", "k2": "a,b"}},
		{name: "csv CRLF and blank lines", format: FormatCSV, in: "key,value\r\n\r\nk,v\r\n", want: map[string]string{"k": "v"}},
		{name: "csv empty", format: FormatCSV, in: "", wantErr: "missing header row"},
		{name: "csv value column without key column", format: FormatCSV, in: "name,value\nk,s3cr3t\n", wantErr: "line 1: the header names a value column but no key column"},
		{name: "csv duplicate key", format: FormatCSV, in: "key,value\nk,s3cr3t\nk,s3cr3t2\n", wantErr: `line 3, column 1 ("key"): duplicate key "k"`},
		{name: "csv empty key", format: FormatCSV, in: "key,value\n,s3cr3t\n", wantErr: `line 2, column 1 ("key"): empty key`},
		{name: "csv wrong field count", format: FormatCSV, in: "key,value\nk,s3cr3t,extra\n", wantErr: "wrong number of fields"},
		{name: "csv bare quote", format: FormatCSV, in: "key,value\nk,s3\"cr3t\n", wantErr: "bare \""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkParse(t, tt.format, &CSVConfig{}, tt.in, tt.want, tt.wantErr)
		})
	}
}

// checkParse parses in and checks the entries, or the error (which must not show
// the values, all containing "s3cr3t" in the invalid inputs).
func checkParse(t *testing.T, format string, cfg *CSVConfig, in string, want map[string]string, wantErr string) {
	t.Helper()
	got, err := parseMap(format, cfg, in)
	if wantErr != "" {
		require.ErrorContains(t, err, wantErr)
		require.NotContains(t, err.Error(), "s3cr3t", "errors must not show values")
		return
	}
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestHashFileLimit(t *testing.T) {
	seed := maphash.MakeSeed()
	_, _, err := hashFile(strings.NewReader(strings.Repeat("x", 101)), seed, 100)
	require.ErrorContains(t, err, "larger than 100 bytes")
	content := strings.Repeat("x\n", 50) + "x"
	sum, lines, err := hashFile(strings.NewReader(content), seed, 101)
	require.NoError(t, err)
	require.Equal(t, maphash.String(seed, content), sum)
	require.Equal(t, 50, lines)
}

// parseMap parses in into a snapshot and returns its entries as a map.
func parseMap(format string, cfg *CSVConfig, in string) (map[string]string, error) {
	b := newSnapshotBuilder(math.MaxInt, math.MaxInt64, 0, emptySnapshot)
	if err := parse(format, cfg, strings.NewReader(in), b); err != nil {
		return nil, err
	}
	return snapshotMap(b.finish(0)), nil
}

func snapshotMap(s *snapshot) map[string]string {
	out := make(map[string]string, s.len())
	for k, v := range s.all() {
		out[string(k)] = string(v)
	}
	return out
}
