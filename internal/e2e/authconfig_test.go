//go:build e2e

package e2e

import (
	"fmt"

	"github.com/otelcol-custom/otelcol-custom/internal/e2e/harness"
)

// The two collectors of the auth e2e tests, around the authenticator each
// test configures. ext is the authenticator's extension block as it stands
// under extensions: a newline, then "  <auth>:" and its settings.

// forwarderConfig is collector A: an OTLP gRPC receiver without auth that
// forwards to B's gRPC endpoint with the exporter authenticator auth (queue
// and retry on). When probeURL is set, the same traces also go through the
// same authenticator to an OTLP/HTTP sink at probeURL, which lets the test
// see which credential A currently sends.
func forwarderConfig(p *harness.Ports, auth, ext, serverGRPC, probeURL string) string {
	exporters := "[otlp_grpc/b]"
	probe := ""
	if probeURL != "" {
		exporters = "[otlp_grpc/b, otlp_http/probe]"
		probe = fmt.Sprintf(`
  otlp_http/probe:
    endpoint: %q
    compression: none
    auth:
      authenticator: %s
    retry_on_failure:
      enabled: false`, probeURL, auth)
	}
	return fmt.Sprintf(`
extensions:
  health_check:
    endpoint: %[1]s%[2]s
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %[3]s
exporters:
  otlp_grpc/b:
    endpoint: %[4]s
    tls:
      insecure: true
    auth:
      authenticator: %[5]s
    sending_queue:
      enabled: true
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 60s%[6]s
service:
  extensions: [health_check, %[5]s]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: %[7]s
  telemetry:
    metrics:
      level: none
`, p.Endpoint(harness.HealthCheck), ext, p.Endpoint(portGRPC), serverGRPC, auth, probe, exporters)
}

// receiverConfig is collector B: OTLP gRPC and HTTP receivers that require
// the server authenticator auth, and a file exporter writing OTLP JSON to
// outFile.
func receiverConfig(p *harness.Ports, auth, ext, outFile string) string {
	return fmt.Sprintf(`
extensions:
  health_check:
    endpoint: %[1]s%[2]s
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %[3]s
        auth:
          authenticator: %[5]s
      http:
        endpoint: %[4]s
        auth:
          authenticator: %[5]s
exporters:
  file:
    path: %[6]q
    flush_interval: 100ms
service:
  extensions: [health_check, %[5]s]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
  telemetry:
    metrics:
      level: none
`, p.Endpoint(harness.HealthCheck), ext, p.Endpoint(portGRPC), p.Endpoint(portHTTP), auth, outFile)
}
