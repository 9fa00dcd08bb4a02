package authclient

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// Design benchmarks: the alternatives behind two choices of this package,
// measured side by side. The comparison with contrib's bearertokenauthextension
// lives in the bench module (bench/authbench). Run:
//
//	go test ./internal/authclient -run '^$' -bench . -benchmem -count 6 -benchtime 200ms

const benchToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJlLXBhZGRpbmctdG8tcmVhbGlzdGljLWxlbmd0aA"

// --- Design benchmark: how RoundTrip copies the caller's header map. ---
//
// Each variant builds the outgoing request's header map: the caller's entries
// plus the credential, without letting a downstream append write into the
// caller's value arrays. headerWith (copy=clone_clip) is what RoundTrip does.
// The request copy itself (one 320-byte allocation) is the same for all and
// left out.

var headerCopies = []struct {
	name string
	copy func(h http.Header, e *tokencache.Entry) http.Header
}{
	// maps.Clone copies the small map's table as is; then value slices with
	// spare capacity are clipped (none in an exporter's request).
	{"copy=clone_clip", headerWith},
	// http.Header.Clone copies every value into one backing array (len == cap
	// by construction, so no clip loop) and inserts key by key: one more
	// allocation.
	{"copy=header_clone", func(h http.Header, e *tokencache.Entry) http.Header {
		c := h.Clone()
		c[e.HeaderName] = e.HeaderValues
		return c
	}},
	// A map pre-sized for the credential, filled in one pass with clipped
	// slices: no clone, no second pass, but every key is hashed again.
	{"copy=make_insert", func(h http.Header, e *tokencache.Entry) http.Header {
		c := make(http.Header, len(h)+1)
		for k, v := range h {
			c[k] = v[:len(v):len(v)]
		}
		c[e.HeaderName] = e.HeaderValues
		return c
	}},
	// The floor, for reference only: not safe (a downstream append into a
	// value slice with spare capacity would write into the caller's array).
	{"copy=clone_unclipped_unsafe", func(h http.Header, e *tokencache.Entry) http.Header {
		c := maps.Clone(h)
		c[e.HeaderName] = e.HeaderValues
		return c
	}},
}

func BenchmarkHeaderCopy(b *testing.B) {
	e := tokencache.NewEntry(tokencache.Token{Value: benchToken}, "Authorization", "Bearer")
	h := exporterRequest(b).Header
	for _, c := range headerCopies {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if out := c.copy(h, e); len(out) != len(h)+1 {
					b.Fatal("credential not added")
				}
			}
		})
	}
}

// The header copy variants must all produce the same map, and the safe ones
// must clip.
func TestHeaderCopyVariantsAgree(t *testing.T) {
	e := tokencache.NewEntry(tokencache.Token{Value: "x"}, "Authorization", "Bearer")
	spare := make([]string, 1, 4)
	spare[0] = "1"
	h := http.Header{"Content-Type": {"application/x-protobuf"}, "X-Multi": spare}
	want := http.Header{"Content-Type": {"application/x-protobuf"}, "X-Multi": {"1"}, "Authorization": {"Bearer x"}}
	for _, c := range headerCopies {
		got := c.copy(h, e)
		require.Equal(t, want, got, c.name)
		if !strings.HasSuffix(c.name, "_unsafe") {
			require.Equal(t, 1, cap(got["X-Multi"]), c.name)
		}
	}
}

func staticSource(v string) tokencache.Source {
	return tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
		return tokencache.Token{Value: v}, nil
	})
}

// --- Design benchmark: how a request obtains the current credential. ---
//
// Each variant returns the header values to send. "atomic" is what the
// adapters do (tokencache.Handle.Current). The others are the alternatives a
// handle could use if it guarded or looked up state per request.

type credReader interface{ read() []string }

type atomicReader struct{ h *tokencache.Handle }

func (a atomicReader) read() []string { return a.h.Current().HeaderValues }

// atomicExpiryReader adds only the per-request clock read and expiry check
// to the atomic load, isolating the cost of time.Now on the request path.
type atomicExpiryReader struct{ h *tokencache.Handle }

func (a atomicExpiryReader) read() []string {
	e := a.h.Current()
	if !time.Now().Before(e.Token.Expiry) {
		return nil
	}
	return e.HeaderValues
}

type mutexReader struct {
	mu sync.Mutex
	e  *tokencache.Entry
}

