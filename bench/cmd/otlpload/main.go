// Command otlpload sends one pre-encoded 1,000-span OTLP/gRPC request over and over to a
// receiver for a while and prints what the receiver accepted (see package otlpload). For the
// whole-collector benchmark use benche2e (`make bench-e2e`), which drives the same generator.
//
//	otlpload -endpoint 127.0.0.1:4317 -duration 10s -header "authorization=Bearer $(cat config/demo-token)"
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/otelcol-custom/otelcol-custom/bench/otlpload"
)

// headers collects repeated -header key=value flags.
type headers map[string]string

func (h headers) String() string { return fmt.Sprintf("%d headers", len(h)) } // values may be secrets

func (h headers) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got a value without '='")
	}
	h[strings.ToLower(k)] = v
	return nil
}

func main() {
	cfg := otlpload.Config{Headers: headers{}}
	flag.StringVar(&cfg.Endpoint, "endpoint", "127.0.0.1:4317", "OTLP/gRPC receiver host:port (plaintext)")
	flag.IntVar(&cfg.Connections, "connections", 4, "gRPC connections")
	flag.IntVar(&cfg.StreamsPerConnection, "streams", 2, "exports in flight per connection")
	flag.IntVar(&cfg.Spans, "spans", 1000, "spans per request")
	flag.IntVar(&cfg.Keys, "keys", 100, "distinct user.id values")
	flag.Var(headers(cfg.Headers), "header", "key=value sent with every export (repeatable)")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	flag.Parse()

	g, err := otlpload.Start(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	start := time.Now()
	time.Sleep(*duration)
	c := g.Stop()
	secs := time.Since(start).Seconds()
	fmt.Printf("%d spans accepted in %d exports over %.1fs: %.0f spans/s; %d failed exports\n",
		c.AcceptedSpans, c.Exports, secs, float64(c.AcceptedSpans)/secs, c.Failures)
	if c.Failures > 0 {
		fmt.Fprintf(os.Stderr, "last failure: %s\n", c.LastError)
		os.Exit(1)
	}
}
