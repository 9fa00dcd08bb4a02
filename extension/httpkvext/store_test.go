package httpkvext

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-custom/otelcol-custom/extension/httpkvext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
)

// shapes runs f in both request shapes against one fresh server each.
func shapes(t *testing.T, f func(t *testing.T, srv *apiServer, cfg *Config)) {
	for _, sh := range []struct {
		name string
		cfg  func(*apiServer) *Config
	}{{ModePerKey, perKeyConfig}, {ModeBulk, bulkConfig}} {
		t.Run(sh.name, func(t *testing.T) {
			srv := newAPIServer(t)
			f(t, srv, sh.cfg(srv))
		})
	}
}

// TestKeyEscaping: keys with '/', '?', '%', '#', spaces and unicode reach the API
// intact: in a path segment they are percent-encoded (a '/' never splits the
// path, a '?' never starts the query), in the query they are query-escaped, and
// in bulk mode they travel as JSON strings.
func TestKeyEscaping(t *testing.T) {
	keys := []string{"a/b", "what?x=1", "100%", "50%2F", "frag#ment", "with space", "ünï/cödé ✓", "../etc/passwd", "plus+sign"}
	for _, tc := range []struct {
		name string
		cfg  func(*apiServer) *Config
	}{
		{"path", perKeyConfig},
		{"query", func(s *apiServer) *Config {
			c := perKeyConfig(s)
			c.PerKey.Path = perKeyPrefix + "lookup?id={key}&fields=all"
			return c
		}},
		{"bulk", bulkConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAPIServer(t)
			for _, k := range keys {
				srv.put(k, "value of "+k)
			}
			s := newStore(t, tc.cfg(srv))
			res, err := s.Get(ctxT(t), keys)
			require.NoError(t, err)
			for i, k := range keys {
				require.True(t, res[i].Found, "key %q", k)
				assert.Equal(t, "value of "+k, string(res[i].Value), "key %q", k)
			}
			if tc.name == "path" {
				assert.Contains(t, srv.seenPaths, "/kv/a%2Fb?", "'/' is escaped inside the segment")
				assert.Contains(t, srv.seenPaths, "/kv/what%3Fx=1?", "'?' does not start a query")
				assert.Contains(t, srv.seenPaths, "/kv/100%25?")
				assert.Contains(t, srv.seenPaths, "/kv/..%2Fetc%2Fpasswd?", "no path traversal")
			}
			if tc.name == "query" {
				assert.Contains(t, srv.seenPaths, "/kv/lookup?id=a%2Fb&fields=all")
				assert.Contains(t, srv.seenPaths, "/kv/lookup?id=plus%2Bsign&fields=all", "'+' is not a space")
			}
		})
	}
}

// TestNotFound: a 404 (per key) or a key the bulk answer lacks is "not found",
// not an error; found keys around it come back in order.
func TestNotFound(t *testing.T) {
	shapes(t, func(t *testing.T, srv *apiServer, cfg *Config) {
		srv.put("present", "yes")
		s := newStore(t, cfg)
		res, err := s.Get(ctxT(t), []string{"missing", "present", "missing-too", "present"})
		require.NoError(t, err)
		assert.Equal(t, []kvcache.Result{{}, {Value: []byte("yes"), Found: true}, {}, {Value: []byte("yes"), Found: true}}, res)
	})
}

// TestDistinctKeys: a repeated key is asked for once.
func TestDistinctKeys(t *testing.T) {
	shapes(t, func(t *testing.T, srv *apiServer, cfg *Config) {
		srv.put("a", "1", "b", "2")
		s := newStore(t, cfg)
		_, err := s.Get(ctxT(t), []string{"a", "b", "a", "a", "b"})
		require.NoError(t, err)
		if cfg.Mode == ModeBulk {
			require.Equal(t, [][]string{{"a", "b"}}, srv.seenBulk, "one POST with the distinct keys")
		} else {
			assert.Equal(t, int64(2), srv.requests.Load(), "one GET per distinct key")
		}
	})
}

// TestStatusErrors: any status but 200 (and a per-key 404) fails the call with an
// error naming the status; the body the server sent (which could echo a token)
// is never part of it; an unused body is drained boundedly.
func TestStatusErrors(t *testing.T) {
	const secret = "Bearer leaked-in-body-s3cr3t"
	for _, code := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusForbidden, http.StatusTooManyRequests, 599} {
		shapes(t, func(t *testing.T, srv *apiServer, cfg *Config) {
			srv.put("k", "v")
			srv.setFault(func(w http.ResponseWriter, _ *http.Request) bool {
				w.WriteHeader(code)
				_, _ = w.Write([]byte("error details: " + secret))
				return true
			})
			s := newStore(t, cfg)
			_, err := s.Get(ctxT(t), []string{"k", "other"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "unexpected status "+itoa(code))
			if text := http.StatusText(code); text != "" {
				assert.Contains(t, err.Error(), text)
			}
			assert.NotContains(t, err.Error(), "leaked-in-body")
			assert.NotContains(t, err.Error(), srv.URL, "the URL (with the key) is not echoed")
		})
	}
}

// TestBulkEndpointMissing: a 404 on the bulk endpoint is an error (the endpoint
// or bulk::path is wrong), not "every key is missing".
func TestBulkEndpointMissing(t *testing.T) {
	srv := newAPIServer(t)
	cfg := bulkConfig(srv)
	cfg.Bulk.Path = "/no-such-batch"
	s := newStore(t, cfg)
	_, err := s.Get(ctxT(t), []string{"k"})
	require.ErrorContains(t, err, "unexpected status 404 Not Found")
	assert.ErrorContains(t, err, "POST /no-such-batch")
}

// TestSlowServer: a server that does not answer fails the call at the client's
// timeout, or earlier at the caller's deadline (wrapping its error), promptly.
func TestSlowServer(t *testing.T) {
	shapes(t, func(t *testing.T, srv *apiServer, cfg *Config) {
		srv.put("k", "v")
		release := make(chan struct{})
		var once sync.Once
		t.Cleanup(func() { once.Do(func() { close(release) }) })
		srv.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		})
		cfg.Timeout = 150 * time.Millisecond
		s := newStore(t, cfg)

		start := time.Now()
		_, err := s.Get(ctxT(t), []string{"k", "k2", "k3"})
		require.Error(t, err)
		assert.Less(t, time.Since(start), 3*time.Second, "the client timeout bounds the call")
		assert.Equal(t, outcomeTimeout, outcomeOf(err), "classified as a timeout: %v", err)

		cfg2 := *cfg
		cfg2.Timeout = time.Minute
		s2 := newStore(t, &cfg2)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start = time.Now()
		_, err = s2.Get(ctx, []string{"k"})
		require.ErrorIs(t, err, context.DeadlineExceeded, "the caller's deadline")
		assert.Less(t, time.Since(start), 3*time.Second)
	})
}

// TestOversizedBody: a body over max_response_size fails the call with a clear
// error, whether the server announces its length or streams it.
func TestOversizedBody(t *testing.T) {
	for _, streamed := range []bool{false, true} {
		shapes(t, func(t *testing.T, srv *apiServer, cfg *Config) {
			big := strings.Repeat("x", 2000)
			srv.setFault(func(w http.ResponseWriter, _ *http.Request) bool {
				body := `{"k":"` + big + `"}`
				if streamed {
					_, _ = w.Write([]byte(body[:10]))
					w.(http.Flusher).Flush() // no Content-Length: chunked
					_, _ = w.Write([]byte(body[10:]))
				} else {
					w.Header().Set("Content-Length", itoa(len(body)))
					_, _ = w.Write([]byte(body))
				}
				return true
			})
			cfg.MaxResponseSize = 1000
			s := newStore(t, cfg)
			_, err := s.Get(ctxT(t), []string{"k"})
			require.ErrorContains(t, err, "response body exceeds max_response_size (1000 bytes)")
			assert.Equal(t, outcomeTooLarge, outcomeOf(err))

			cfg.MaxResponseSize = 4000 // the same answer fits
			s = newStore(t, cfg)
			res, err := s.Get(ctxT(t), []string{"k"})
			require.NoError(t, err)
			require.True(t, res[0].Found)
		})
	}
}

