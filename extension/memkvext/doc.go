// Package memkvext implements the memkv extension: an embedded, bounded,
// in-memory key-value store that provides the kvcache capability (see
// extension/kvcache), optionally loaded from a watched, hot-reloaded file.
package memkvext // import "github.com/otelcol-custom/otelcol-custom/extension/memkvext"

//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml
