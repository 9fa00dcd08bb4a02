// Package e2e holds end-to-end tests that run the real dist/otelcol-custom
// binary (built by `make build`) and drive it with real clients (telemetrygen,
// gRPC and HTTP OTLP clients) on loopback. Process handling lives in the
// harness subpackage, shared by every e2e test.
package e2e // import "github.com/otelcol-custom/otelcol-custom/internal/e2e"
