package configtest

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var sampleType = component.MustNewType("sample")

type sampleConfig struct {
	Name     string `mapstructure:"name"`
	Password string `mapstructure:"password"`
}

func (c *sampleConfig) Validate() error {
	if c.Name == "" {
		// Deliberately leaks the password when asked to, so the secret check has something to catch.
		if c.Password == "leak" {
			return fmt.Errorf("name: required (password %s)", c.Password)
		}
		return errors.New("name: required")
	}
	return nil
}

func newDefault() component.Config { return &sampleConfig{Name: "default"} }

var testdata = filepath.Join("testdata", "config.yaml")

func TestRunConfig(t *testing.T) {
	checked := 0
	Run(t, testdata, sampleType, newDefault, []Case{
		{ID: "", Expected: &sampleConfig{Name: "default"}},
		{ID: "valid", Expected: &sampleConfig{Name: "alice", Password: "valid-password"}, Check: func(t *testing.T, cfg component.Config) {
			checked++
			assert.Equal(t, "alice", cfg.(*sampleConfig).Name)
		}},
		{ID: "no_name", ErrContains: []string{"name:", "required"}, Secrets: []string{"hunter2"}},
		{ID: "bad_field", ErrContains: []string{"nmae"}},
	}, AllowUnmarshalError())
	assert.Equal(t, 1, checked, "Check runs once for its case")
}

// recorder is a testingT that records failures; FailNow ends the calling goroutine like testing.T does.
type recorder struct{ msgs []string }

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) FailNow() { r.msgs = append(r.msgs, "FailNow"); runtime.Goexit() }
func (r *recorder) Helper()  {}

// failures runs check against a recorder and returns what it reported.
func failures(check func(t testingT)) string {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		check(r)
	}()
	<-done
	return strings.Join(r.msgs, "\n")
}

func TestChecksCanFailConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(testdata)
	require.NoError(t, err)
	run := func(id string, c Case, opts ...Option) string {
		o := options{coveredElsewhere: map[string]bool{}}
		for _, opt := range opts {
			opt(&o)
		}
		c.ID = id
		return failures(func(t testingT) { checkCase(t, cm, component.NewIDWithName(sampleType, id), newDefault, c, o) })
	}
	leaky := func() component.Config { return &sampleConfig{Password: "leak"} }

	assert.Empty(t, run("valid", Case{Expected: &sampleConfig{Name: "alice", Password: "valid-password"}}))
	assert.Contains(t, run("valid", Case{Expected: &sampleConfig{Name: "bob", Password: "valid-password"}}), "Not equal")
	assert.Contains(t, run("no_name", Case{Expected: &sampleConfig{}}), "FailNow", "a validation error fails an Expected case")
	assert.Contains(t, run("valid", Case{ErrContains: []string{"name"}}), "FailNow", "no error fails an ErrContains case")
	assert.Contains(t, run("no_name", Case{ErrContains: []string{"name:", "not in the error"}}), "not in the error")
	assert.Contains(t, run("no_name", Case{ErrContains: []string{"name:"}, Secrets: []string{"required"}}), "should not contain")
	assert.Contains(t, run("bad_field", Case{ErrContains: []string{"nmae"}}), "FailNow", "unmarshal errors fail without AllowUnmarshalError")
	assert.Empty(t, run("bad_field", Case{ErrContains: []string{"nmae"}}, AllowUnmarshalError()))
	assert.Contains(t, run("valid", Case{}), "set exactly one")
	assert.Contains(t, run("valid", Case{Expected: &sampleConfig{}, ErrContains: []string{"x"}}), "set exactly one")

	got := failures(func(t testingT) {
		checkCase(t, cm, component.NewIDWithName(sampleType, "empty_leak"), leaky, Case{ErrContains: []string{"name:"}, Secrets: []string{"leak"}}, options{})
	})
	assert.Contains(t, got, "should not contain", "a leaked secret is caught")

	seen := map[string]bool{"sample": true, "sample/valid": true, "sample/no_name": true}
	assert.Contains(t, failures(func(t testingT) { checkCoverage(t, cm, seen, testdata) }), "sample/bad_field has no test case")
	seen["sample/bad_field"] = true
	assert.Empty(t, failures(func(t testingT) { checkCoverage(t, cm, seen, testdata) }))
}

func TestWithDefaults(t *testing.T) {
	withDefaults := WithDefaults[sampleConfig](newDefault)
	a := withDefaults(func(c *sampleConfig) { c.Password = "p" })
	assert.Equal(t, &sampleConfig{Name: "default", Password: "p"}, a)
	// Every call starts from its own default config.
	b := withDefaults(func(*sampleConfig) {})
	assert.Equal(t, &sampleConfig{Name: "default"}, b)
	assert.NotSame(t, a, b)
}
