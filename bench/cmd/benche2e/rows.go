package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// benchToken is the bearer token of the auth rows. It protects nothing (a loopback collector
// that lives for one run) and is never printed all the same.
const benchToken = "bench-e2e-7f3c9a1d5b2e4f60"

// userKeys is the number of distinct user.id values in the load (otlpload's Keys) and of
// entries in the memkv file.
const userKeys = 100

// userValue is stored for every user; the attributes rows insert the same five attributes
// (names, values, types) as static values. The shape of BenchmarkEnrich1000Spans.
var userValue = map[string]any{"team": "payments", "tier": "gold", "region": "eu-west-1", "limit": 500, "beta": true}

// ports of one collector process.
type ports struct {
	otlp, health, metrics int
}

// row is one collector configuration under test.
type row struct {
	name string
	desc string
	// peer: run the stock peer distribution instead of ours.
	peer bool
	// auth: the load sends the bearer token.
	auth bool
	// config returns the collector config; dir holds files it refers to.
	config func(p ports, dir string) (string, error)
}

// rows in table order; -rows picks a subset by name.
var rows = []row{
	{name: "plain", desc: "otlp receiver → debug (basic)", config: func(p ports, _ string) (string, error) {
		return collectorConfig(p, "", "", "", "", "debug"), nil
	}},
	{name: "bearerauth", desc: "+ bearerauth server auth", auth: true, config: func(p ports, _ string) (string, error) {
		return collectorConfig(p, bearerauthExt, "bearerauth/server", "", "", "debug"), nil
	}},
	{name: "bearerauth+kvcache", desc: "+ kvcache, 5 attributes per span from memkv", auth: true, config: kvcacheConfig},
	{name: "contrib", desc: "peer: bearertokenauth + attributesprocessor, 5 static inserts", peer: true, auth: true,
		config: func(p ports, _ string) (string, error) {
			return collectorConfig(p, contribAuthExt, "bearertokenauth/server", attributesProc, "attributes/user", "debug"), nil
		}},
	{name: "floor", desc: "peer: bearertokenauth + enrichfloor, the same 5 attributes per span by one map lookup", peer: true, auth: true,
		config: floorConfig},
	// Not in the default set: what the shared sink costs (peer binary, which has nop).
	{name: "contrib-plain", desc: "peer: otlp receiver → debug (basic)", peer: true, config: func(p ports, _ string) (string, error) {
		return collectorConfig(p, "", "", "", "", "debug"), nil
	}},
	{name: "contrib-plain-nop", desc: "peer: otlp receiver → nop", peer: true, config: func(p ports, _ string) (string, error) {
		return collectorConfig(p, "", "", "", "", "nop"), nil
	}},
}

const defaultRows = "plain,bearerauth,bearerauth+kvcache,contrib,floor"

func findRow(name string) (row, bool) {
	for _, r := range rows {
		if r.name == name {
			return r, true
		}
	}
	return row{}, false
}

const bearerauthExt = `
  bearerauth/server:
    tokens:
      - token: ` + benchToken

const contribAuthExt = `
  bearertokenauth/server:
    token: ` + benchToken

const attributesProc = `
  attributes/user:
    actions:
      - {key: user.team, value: payments, action: insert}
      - {key: user.tier, value: gold, action: insert}
      - {key: user.region, value: eu-west-1, action: insert}
      - {key: user.limit, value: 500, action: insert}
      - {key: user.beta, value: true, action: insert}`

// writeUsers writes the users file (memkv's file form: key -> object) into dir.
func writeUsers(dir string) (string, error) {
	data := make(map[string]any, userKeys)
	for i := range userKeys {
		data[fmt.Sprintf("user-%d", i)] = userValue
	}
	b, err := json.Marshal(data)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "users.json")
	return path, os.WriteFile(path, b, 0o600)
}

func kvcacheConfig(p ports, dir string) (string, error) {
	path, err := writeUsers(dir)
	if err != nil {
		return "", err
	}
	ext := bearerauthExt + `
  memkv/users:
    file:
      path: ` + path
	proc := `
  kvcache/user:
    store: memkv/users
    lookups:
      - context: span
        key:
          attributes: [user.id]
        target_prefix: "user."
        action: insert`
	return collectorConfig(p, ext, "bearerauth/server", proc, "kvcache/user", "debug"), nil
}

// floorConfig is the floor row: bench/enrichfloor adds the users file's attributes.
func floorConfig(p ports, dir string) (string, error) {
	path, err := writeUsers(dir)
	if err != nil {
		return "", err
	}
	proc := `
  enrichfloor/user:
    key: user.id
    prefix: "user."
    file: ` + path
	return collectorConfig(p, contribAuthExt, "bearertokenauth/server", proc, "enrichfloor/user", "debug"), nil
}

// collectorConfig renders one config: the otlp gRPC receiver (with authenticator if set), the
// processor (if set) and one exporter, health_check, and the collector's own metrics in
// Prometheus format. extensions and processors are YAML blocks at two-space indent.
func collectorConfig(p ports, extensions, authenticator, processors, processor, exporter string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "extensions:\n  health_check:\n    endpoint: 127.0.0.1:%d%s\n", p.health, extensions)
	fmt.Fprintf(&b, "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:%d\n", p.otlp)
	if authenticator != "" {
		fmt.Fprintf(&b, "        auth:\n          authenticator: %s\n", authenticator)
	}
	if processors != "" {
		fmt.Fprintf(&b, "processors:%s\n", processors)
	}
	b.WriteString("exporters:\n")
	switch exporter {
	case "debug":
		b.WriteString("  debug:\n    verbosity: basic\n")
	default:
		fmt.Fprintf(&b, "  %s: {}\n", exporter)
	}
	exts := []string{"health_check"}
	if authenticator != "" {
		exts = append(exts, authenticator)
	}
	if strings.Contains(extensions, "memkv/users") {
		exts = append(exts, "memkv/users")
	}
	fmt.Fprintf(&b, `service:
  extensions: [%s]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [%s]
      exporters: [%s]
  telemetry:
    logs:
      level: info
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
`, strings.Join(exts, ", "), processor, exporter, p.metrics)
	return b.String()
}
