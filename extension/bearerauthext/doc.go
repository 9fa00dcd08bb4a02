// Package bearerauthext implements the bearerauth extension: a bearer-token
// authenticator for the collector. As a client it adds a token (static or read
// from a watched file) to outgoing HTTP and gRPC requests; as a server it checks
// the token of incoming requests against a set of named tokens in constant time.
package bearerauthext // import "github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"

//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml
