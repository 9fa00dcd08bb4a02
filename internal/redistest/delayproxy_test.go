package redistest

import (
	"bufio"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDelayProxy: every command through the proxy is answered no sooner than the
// delay, and commands sent together overlap (they take one delay, not several).
func TestDelayProxy(t *testing.T) {
	s := Start(t)
	const delay = 300 * time.Millisecond
	p := StartDelayProxy(t, s.Addr(), delay)
	var wg sync.WaitGroup
	start := time.Now()
	for range 5 {
		wg.Go(func() {
			c, err := net.Dial("tcp", p.Addr())
			if !assert.NoError(t, err) {
				return
			}
			defer c.Close()
			_, err = c.Write([]byte("PING\r\n"))
			assert.NoError(t, err)
			line, err := bufio.NewReader(c).ReadString('\n')
			assert.NoError(t, err)
			assert.Equal(t, "+PONG\r\n", line)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	require.GreaterOrEqual(t, elapsed, delay)
	assert.Less(t, elapsed, 4*delay, "concurrent commands were delayed one after another")
	t.Logf("5 concurrent PINGs through a %v proxy: %v", delay, elapsed)
}
