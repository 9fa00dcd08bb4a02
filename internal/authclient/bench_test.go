package authclient

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"google.golang.org/grpc/credentials"

	"github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// Benchmarks compare our adapters with contrib's bearertokenauthextension
// v0.165.1 (its real RoundTripper and PerRPCCredentials, static token), in one
// run. Run:
//
//	go test ./internal/authclient -run '^$' -bench . -benchmem -count 6 -benchtime 200ms

const benchToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJlLXBhZGRpbmctdG8tcmVhbGlzdGljLWxlbmd0aA"

func contribExtension(b *testing.B) any {
	b.Helper()
	f := bearertokenauthextension.NewFactory()
	cfg := f.CreateDefaultConfig().(*bearertokenauthextension.Config)
	cfg.BearerToken = benchToken
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(b, err)
	require.NoError(b, ext.Start(context.Background(), componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, ext.Shutdown(context.Background())) })
	return ext
}

// BenchmarkRoundTripper runs each implementation over two bases and two kinds
// of caller:
//
//   - base=transport: a real *http.Transport, as confighttp wires it, whose
//     network part answers at once (authclienttest); base=middleware: any
//     other base, which might edit the request, so ours copies the header map
//     per request.
//   - headers=same: the exporter sends the same headers on every request;
//     headers=per_request: one header value changes on every request (a
//     traceparent), the worst case for ours' shared header map.
//
// Contrib does the same work in every case.
func BenchmarkRoundTripper(b *testing.B) {
	resp := &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}
	bases := []struct {
		name string
		rt   http.RoundTripper
	}{
		{"transport", authclienttest.NewTransport(authclienttest.Responder{Response: resp})},
		{"middleware", authclienttest.Responder{Response: resp}},
	}
	impls := []struct {
		name string
		rt   func(b *testing.B, base http.RoundTripper) http.RoundTripper
	}{
		{"ours", func(b *testing.B, base http.RoundTripper) http.RoundTripper {
			return NewRoundTripper(base, readyHandle(b, staticSource(benchToken)))
		}},
		{"contrib", func(b *testing.B, base http.RoundTripper) http.RoundTripper {
			rt, err := contribExtension(b).(extensionauth.HTTPClient).RoundTripper(base)
			require.NoError(b, err)
			return rt
		}},
	}
	traceparents := make([]string, 1024)
	for i := range traceparents {
		traceparents[i] = fmt.Sprintf("00-%032x-%016x-01", i+1, i+1)
	}
	for _, impl := range impls {
		for _, base := range bases {
			for _, perRequest := range []bool{false, true} {
				headers := "same"
				if perRequest {
					headers = "per_request"
				}
				name := "impl=" + impl.name + "/base=" + base.name + "/headers=" + headers
				// send sends req; with perRequest, req's traceparent value is
				// changed in place first (allowed: the previous call returned).
				send := func(rt http.RoundTripper, req *http.Request, i int) error {
					if perRequest {
						req.Header["Traceparent"][0] = traceparents[i%len(traceparents)]
					}
					_, err := rt.RoundTrip(req)
					return err
				}
				newReq := func(b *testing.B) *http.Request {
					req := exporterRequest(b)
					if perRequest {
						req.Header["Traceparent"] = []string{traceparents[0]}
					}
					return req
				}
				b.Run(name+"/mode=serial", func(b *testing.B) {
					rt, req := impl.rt(b, base.rt), newReq(b)
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						if err := send(rt, req, i); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
				b.Run(name+"/mode=parallel", func(b *testing.B) {
					rt := impl.rt(b, base.rt)
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						req := newReq(b)
						for i := 0; pb.Next(); i++ {
							if err := send(rt, req, i); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		}
	}
}

func BenchmarkGetRequestMetadata(b *testing.B) {
	impls := []struct {
		name  string
		creds func(b *testing.B) credentials.PerRPCCredentials
	}{
		{"impl=ours", func(b *testing.B) credentials.PerRPCCredentials {
			return NewPerRPCCredentials(readyHandle(b, staticSource(benchToken)), true)
		}},
		{"impl=contrib", func(b *testing.B) credentials.PerRPCCredentials {
			c, err := contribExtension(b).(extensionauth.GRPCClient).PerRPCCredentials()
			require.NoError(b, err)
			return c
		}},
	}
	ctx := context.Background()
	aud := []string{"https://127.0.0.1:4317/opentelemetry.proto.collector.trace.v1.TraceService"}
	for _, impl := range impls {
		b.Run(impl.name+"/mode=serial", func(b *testing.B) {
			c := impl.creds(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.GetRequestMetadata(ctx, aud...); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(impl.name+"/mode=parallel", func(b *testing.B) {
			c := impl.creds(b)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.GetRequestMetadata(ctx, aud...); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// --- Design benchmark: how RoundTrip copies the caller's header map. ---
//
// Each variant builds the outgoing request's header map: the caller's entries
// plus the credential, without letting a downstream append write into the
// caller's value arrays. headerWith (copy=clone_clip) is what RoundTrip does
// over a base other than *http.Transport. The request copy itself (one
// 320-byte allocation) is the same for all and left out.

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
