package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The tool loads and reloads a small table of each format; run checks that each
// reload's new values read back, so a reload that is not seen fails it.
func TestRun(t *testing.T) {
	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			var out strings.Builder
			require.NoError(t, run(&out, 2000, format, t.TempDir()))
			require.Contains(t, out.String(), "format="+format+" rows=2000")
			require.Contains(t, out.String(), "| every row changed |")
		})
	}
	require.ErrorContains(t, run(os.Stdout, 10, "yaml", t.TempDir()), "-format must be csv or json")
}
