package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux
// architecture Go supports (the kernel converts to it whatever its internal HZ is).
const clockTicks = 100

// cpuSeconds returns the user + system CPU time of process pid (all its threads).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) from a /proc/<pid>/stat line. The
// command name (field 2, in parentheses) may contain spaces and ')', so fields are counted
// from the last ')'.
func parseStatCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	utime, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc stat: utime: %w", err)
	}
	stime, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc stat: stime: %w", err)
	}
	return float64(utime+stime) / clockTicks, nil
}

// A starved collector (a busy shared machine) may take long to answer.
var scrapeClient = &http.Client{Timeout: 30 * time.Second}

// scrape returns the collector's own metrics in Prometheus text format.
func scrape(port int) (string, error) {
	resp, err := scrapeClient.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("metrics endpoint: HTTP %d", resp.StatusCode)
	}
	return string(b), nil
}

// sumMetric adds the samples of the metric called name (or name_total: the Prometheus exporter
// suffixes counters) whose labels contain every label in match (`key="value"`).
func sumMetric(text, name string, match ...string) float64 {
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		metric, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		labels := ""
		if j := strings.IndexByte(metric, '{'); j >= 0 {
			// label values may contain spaces: re-split at the closing brace
			end := strings.LastIndexByte(line, '}')
			if end < j {
				continue
			}
			metric, labels, rest = line[:j], line[j:end+1], strings.TrimSpace(line[end+1:])
		}
		if metric != name && metric != name+"_total" {
			continue
		}
		matched := true
		for _, m := range match {
			if !strings.Contains(labels, m) {
				matched = false
				break
			}
		}
		if !matched {
			continue
		}
		value, _, _ := strings.Cut(strings.TrimSpace(rest), " ") // an optional timestamp follows
		v, err := strconv.ParseFloat(value, 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}
