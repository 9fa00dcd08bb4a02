// Package httpkvext implements the httpkv extension: a read-only provider of the
// kvcache capability (see extension/kvcache) backed by an HTTP lookup API (a
// CMDB, a service catalog). The client is built from confighttp settings, so TLS,
// timeouts, headers, compression and `auth: {authenticator: ...}` (bearerauth,
// azureidentityauth) work as in any exporter. A Get is either one GET per
// distinct key (mode per_key, bounded concurrency, 404 is "not found") or one
// POST carrying every key of the batch (mode bulk); an optional JSON pointer
// selects the value inside each answer.
package httpkvext // import "github.com/otelcol-custom/otelcol-custom/extension/httpkvext"

//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml
