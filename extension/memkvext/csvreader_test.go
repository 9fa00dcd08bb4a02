package memkvext

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readAllCSV reads every record of in with csvReader, copying the cells.
func readAllCSV(in string) ([][]string, error) {
	r := newCSVReader(bufio.NewReaderSize(strings.NewReader(in), 16)) // small: long lines span buffers
	var out [][]string
	for {
		rec, err := r.read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		cp := make([]string, len(rec))
		for i, c := range rec {
			cp[i] = strings.Clone(c)
		}
		out = append(out, cp)
	}
}

// csvReader must read what encoding/csv reads, and fail where it fails.
func FuzzCSVReaderMatchesEncodingCSV(f *testing.F) {
	for _, seed := range []string{
		"", "\n", "a", "a,b\nc,d", "a,b\r\nc,d\r\n", "a,b\n\n\nc,d\n", "a,\n,b\n", ",\n,\n",
		"\"a\",\"b,c\"\n", "\"a\"\"b\",c\n", "\"a\nb\",c\nd,e\n", "\"a\r\nb\",c\r\n", "\"\"\n", "\"\",\"\"\n",
		"a,b\nc\n", "a,b\nc,d,e\n", "a\"b,c\n", "\"a\"b,c\n", "\"abc\n", "\"abc", "a,\"b\n",
		"a,b\r", "a\rb,c\n", "\"a\rb\",c\n", "x,y\n" + strings.Repeat("z", 40) + ",\"" + strings.Repeat("q", 40) + "\"\n",
		"a,b\n\"c\n\n\",d\n", " a , b \n", "\xff,\xfe\n", "a,b\n\"c\"", "a,b\n\"c\"\r",
	} {
		f.Add(seed)
	}
	f.Fuzz(compareWithEncodingCSV)
}

// Random inputs over the characters that matter, so that every run compares
// thousands of shapes (the fuzz target explores further with -fuzz).
func TestCSVReaderMatchesEncodingCSVOnRandomInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", ",", "\"", "\n", "\r", "\r\n", "\"\"", " "}
	for range 20000 {
		var sb strings.Builder
		for range rng.IntN(24) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		compareWithEncodingCSV(t, sb.String())
	}
}

func compareWithEncodingCSV(t *testing.T, in string) {
	{
		want, wantErr := csv.NewReader(strings.NewReader(in)).ReadAll()
		got, gotErr := readAllCSV(in)
		if wantErr != nil {
			require.Error(t, gotErr, "encoding/csv fails on %q", in)
			var wpe, gpe *csv.ParseError
			if errors.As(wantErr, &wpe) && errors.As(gotErr, &gpe) {
				require.Equal(t, wpe.Err, gpe.Err, "the same kind of error on %q", in)
				require.Equal(t, wpe.StartLine, gpe.StartLine, "on the same record of %q", in)
			}
			return
		}
		require.NoError(t, gotErr, "encoding/csv reads %q", in)
		if len(want) == 0 {
			want = nil
		}
		require.True(t, slices.EqualFunc(want, got, slices.Equal), "%q: want %q, got %q", in, want, got)
	}
}

func TestCSVReaderCellLines(t *testing.T) {
	r := newCSVReader(bufio.NewReader(strings.NewReader("a,b,c\n\n1,\"x\ny\",3\n")))
	_, err := r.read()
	require.NoError(t, err)
	rec, err := r.read()
	require.NoError(t, err)
	require.Equal(t, []string{"1", "x\ny", "3"}, rec)
	require.Equal(t, []int{3, 3, 4}, []int{r.cellLine(0), r.cellLine(1), r.cellLine(2)})
}
