package redistest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of masters without replicas on 127.0.0.1, built with
// `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes`.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts n (at least 3) cluster-enabled servers, joins them into a
// cluster that covers all 16384 slots and waits until every node reports
// cluster_state:ok. Options apply to every node (WithTLS is not supported here).
func StartCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	if n < 3 {
		t.Fatalf("redistest: a cluster needs at least 3 masters, got %d", n)
	}
	var o options
	for _, fn := range opts {
		fn(&o)
	}
	if o.tls {
		t.Fatal("redistest: WithTLS is not supported for clusters")
	}
	c := &Cluster{}
	for range n {
		s := newServer(t, o, nil)
		s.startWithRetry(func() {
			// The cluster bus port is given explicitly (cluster-port) so that both
			// ports are known to be free, instead of the implicit port+10000.
			s.Port = FreePort(t)
			s.writeConfig([][2]string{
				{"cluster-enabled", "yes"},
				{"cluster-config-file", "nodes.conf"},
				{"cluster-port", strconv.Itoa(FreePort(t))},
				{"cluster-node-timeout", "3000"},
			})
		})
		c.Nodes = append(c.Nodes, s)
	}
	args := append(c.Nodes[0].cliArgs()[4:], "--cluster", "create")
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := runCLI(c.Nodes[0].cli, args); err != nil || !strings.Contains(out, "All 16384 slots covered") {
		t.Fatalf("redistest: redis-cli --cluster create failed: %v\n%s", err, out)
	}
	c.WaitReady(t)
	return c
}

// WaitReady waits (up to 20 s) until every running node reports cluster_state:ok
// and knows all the other nodes.
func (c *Cluster) WaitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	want := "cluster_known_nodes:" + strconv.Itoa(len(c.Nodes))
	for {
		ready := true
		for _, s := range c.Nodes {
			out, err := s.TryCLI("CLUSTER", "INFO")
			if err != nil || !strings.Contains(out, "cluster_state:ok") || !strings.Contains(out, want) {
				ready = false
				break
			}
		}
		if ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: cluster not ready after 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Addrs are the host:port of every node.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr()
	}
	return addrs
}

// CLI runs redis-cli in cluster mode (-c, following redirections) against the
// first running node.
func (c *Cluster) CLI(t testing.TB, args ...string) string {
	t.Helper()
	for _, s := range c.Nodes {
		if s.Running() {
			out, err := runCLI(s.cli, append(append(s.cliArgs(), "-c"), args...))
			if err != nil {
				t.Fatalf("redistest: redis-cli -c %s: %v", strings.Join(args, " "), err)
			}
			return out
		}
	}
	t.Fatal("redistest: no cluster node is running")
	return ""
}

// CommandStats sums Server.CommandStats over all nodes.
func (c *Cluster) CommandStats(t testing.TB) map[string]int {
	t.Helper()
	sum := map[string]int{}
	for _, s := range c.Nodes {
		for k, v := range s.CommandStats(t) {
			sum[k] += v
		}
	}
	return sum
}

// ResetStats resets the statistics of every node.
func (c *Cluster) ResetStats(t testing.TB) {
	t.Helper()
	for _, s := range c.Nodes {
		s.ResetStats(t)
	}
}

// KeySlot asks the cluster for the hash slot of key (CLUSTER KEYSLOT).
func (c *Cluster) KeySlot(t testing.TB, key string) int {
	t.Helper()
	n, err := strconv.Atoi(c.CLI(t, "CLUSTER", "KEYSLOT", key))
	if err != nil {
		t.Fatalf("redistest: CLUSTER KEYSLOT: %v", err)
	}
	return n
}

// KeySlots asks the cluster for the hash slot of every key, with one redis-cli
// run (commands on stdin, one CLUSTER KEYSLOT per key).
func (c *Cluster) KeySlots(t testing.TB, keys []string) []int {
	t.Helper()
	var in strings.Builder
	for _, k := range keys {
		in.WriteString("CLUSTER KEYSLOT " + quoteArg(k) + "\n")
	}
	s := c.Nodes[0]
	out, err := runCLIInput(s.cli, s.cliArgs(), in.String())
	if err != nil {
		t.Fatalf("redistest: CLUSTER KEYSLOT: %v", err)
	}
	lines := strings.Split(out, "\n")
	if len(lines) != len(keys) {
		t.Fatalf("redistest: CLUSTER KEYSLOT: %d replies for %d keys: %q", len(lines), len(keys), out)
	}
	slots := make([]int, len(keys))
	for i, l := range lines {
		if slots[i], err = strconv.Atoi(strings.TrimSpace(l)); err != nil {
			t.Fatalf("redistest: CLUSTER KEYSLOT %q: %q", keys[i], l)
		}
	}
	return slots
}

// quoteArg quotes an argument for redis-cli's input parser: double quotes, with
// backslash, quote and every byte outside printable ASCII as \xHH.
func quoteArg(a string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case c == '\\' || c == '"' || c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// SlotOwners returns the master serving each of the 16384 slots, parsed from
// CLUSTER NODES (nil for an unassigned slot).
func (c *Cluster) SlotOwners(t testing.TB) []*Server {
	t.Helper()
	owners := make([]*Server, 16384)
	byAddr := map[string]*Server{}
	for _, s := range c.Nodes {
		byAddr[s.Addr()] = s
	}
	// Lines look like: <id> 127.0.0.1:port@bus myself,master - 0 0 1 connected 0-5460
	for _, line := range strings.Split(c.CLI(t, "CLUSTER", "NODES"), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		for _, r := range f[8:] {
			lo, hi, found := strings.Cut(r, "-")
			if !found {
				hi = lo
			}
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil || l < 0 || h >= len(owners) {
				continue // importing/migrating markers like [123->-id]
			}
			for slot := l; slot <= h; slot++ {
				owners[slot] = byAddr[addr]
			}
		}
	}
	return owners
}

// NodeForSlot returns the master that serves slot.
func (c *Cluster) NodeForSlot(t testing.TB, slot int) *Server {
	t.Helper()
	if s := c.SlotOwners(t)[slot]; s != nil {
		return s
	}
	t.Fatalf("redistest: no node serves slot %d", slot)
	return nil
}
