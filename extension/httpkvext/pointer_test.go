package httpkvext

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePointer(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want pointer
	}{
		{"", nil},
		{"/", pointer{""}},
		{"/a/b", pointer{"a", "b"}},
		{"/a~1b/c~0d/~01", pointer{"a/b", "c~d", "~1"}},
		{"/0/-", pointer{"0", "-"}},
	} {
		got, err := parsePointer(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	for in, pos := range map[string]string{"a": "start with '/'", "/a~": "byte 2", "/ok/x~2": "byte 5"} {
		_, err := parsePointer(in)
		require.ErrorContains(t, err, pos, in)
	}
}

// TestSelectValue walks RFC 6901's own example document.
func TestSelectValue(t *testing.T) {
	doc := []byte(`{"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4,
		"i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8, "obj": {"x": [true, {"y": null}]}}`)
	for ptr, want := range map[string]string{
		"":         "", // whole document: checked below
		"/foo":     `["bar", "baz"]`,
		"/foo/0":   "bar",
		"/":        "0",
		"/a~1b":    "1",
		"/c%d":     "2",
		"/e^f":     "3",
		"/g|h":     "4",
		"/i\\j":    "5",
		"/k\"l":    "6",
		"/ ":       "7",
		"/m~0n":    "8",
		"/obj/x/0": "true",
		"/obj/x/1": `{"y": null}`,
	} {
		p, err := parsePointer(ptr)
		require.NoError(t, err)
		v, found, err := p.selectValue(doc)
		require.NoError(t, err, ptr)
		require.True(t, found, ptr)
		if ptr != "" {
			assert.Equal(t, want, string(v), ptr)
		}
	}
	for _, ptr := range []string{"/nope", "/foo/2", "/foo/01", "/foo/-", "/foo/x", "/obj/x/1/y", "/obj/x/0/deeper", "/" + "m~1n"} {
		p, err := parsePointer(ptr)
		require.NoError(t, err)
		_, found, err := p.selectValue(doc)
		require.NoError(t, err, ptr)
		assert.False(t, found, ptr)
	}
	p, _ := parsePointer("/a")
	for _, bad := range []string{``, `{"a": `, `[1,`, `tru`, `{"a": "x"} trailing`} {
		_, _, err := p.selectValue([]byte(bad))
		require.ErrorIs(t, err, errNotJSON, "%q", bad)
	}
}
