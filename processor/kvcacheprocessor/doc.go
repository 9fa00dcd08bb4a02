// Package kvcacheprocessor enriches telemetry with values looked up in a key-value
// store (any kvcache.Store provider) through a bounded local cache, and writes
// attribute values back to the store.
//
//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml
package kvcacheprocessor // import "github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"