// TestValuePointer: the pointer selects the value inside the per-key body or
// inside each bulk value. A string reaches the processor as its text, anything
// else as its JSON text; a pointer that leads nowhere or to null is not found;
// an answer that is not JSON is an error.
func TestValuePointer(t *testing.T) {
	shapes(t, func(t *testing.T, srv *apiServer, cfg *Config) {
		srv.putJSON("obj", `{"data": {"owner": {"team": "payments", "tier": 1}, "other": 2}}`)
		srv.putJSON("str", `{"data": {"owner": "alice"}}`)
		srv.putJSON("num", `{"data": {"owner": 42}}`)
		srv.putJSON("arr", `{"data": {"owner": ["a", "b"]}}`)
		srv.putJSON("null", `{"data": {"owner": null}}`)
		srv.putJSON("lacking", `{"data": {}}`)
		srv.putJSON("scalar", `{"data": 7}`)
		cfg.ValuePointer = "/data/owner"
		s := newStore(t, cfg)
		res, err := s.Get(ctxT(t), []string{"obj", "str", "num", "arr", "null", "lacking", "scalar", "absent"})
		require.NoError(t, err)
		assert.JSONEq(t, `{"team": "payments", "tier": 1}`, string(res[0].Value))
		assert.Equal(t, kvcache.Result{Value: []byte("alice"), Found: true}, res[1], "a string is its text")
		assert.Equal(t, kvcache.Result{Value: []byte("42"), Found: true}, res[2])
		assert.JSONEq(t, `["a","b"]`, string(res[3].Value))
		for i, name := range []string{"null", "lacking", "scalar", "absent"} {
			assert.False(t, res[4+i].Found, name)
		}

		if cfg.Mode == ModePerKey { // bulk: TestBulkInvalidAnswer
			srv.put("broken", `{"data": `) // not JSON
			_, err = s.Get(ctxT(t), []string{"broken"})
			require.ErrorContains(t, err, "not valid JSON")
			assert.NotContains(t, err.Error(), `"data"`, "the body is not echoed")
		}
	})
}

// TestBulkInvalidAnswer: an answer that is not a JSON object fails the call.
func TestBulkInvalidAnswer(t *testing.T) {
	for _, body := range []string{`["k"]`, `null`, `{"k": `, `"text"`} {
		srv := newAPIServer(t)
		srv.setFault(func(w http.ResponseWriter, _ *http.Request) bool {
			_, _ = w.Write([]byte(body))
			return true
		})
		s := newStore(t, bulkConfig(srv))
		_, err := s.Get(ctxT(t), []string{"k"})
		require.ErrorContains(t, err, "not a JSON object of key to value", "body %s", body)
	}
}

// TestBulkRequestShape: one POST with Content-Type application/json and the
// keys under bulk::keys_field; keys that are not valid UTF-8 are not sent (JSON
// cannot carry them) and are not found; an all-invalid batch sends nothing.
func TestBulkRequestShape(t *testing.T) {
	srv := newAPIServer(t)
	srv.put("a", "1", "b", "2")
	cfg := bulkConfig(srv)
	cfg.Bulk.KeysField = "ids"
	s := newStore(t, cfg)
	res, err := s.Get(ctxT(t), []string{"b", "bad\xff", "a"})
	require.NoError(t, err)
	assert.Equal(t, []kvcache.Result{{Value: []byte("2"), Found: true}, {}, {Value: []byte("1"), Found: true}}, res)
	assert.Equal(t, [][]string{{"b", "a"}}, srv.seenBulk)

	res, err = s.Get(ctxT(t), []string{"\xfe"})
	require.NoError(t, err)
	assert.False(t, res[0].Found)
	assert.Equal(t, int64(1), srv.requests.Load(), "nothing sent for a batch of invalid keys")
}