func (m *mutexReader) read() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.e.HeaderValues
}

type rwMutexReader struct {
	mu sync.RWMutex
	e  *tokencache.Entry
}

func (m *rwMutexReader) read() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.e.HeaderValues
}

// reuseReader is the golang.org/x/oauth2 ReuseTokenSource shape: a mutex plus
// an expiry check against the clock on every request.
type reuseReader struct {
	mu sync.Mutex
	e  *tokencache.Entry
}

func (m *reuseReader) read() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !time.Now().Before(m.e.Token.Expiry) {
		return nil // would fetch here
	}
	return m.e.HeaderValues
}

// syncMapReader looks the credential up per request, keyed by extension ID,
// and checks its expiry.
type syncMapReader struct {
	m   sync.Map
	key string
}

func (s *syncMapReader) read() []string {
	v, ok := s.m.Load(s.key)
	if !ok {
		return nil
	}
	e := v.(*tokencache.Entry)
	if !time.Now().Before(e.Token.Expiry) {
		return nil
	}
	return e.HeaderValues
}

// otterReader looks the credential up in an otter cache whose own expiry
// policy checks the entry's lifetime.
type otterReader struct {
	c   *otter.Cache[string, *tokencache.Entry]
	key string
}

func (o *otterReader) read() []string {
	e, ok := o.c.GetIfPresent(o.key)
	if !ok {
		return nil
	}
	return e.HeaderValues
}

func BenchmarkHandleRead(b *testing.B) {
	entry := tokencache.NewEntry(tokencache.Token{Value: benchToken, Expiry: time.Now().Add(24 * time.Hour)}, "Authorization", "Bearer")
	key := "bearerauth/client"
	readers := []struct {
		name string
		new  func(b *testing.B) credReader
	}{
		{"handle=atomic", func(b *testing.B) credReader {
			src := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) { return entry.Token, nil })
			return atomicReader{h: readyHandle(b, src)}
		}},
		{"handle=atomic_expiry_check", func(b *testing.B) credReader {
			src := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) { return entry.Token, nil })
			return atomicExpiryReader{h: readyHandle(b, src)}
		}},
		{"handle=mutex", func(*testing.B) credReader { return &mutexReader{e: entry} }},
		{"handle=rwmutex", func(*testing.B) credReader { return &rwMutexReader{e: entry} }},
		{"handle=mutex_expiry_check", func(*testing.B) credReader { return &reuseReader{e: entry} }},
		{"handle=syncmap_lookup", func(*testing.B) credReader {
			r := &syncMapReader{key: key}
			r.m.Store(key, entry)
			return r
		}},
		{"handle=otter_lookup", func(b *testing.B) credReader {
			c := otter.Must(&otter.Options[string, *tokencache.Entry]{
				MaximumSize: 16,
				ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *tokencache.Entry]) time.Duration {
					return time.Until(e.Value.Token.Expiry)
				}),
			})
			c.Set(key, entry)
			b.Cleanup(func() { c.StopAllGoroutines() })
			return &otterReader{c: c, key: key}
		}},
	}
	for _, r := range readers {
		b.Run(r.name+"/mode=serial", func(b *testing.B) {
			cr := r.new(b)
			n, iters := 0, 0
			for b.Loop() {
				n += len(cr.read())
				iters++
			}
			if n != iters {
				b.Fatal("no credential read")
			}
		})
		b.Run(r.name+"/mode=parallel", func(b *testing.B) {
			cr := r.new(b)
			b.RunParallel(func(pb *testing.PB) {
				n, iters := 0, 0
				for pb.Next() {
					n += len(cr.read())
					iters++
				}
				if n != iters {
					b.Error("no credential read")
				}
			})
		})
	}
}

// Guard against the benchmark readers silently diverging from each other.
func TestDesignReadersAgree(t *testing.T) {
	entry := tokencache.NewEntry(tokencache.Token{Value: "x", Expiry: time.Now().Add(time.Hour)}, "authorization", "Bearer")
	sm := &syncMapReader{key: "k"}
	sm.m.Store("k", entry)
	for _, r := range []credReader{&mutexReader{e: entry}, &rwMutexReader{e: entry}, &reuseReader{e: entry}, sm} {
		require.Equal(t, []string{"Bearer x"}, r.read())
	}
	require.True(t, strings.HasPrefix(benchToken, "eyJ"))
}
