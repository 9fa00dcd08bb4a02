// Package configtest runs the table-driven config tests shared by our components: each case names an entry
// `<type>/<id>` of a testdata config file, which is unmarshalled into the factory's default config and validated
// with confmap.Validate, then compared to an expected config or checked for the expected error substrings and
// for secrets that must not leak into the error. Every entry of the file must be covered by a case.
package configtest // import "github.com/otelcol-custom/otelcol-custom/internal/configtest"

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

// Case is one entry of the testdata file. Exactly one of Expected and ErrContains must be set.
type Case struct {
	// ID is the name part of the entry `<type>/<id>`; empty means the unnamed entry `<type>`.
	ID string
	// Expected is the config the entry must load and validate to.
	Expected component.Config
	// ErrContains must all appear in the error (typically the offending `section::key`).
	ErrContains []string
	// Secrets must not appear in the error.
	Secrets []string
	// Check, if set, runs after the assertions above with the loaded config.
	Check func(t *testing.T, cfg component.Config)
}

// Option changes how Run treats the file.
type Option func(*options)

type options struct {
	allowUnmarshalError bool
	coveredElsewhere    map[string]bool
}

// AllowUnmarshalError treats an unmarshal error like a validation error, for entries that a typed field
// (e.g. a component.ID) already rejects while decoding.
func AllowUnmarshalError() Option {
	return func(o *options) { o.allowUnmarshalError = true }
}

// CoveredElsewhere exempts the given IDs from the coverage check, for entries tested by another test.
func CoveredElsewhere(ids ...string) Option {
	return func(o *options) {
		for _, id := range ids {
			o.coveredElsewhere[id] = true
		}
	}
}

// WithDefaults returns a builder of expected configs for the cases: each call
// starts from a fresh newDefault() and applies edit, so a case states only what
// differs from the defaults. T is the config's struct type.
func WithDefaults[T any](newDefault func() component.Config) func(edit func(*T)) *T {
	return func(edit func(*T)) *T {
		c := newDefault().(*T)
		edit(c)
		return c
	}
}

// Run loads path and runs every case as a subtest named after its ID, then fails if an entry of the file
// has no case.
func Run(t *testing.T, path string, typ component.Type, newDefault func() component.Config, cases []Case, opts ...Option) {
	t.Helper()
	o := options{coveredElsewhere: map[string]bool{}}
	for _, opt := range opts {
		opt(&o)
	}
	cm, err := confmaptest.LoadConf(path)
	require.NoError(t, err)

	seen := map[string]bool{}
	for _, c := range cases {
		id := component.NewIDWithName(typ, c.ID)
		seen[id.String()] = true
		name := c.ID
		if name == "" {
			name = id.String()
		}
		t.Run(name, func(t *testing.T) {
			cfg := checkCase(t, cm, id, newDefault, c, o)
			if c.Check != nil {
				c.Check(t, cfg)
			}
		})
	}
	for id := range o.coveredElsewhere {
		seen[component.NewIDWithName(typ, id).String()] = true
	}
	checkCoverage(t, cm, seen, path)
}

// testingT is the part of *testing.T used by the checks, so that the package's own test can observe failures.
type testingT interface {
	require.TestingT
	Helper()
}

func checkCase(t testingT, cm *confmap.Conf, id component.ID, newDefault func() component.Config, c Case, o options) component.Config {
	t.Helper()
	if (c.Expected == nil) == (len(c.ErrContains) == 0) {
		t.Errorf("case %q: set exactly one of Expected and ErrContains", c.ID)
		t.FailNow()
	}
	sub, err := cm.Sub(id.String())
	require.NoError(t, err)
	cfg := newDefault()
	err = sub.Unmarshal(cfg)
	if !o.allowUnmarshalError || err == nil {
		require.NoError(t, err)
		err = confmap.Validate(cfg)
	}
	if c.Expected != nil {
		require.NoError(t, err)
		assert.Equal(t, c.Expected, cfg)
		return cfg
	}
	require.Error(t, err)
	for _, s := range c.ErrContains {
		assert.Contains(t, err.Error(), s)
	}
	for _, s := range c.Secrets {
		assert.NotContains(t, err.Error(), s)
	}
	return cfg
}

func checkCoverage(t testingT, cm *confmap.Conf, seen map[string]bool, path string) {
	t.Helper()
	for key := range cm.ToStringMap() {
		assert.True(t, seen[key], "%s entry %s has no test case", path, key)
	}
}
