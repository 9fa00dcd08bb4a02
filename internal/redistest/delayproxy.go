package redistest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// DelayProxy is a TCP proxy on loopback in front of a server that holds every
// chunk a client sends for a fixed delay before passing it on (replies flow at
// once): each command reaches the server that much later, and commands sent
// meanwhile overlap, as with a slow but healthy server. CLIENT PAUSE and DEBUG
// SLEEP stall the whole server instead, which delays calls in a queue rather than
// each by the same amount.
type DelayProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

// StartDelayProxy starts a proxy to target (host:port) on a random loopback port;
// it stops when the test ends.
func StartDelayProxy(t testing.TB, target string, delay time.Duration) *DelayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &DelayProxy{ln: ln, target: target, delay: delay}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's host:port.
func (p *DelayProxy) Addr() string { return p.ln.Addr().String() }

// Close stops accepting, closes every connection and waits for its goroutines.
func (p *DelayProxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *DelayProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns = append(p.conns, cs...)
	return true
}

func (p *DelayProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		if !p.track(client, server) {
			_ = client.Close()
			_ = server.Close()
			return
		}
		p.wg.Add(3)
		go func() { // replies: at once
			defer p.wg.Done()
			buf := make([]byte, 32<<10)
			for {
				n, err := server.Read(buf)
				if n > 0 {
					if _, werr := client.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			_ = client.Close()
		}()
		type chunk struct {
			data []byte
			at   time.Time
		}
		chunks := make(chan chunk, 4096)
		go func() { // commands: read as they come
			defer p.wg.Done()
			defer close(chunks)
			for {
				buf := make([]byte, 32<<10)
				n, err := client.Read(buf)
				if n > 0 {
					chunks <- chunk{buf[:n], time.Now().Add(p.delay)}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() { // ... and passed on delay later, in order
			defer p.wg.Done()
			for c := range chunks {
				time.Sleep(time.Until(c.at))
				if _, err := server.Write(c.data); err != nil {
					break
				}
			}
			_ = server.Close()
			for range chunks { // let the reader finish
			}
		}()
	}
}