// TestPerKeyConcurrencyBound: per_key::max_concurrency bounds the GETs in flight
// across every call of the extension, and they do run in parallel.
func TestPerKeyConcurrencyBound(t *testing.T) {
	srv := newAPIServer(t)
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = "k" + itoa(i)
		srv.put(keys[i], "v")
	}
	srv.setFault(func(http.ResponseWriter, *http.Request) bool {
		time.Sleep(5 * time.Millisecond) // long enough for requests to overlap
		return false
	})
	cfg := perKeyConfig(srv)
	cfg.PerKey.MaxConcurrency = 3
	s := newStore(t, cfg)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			res, err := s.Get(ctxT(t), keys)
			assert.NoError(t, err)
			assert.Len(t, res, len(keys))
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, srv.maxInFl.Load(), int64(3))
	assert.Greater(t, srv.maxInFl.Load(), int64(1), "GETs run in parallel")
}

// TestReadOnly: Set and Delete fail with kvcache.ErrReadOnly and send nothing;
// CheckWritable turns that into a start error naming both IDs.
func TestReadOnly(t *testing.T) {
	srv := newAPIServer(t)
	s := newStore(t, perKeyConfig(srv))
	err := s.Set(ctxT(t), []kvcache.Entry{{Key: "k", Value: []byte("v")}})
	require.ErrorIs(t, err, kvcache.ErrReadOnly)
	assert.ErrorContains(t, err, "httpkv: Set of 1 entries")
	require.ErrorIs(t, s.Delete(ctxT(t), []string{"k"}), kvcache.ErrReadOnly)
	assert.Zero(t, srv.requests.Load())

	storeID, owner := component.MustNewIDWithName("httpkv", "cmdb"), component.MustNewIDWithName("kvcache", "enrich")
	err = kvcache.CheckWritable(s, storeID, owner)
	require.ErrorIs(t, err, kvcache.ErrReadOnly)
	assert.ErrorContains(t, err, "httpkv/cmdb")
	assert.ErrorContains(t, err, "kvcache/enrich")
}

// TestLifecycle: calls before Start or after Shutdown fail clearly; a missing
// authenticator fails Start naming it; Store after Close fails.
func TestLifecycle(t *testing.T) {
	srv := newAPIServer(t)
	cfg := perKeyConfig(srv)
	e, err := newHTTPKV(cfg, extensiontest.NewNopSettings(metadata.Type))
	require.NoError(t, err)
	s, err := e.Store(context.Background(), component.MustNewID("kvcache"))
	require.NoError(t, err)
	_, err = s.Get(ctxT(t), []string{"k"})
	require.ErrorIs(t, err, errNotStarted)

	require.NoError(t, e.Start(context.Background(), kvcachetest.NewHost(nil)))
	_, err = s.Get(ctxT(t), []string{"k"})
	require.NoError(t, err)
	require.NoError(t, s.Close(context.Background()))
	_, err = s.Get(ctxT(t), []string{"k"})
	require.ErrorIs(t, err, errStoreClosed)

	require.NoError(t, e.Shutdown(context.Background()))
	_, err = e.Store(context.Background(), component.MustNewID("kvcache"))
	require.ErrorIs(t, err, errShutdown)

	withAuth := perKeyConfig(srv)
	withAuth.Auth = authConfig("bearerauth/missing")
	e2, err := newHTTPKV(withAuth, extensiontest.NewNopSettings(metadata.Type))
	require.NoError(t, err)
	err = e2.Start(context.Background(), kvcachetest.NewHost(map[component.ID]component.Component{}))
	require.ErrorContains(t, err, "bearerauth/missing")
	require.NoError(t, e2.Shutdown(context.Background()))
}

// TestStatusReporting: failing calls report a recoverable error once, and the
// next successful call reports OK.
func TestStatusReporting(t *testing.T) {
	srv := newAPIServer(t)
	srv.put("k", "v")
	host := kvcachetest.NewHost(nil)
	e := startExt(t, perKeyConfig(srv), host)
	s, err := e.Store(context.Background(), component.MustNewID("kvcache"))
	require.NoError(t, err)

	srv.setFault(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusBadGateway)
		return true
	})
	for range 3 {
		_, err = s.Get(ctxT(t), []string{"k"})
		require.Error(t, err)
	}
	srv.setFault(nil)
	_, err = s.Get(ctxT(t), []string{"k"})
	require.NoError(t, err)

	var got []componentstatus.Status
	for len(host.Events()) > 0 {
		ev := <-host.Events()
		got = append(got, ev.Status())
		if ev.Status() == componentstatus.StatusRecoverableError {
			assert.ErrorContains(t, ev.Err(), "502 Bad Gateway")
		}
	}
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError, componentstatus.StatusOK}, got)
}

