package fakeoidc // import "github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"

import (
	"path/filepath"
	"testing"
)

// Fake is a fake provider as Start sees it: this package's Server and
// fakeentra's Server both are one.
type Fake interface {
	Close()
	WriteCAFile(path string) error
}

// Start creates a fake with newFake (New, fakeentra.New), closes it when tb
// ends, and writes its CA certificate to a file in a temporary directory.
// It returns the fake and the CA file's path, for a tls::ca_file.
func Start[F Fake](tb testing.TB, newFake func() (F, error)) (F, string) {
	tb.Helper()
	f, err := newFake()
	if err != nil {
		tb.Fatalf("starting the fake provider: %v", err)
	}
	tb.Cleanup(f.Close)
	ca := filepath.Join(tb.TempDir(), "ca.pem")
	if err := f.WriteCAFile(ca); err != nil {
		tb.Fatalf("writing the fake provider's CA file: %v", err)
	}
	return f, ca
}
