package rediskvext

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/otelcol-custom/otelcol-custom/internal/redistest"
)

const (
	benchBatch     = 1000
	benchValueSize = 64
)

// BenchmarkColdGet measures cold batch reads of 1,000 keys (no local cache: every
// Get is a round trip to a real redis-server on loopback) and, on the same
// server in the same run, the peer the issue names:
//
//	redis-benchmark -P 100 -t get -n 1000000 -q
//
// (50 connections, 100 pipelined GETs each; here -n is b.N*1000 so that one op
// is 1,000 GETs on both sides, and the key it reads holds a value of the same
// size as ours). Both report keys/s; the target is rediskv's keys/s at
// least half of redis-benchmark's. Each rediskv op must be exactly one MGET,
// which is checked with INFO commandstats.
//
//	go test -run '^$' -bench BenchmarkColdGet -benchtime 2s ./extension/rediskvext/
func BenchmarkColdGet(b *testing.B) {
	srv := redistest.Start(b)
	value := strings.Repeat("v", benchValueSize)
	keys := make([]string, benchBatch)
	var set strings.Builder
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
		set.WriteString("bench:" + keys[i] + " " + value + " ")
	}
	srv.CLI(b, append([]string{"MSET"}, strings.Fields(set.String())...)...)
	srv.CLI(b, "SET", "key:__rand_int__", value) // what redis-benchmark -t get reads

	cfg := standaloneConfig(srv, "bench:")
	e, _ := startExt(b, cfg)
	s := storeOf(b, e)

	b.Run("rediskv/mget-1000", func(b *testing.B) {
		srv.ResetStats(b)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			res, err := s.Get(ctx, keys)
			if err != nil || len(res) != benchBatch || !res[benchBatch-1].Found {
				b.Fatalf("Get: %v", err)
			}
		}
		reportKeysPerSecond(b, b.N*benchBatch)
		checkOneMGETPerBatch(b, srv, b.N)
	})

	b.Run("rediskv/mget-1000-parallel", func(b *testing.B) {
		srv.ResetStats(b)
		var calls atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				res, err := s.Get(ctx, keys)
				if err != nil || len(res) != benchBatch {
					b.Errorf("Get: %v", err)
					return
				}
				calls.Add(1)
			}
		})
		reportKeysPerSecond(b, b.N*benchBatch)
		checkOneMGETPerBatch(b, srv, int(calls.Load()))
	})

	b.Run("redis-benchmark/P100-get", func(b *testing.B) {
		bin, err := exec.LookPath("redis-benchmark")
		if err != nil {
			b.Skip("redis-benchmark not installed: " + redistest.InstallHint)
		}
		b.ResetTimer()
		out, err := exec.Command(bin, "-h", "127.0.0.1", "-p", strconv.Itoa(srv.Port),
			"-P", "100", "-t", "get", "-n", strconv.Itoa(b.N*benchBatch), "-q").CombinedOutput()
		b.StopTimer()
		if err != nil {
			b.Fatalf("redis-benchmark: %v\n%s", err, out)
		}
		rps, ok := parseRedisBenchmark(string(out))
		if !ok {
			b.Fatalf("cannot parse redis-benchmark output: %q", out)
		}
		// redis-benchmark's own figure excludes its start-up, which favours the peer.
		b.ReportMetric(rps, "keys/s")
	})
}

func reportKeysPerSecond(b *testing.B, keys int) {
	if sec := b.Elapsed().Seconds(); sec > 0 {
		b.ReportMetric(float64(keys)/sec, "keys/s")
	}
}

func checkOneMGETPerBatch(b *testing.B, srv *redistest.Server, batches int) {
	stats := srv.CommandStats(b)
	if stats["mget"] != batches || stats["get"] != 0 {
		b.Fatalf("want exactly one MGET per batch: %d batches, commandstats mget=%d get=%d", batches, stats["mget"], stats["get"])
	}
}

var redisBenchmarkRPS = regexp.MustCompile(`GET: ([0-9.]+) requests per second`)

// parseRedisBenchmark reads the GET rate from `redis-benchmark -q` output, whose
// progress lines are separated by carriage returns.
func parseRedisBenchmark(out string) (float64, bool) {
	m := redisBenchmarkRPS.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[len(m)-1][1], 64)
	return v, err == nil
}

func TestParseRedisBenchmark(t *testing.T) {
	out := "GET: rps=0.0 (overall: nan) avg_msec=nan (overall: nan)\r" +
		"GET: 1851851.88 requests per second, p50=1.183 msec                    \n"
	v, ok := parseRedisBenchmark(out)
	if !ok || v != 1851851.88 {
		t.Fatalf("got %v %v", v, ok)
	}
	if _, ok := parseRedisBenchmark("garbage"); ok {
		t.Fatal("garbage parsed")
	}
}