// TestCanceledCallIsNotAFailure: a call the caller cancels fails with its error
// and does not report the API as failing.
func TestCanceledCallIsNotAFailure(t *testing.T) {
	srv := newAPIServer(t)
	host := kvcachetest.NewHost(nil)
	e := startExt(t, perKeyConfig(srv), host)
	s, err := e.Store(context.Background(), component.MustNewID("kvcache"))
	require.NoError(t, err)
	srv.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done()
		return true
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = s.Get(ctx, []string{"a", "b"})
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, len(host.Events()), "no status change for a cancelled call")
	assert.False(t, errors.Is(err, errNotStarted))
}

// TestCallerDeadlineIsAFailure: an API that does not answer within the caller's
// deadline is reported as failing, as the kvcache processor's fetch_timeout (2s)
// is below the default timeout (5s): otherwise a hung API would fail every
// lookup and never show in component status.
func TestCallerDeadlineIsAFailure(t *testing.T) {
	shapes(t, func(t *testing.T, srv *apiServer, cfg *Config) {
		host := kvcachetest.NewHost(nil)
		cfg.Timeout = time.Minute
		e := startExt(t, cfg, host)
		s, err := e.Store(context.Background(), component.MustNewID("kvcache"))
		require.NoError(t, err)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) }) // before the server's Close: a POST's handler may not see the client go
		srv.setFault(func(_ http.ResponseWriter, r *http.Request) bool {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err = s.Get(ctx, []string{"a", "b"})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 1, len(host.Events()), "one status change for a call the API did not answer in time")
		ev := <-host.Events()
		assert.Equal(t, componentstatus.StatusRecoverableError, ev.Status())
		assert.ErrorIs(t, ev.Err(), context.DeadlineExceeded)
	})
}

// TestPerKeyReusesConnections: the GETs of a call reuse keep-alive connections:
// the client keeps per_key::max_concurrency idle connections per host (net/http
// keeps 2), so a second call of many keys opens no new connection.
func TestPerKeyReusesConnections(t *testing.T) {
	srv := newAPIServer(t)
	conns := &srv.conns
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = "k" + itoa(i)
	}
	srv.setFault(func(http.ResponseWriter, *http.Request) bool {
		time.Sleep(2 * time.Millisecond) // requests overlap, so all max_concurrency connections are used
		return false
	})
	cfg := perKeyConfig(srv)
	cfg.PerKey.MaxConcurrency = 8
	s := newStore(t, cfg)
	_, err := s.Get(ctxT(t), keys)
	require.NoError(t, err)
	first := conns.Load() // about 8: net/http may dial one more while a connection frees up
	for range 3 {
		_, err = s.Get(ctxT(t), keys)
		require.NoError(t, err)
	}
	assert.Equal(t, first, conns.Load(), "later calls reuse the idle connections")
}

// TestEndlessBody: a server that never stops sending is cut off after
// max_response_size + 1 bytes: the call fails at once as too large, not at the
// timeout after reading everything.
func TestEndlessBody(t *testing.T) {
	shapes(t, func(t *testing.T, srv *apiServer, cfg *Config) {
		chunk := []byte(strings.Repeat("x", 32<<10))
		srv.setFault(func(w http.ResponseWriter, r *http.Request) bool {
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					break
				}
			}
			return true
		})
		cfg.MaxResponseSize = 64 << 10
		cfg.Timeout = 20 * time.Second
		s := newStore(t, cfg)
		start := time.Now()
		_, err := s.Get(ctxT(t), []string{"k"})
		require.ErrorContains(t, err, "exceeds max_response_size")
		assert.Less(t, time.Since(start), 10*time.Second)
	})
}
