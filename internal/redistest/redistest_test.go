package redistest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseCommandStats(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_mget:calls=3,usec=4,usec_per_call=1.33,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|tracking:calls=2,usec=1,usec_per_call=0.50,rejected_calls=0,failed_calls=0\r\n"
	assert.Equal(t, map[string]int{"mget": 3, "client|tracking": 2}, parseCommandStats(t, info))
}

func TestIsErrorReply(t *testing.T) {
	assert.True(t, isErrorReply("ERR unknown command 'FOO'"))
	assert.True(t, isErrorReply("WRONGPASS invalid username-password pair"))
	assert.False(t, isErrorReply("OK"))
	assert.False(t, isErrorReply("ERRATIC value"))
}

func TestStandaloneRestart(t *testing.T) {
	s := Start(t)
	assert.Equal(t, "OK", s.CLI(t, "SET", "k", "v"))
	assert.Equal(t, "v", s.CLI(t, "GET", "k"))
	_, err := s.TryCLI("NOSUCHCOMMAND")
	require.Error(t, err)

	s.ResetStats(t)
	s.CLI(t, "MGET", "a", "b")
	s.CLI(t, "MGET", "a")
	assert.Equal(t, 2, s.CommandStats(t)["mget"])

	assert.Equal(t, "OK", s.CLI(t, "DEBUG", "SLEEP", "0"), "DEBUG is enabled for fault tests")
	s.Pause(t, 300*time.Millisecond)
	start := time.Now()
	assert.Equal(t, "PONG", s.CLI(t, "PING"))
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "a paused server holds commands")

	port := s.Port
	s.Stop()
	assert.False(t, s.Running())
	_, err = s.TryCLI("PING")
	require.Error(t, err, "a stopped server must not answer")
	s.Restart()
	assert.Equal(t, port, s.Port)
	assert.Equal(t, "PONG", s.CLI(t, "PING"))
	assert.Empty(t, s.CLI(t, "GET", "k"), "without WithKeepData a restart starts empty")
}

func TestKeepData(t *testing.T) {
	s := Start(t, WithKeepData())
	s.CLI(t, "SET", "k", "v")
	s.Restart()
	assert.Equal(t, "v", s.CLI(t, "GET", "k"))
	s.Kill()
	assert.False(t, s.Running())
}

func TestACL(t *testing.T) {
	s := Start(t, WithPassword("app", "s3cret"))
	assert.Equal(t, "PONG", s.CLI(t, "PING"))
	assert.Equal(t, "app", s.CLI(t, "ACL", "WHOAMI"))
	// Without credentials the server refuses.
	out, err := runCLI(s.cli, []string{"-p", strconv.Itoa(s.Port), "GET", "k"})
	require.Error(t, err)
	assert.Contains(t, out, "NOAUTH")
}

func TestRequirePass(t *testing.T) {
	s := Start(t, WithPassword("", "s3cret"))
	assert.Equal(t, "default", s.CLI(t, "ACL", "WHOAMI"))
}

func TestTLS(t *testing.T) {
	s := Start(t, WithTLS(true))
	require.NotEmpty(t, s.TLSAddr())
	c, err := tls.Dial("tcp", s.TLSAddr(), s.TLS().ClientConfig(t))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("*1\r\n$4\r\nPING\r\n"))
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "+PONG\r\n", line)
	s.Restart()
	assert.Equal(t, "PONG", s.CLI(t, "PING"))
}

func TestCluster(t *testing.T) {
	c := StartCluster(t, 3)
	require.Len(t, c.Addrs(), 3)
	// Keys spread over the nodes; -c follows MOVED.
	seen := map[string]bool{}
	for i := range 12 {
		k := "key" + strconv.Itoa(i)
		c.CLI(t, "SET", k, "v"+strconv.Itoa(i))
		assert.Equal(t, "v"+strconv.Itoa(i), c.CLI(t, "GET", k))
		n := c.NodeForSlot(t, c.KeySlot(t, k))
		assert.Equal(t, "v"+strconv.Itoa(i), n.CLI(t, "GET", k), "the owner answers without redirect")
		seen[n.Addr()] = true
	}
	assert.Len(t, seen, 3)
	assert.Equal(t, 12182, c.KeySlot(t, "foo"))
	keys := []string{"foo", "{user1000}.following", "with space", `q"uote\\`, "ü✓", "line\nbreak"}
	slots := c.KeySlots(t, keys)
	for i, k := range keys {
		assert.Equal(t, c.KeySlot(t, k), slots[i], "key %q", k)
	}
	owners := c.SlotOwners(t)
	for _, o := range owners {
		require.NotNil(t, o, "every slot is served")
	}
	c.ResetStats(t)
	c.CLI(t, "GET", "key1")
	assert.Equal(t, 1, c.CommandStats(t)["get"])

	c.Nodes[1].Restart()
	c.WaitReady(t)
}

func TestSentinel(t *testing.T) {
	sn := StartSentinel(t, "mymaster")
	out := sn.Sentinel.CLI(t, "SENTINEL", "get-master-addr-by-name", "mymaster")
	assert.True(t, strings.HasSuffix(out, strconv.Itoa(sn.Master.Port)), out)
	assert.Len(t, sn.Addrs(), 1)
}

// fakeTB records Skip and Fatal instead of stopping the goroutine.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                      {}
func (f *fakeTB) Skip(args ...any)             { f.skipped = fmt.Sprint(args...) }
func (f *fakeTB) Fatal(args ...any)            { f.failed = fmt.Sprint(args...) }
func (f *fakeTB) Fatalf(s string, args ...any) { f.failed = fmt.Sprintf(s, args...) }

func TestMissingRedis(t *testing.T) {
	dirs := fallbackDirs
	t.Cleanup(func() { fallbackDirs = dirs })
	fallbackDirs = nil
	t.Setenv("PATH", t.TempDir())

	t.Setenv("CI", "")
	f := &fakeTB{TB: t}
	binaries(f)
	assert.Contains(t, f.skipped, InstallHint, "outside CI a missing Redis skips with the install command")
	assert.Empty(t, f.failed)
	assert.False(t, Available())

	t.Setenv("CI", "true")
	f = &fakeTB{TB: t}
	binaries(f)
	assert.Contains(t, f.failed, "CI is set")
	assert.Contains(t, f.failed, InstallHint)
	assert.Empty(t, f.skipped)
}
