package redistest

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// Sentinel is a master and one sentinel that monitors it under MasterSet.
type Sentinel struct {
	Master    *Server
	Sentinel  *Server
	MasterSet string
}

// StartSentinel starts a master (with opts) and one redis-sentinel watching it
// with quorum 1, and waits until the sentinel reports the master's address.
// WithPassword applies to the master; the sentinel learns it via auth-user /
// auth-pass and itself accepts connections without a password.
func StartSentinel(t testing.TB, masterSet string, opts ...Option) *Sentinel {
	t.Helper()
	m := Start(t, opts...)
	s := newServer(t, options{}, []string{"--sentinel"})
	s.startWithRetry(func() {
		s.Port = FreePort(t)
		lines := [][2]string{
			{"sentinel resolve-hostnames", "no"},
			{"sentinel monitor", masterSet + " 127.0.0.1 " + strconv.Itoa(m.Port) + " 1"},
			{"sentinel down-after-milliseconds", masterSet + " 2000"},
		}
		if m.opts.password != "" {
			if m.opts.user != "" {
				lines = append(lines, [2]string{"sentinel auth-user", masterSet + " " + m.opts.user})
			}
			lines = append(lines, [2]string{"sentinel auth-pass", masterSet + " " + m.opts.password})
		}
		// Sentinel rejects the data-set directives of redis.conf, so write its own.
		s.writeSentinelConfig(lines)
	})
	sn := &Sentinel{Master: m, Sentinel: s, MasterSet: masterSet}
	deadline := time.Now().Add(startTimeout)
	for {
		out, err := s.TryCLI("SENTINEL", "get-master-addr-by-name", masterSet)
		if err == nil && strings.Contains(out, strconv.Itoa(m.Port)) {
			return sn
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: sentinel does not know master %q: %q %v", masterSet, out, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) writeSentinelConfig(lines [][2]string) {
	s.t.Helper()
	var b strings.Builder
	for _, l := range append([][2]string{
		{"bind", "127.0.0.1"},
		{"port", strconv.Itoa(s.Port)},
		{"dir", s.dir},
		{"logfile", `""`},
		{"protected-mode", "no"},
	}, lines...) {
		b.WriteString(l[0] + " " + l[1] + "\n")
	}
	if err := writeFile(s.conf, b.String()); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
}

// Addrs are the sentinel addresses (what a client is configured with).
func (sn *Sentinel) Addrs() []string { return []string{sn.Sentinel.Addr()} }
