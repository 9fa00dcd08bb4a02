package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// runPair measures opts.pair: each round is two windows with both collectors running at once,
// the CPUs swapped in the second, so that neither a slow moment of the machine nor a slower
// CPU favours one row. A round's ratio is the geometric mean of its two windows' ratios.
func runPair(opts options, stdout, stderr io.Writer) error {
	a, b := opts.pair[0], opts.pair[1]
	fmt.Fprintf(stderr, "benche2e: pair %s vs %s, %d rounds of 2 windows (CPUs %s and %s, then swapped), warm-up %v, window %v\n",
		a.name, b.name, opts.rounds, opts.pairCPUs[0], opts.pairCPUs[1], opts.warmup, opts.duration)
	fmt.Fprintf(stderr, "benche2e: load average at start: %s\n", loadAverage())
	var as, bs []result
	var cpuRatios, rateRatios []float64
	var failed []string
	for round := 1; round <= opts.rounds; round++ {
		cpuR, rateR := 1.0, 1.0
		for half := range 2 {
			cpuA, cpuB := opts.pairCPUs[half], opts.pairCPUs[1-half]
			ra, rb, err := measurePair(opts, a, b, cpuA, cpuB)
			if err != nil {
				return fmt.Errorf("round %d, window %d: %w", round, half+1, err)
			}
			for _, x := range []struct {
				res result
				cpu string
			}{{ra, cpuA}, {rb, cpuB}} {
				fmt.Fprintf(stderr, "round %d.%d %-20s CPU %s %9.0f spans/s accepted, %.3f CPU-s/100k spans, %.2f cores, %d failed exports\n",
					round, half+1, x.res.row, x.cpu, x.res.spansPerSec, x.res.cpuPer100k, x.res.cores, x.res.failures)
				if x.res.failures > 0 || x.res.spansPerSec == 0 || !x.res.acceptedInRange {
					failed = append(failed, fmt.Sprintf("round %d.%d, row %s: %d failed exports (last: %q), %.0f spans/s accepted, receiver metric %.0f spans/s",
						round, half+1, x.res.row, x.res.failures, x.res.lastError, x.res.spansPerSec, x.res.metricPerSec))
				}
			}
			as, bs = append(as, ra), append(bs, rb)
			cpuR *= pairRatio(rb.cpuPer100k, ra.cpuPer100k)
			rateR *= pairRatio(ra.spansPerSec, rb.spansPerSec)
		}
		cpuRatios = append(cpuRatios, math.Sqrt(cpuR))
		rateRatios = append(rateRatios, math.Sqrt(rateR))
	}
	fmt.Fprintf(stderr, "benche2e: load average at end: %s\n", loadAverage())
	writePairTable(stdout, opts, as, bs, cpuRatios, rateRatios)
	if len(failed) > 0 {
		return fmt.Errorf("%d runs are not valid measurements:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

// pairRatio is num/den, or 0 when den is 0 (an invalid run, reported as such).
func pairRatio(num, den float64) float64 {
	if den == 0 {
		return 0
	}
	return num / den
}

func writePairTable(w io.Writer, opts options, as, bs []result, cpuRatios, rateRatios []float64) {
	medianOf := func(rs []result, f func(result) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	fmt.Fprintf(w, "\n| row | config | spans/s accepted | CPU-s per 100k spans | collector cores |\n|---|---|---:|---:|---:|\n")
	for i, rs := range [][]result{as, bs} {
		r := opts.pair[i]
		fmt.Fprintf(w, "| %s | %s | %s | %.3f | %.2f |\n", r.name, r.desc,
			thousands(medianOf(rs, func(x result) float64 { return x.spansPerSec })),
			medianOf(rs, func(x result) float64 { return x.cpuPer100k }),
			medianOf(rs, func(x result) float64 { return x.cores }))
	}
	list := func(xs []float64) string {
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = fmt.Sprintf("%.2f", x)
		}
		return strings.Join(s, " ")
	}
	a, b := opts.pair[0].name, opts.pair[1].name
	fmt.Fprintf(w, "\n%s / %s, spans per CPU-s: **%.2fx** (median of %d rounds: %s)\n", a, b, median(cpuRatios), len(cpuRatios), list(cpuRatios))
	fmt.Fprintf(w, "%s / %s, spans/s accepted: %.2fx (rounds: %s)\n", a, b, median(rateRatios), list(rateRatios))
	fmt.Fprintf(w, "\nboth collectors under load at once, one CPU each (%s, %s; swapped every other window); a round's ratio is the "+
		"geometric mean of its two windows'; %v window after %v warm-up, %d connections x %d streams each, %d-span requests\n",
		opts.pairCPUs[0], opts.pairCPUs[1], opts.duration, opts.warmup, opts.connections, opts.streams, loadSpans)
}
