//go:build !unix

package kvcachebench

import "time"

// processCPU is not measured here: the benchmark reports no cpu-ns/span.
func processCPU() time.Duration { return 0 }
