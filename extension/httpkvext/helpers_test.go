package httpkvext

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otelcol-custom/otelcol-custom/extension/httpkvext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
)

// Routes of apiServer.
const (
	perKeyPrefix = "/kv/"
	bulkPath     = "/batch"
)

// apiEntry is what the API holds for a key: text (per_key: the body as is; bulk:
// a JSON string) or a JSON document (sent as JSON in both shapes).
type apiEntry struct {
	body []byte
	json bool
}

// apiServer is a lookup API for the tests: GET /kv/<escaped key> answers the
// entry's body or 404; POST /batch {"keys": [...]} answers an object of the keys
// it has. It counts requests, records what it saw, and injects faults.
type apiServer struct {
	*httptest.Server
	mu   sync.Mutex
	data map[string]apiEntry

	requests atomic.Int64
	conns    atomic.Int64 // connections accepted
	inFlight atomic.Int64
	maxInFl  atomic.Int64

	// authenticate, when set, guards every request (401 when it fails).
	authenticate func(r *http.Request) error
	// fault, when set, may answer a request itself (returns true then).
	fault atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
	// seen records, per request, the escaped path and query, and bulk bodies.
	seenMu    sync.Mutex
	seenPaths []string
	seenBulk  [][]string
	gzipped   atomic.Int64 // bulk requests that came gzip-compressed
}

func newAPIServer(t testing.TB) *apiServer {
	s := &apiServer{data: map[string]apiEntry{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// put stores text values.
func (s *apiServer) put(kv ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i+1 < len(kv); i += 2 {
		s.data[kv[i]] = apiEntry{body: []byte(kv[i+1])}
	}
}

// putJSON stores a JSON document for key.
func (s *apiServer) putJSON(key, doc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = apiEntry{body: []byte(doc), json: true}
}

// seed and remove are the conformance suite's backend writers.
func (s *apiServer) seed(entries []kvcache.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		s.data[e.Key] = apiEntry{body: e.Value}
	}
	return nil
}

func (s *apiServer) remove(keys []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		delete(s.data, k)
	}
	return nil
}

func (s *apiServer) setFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	if f == nil {
		s.fault.Store(nil)
		return
	}
	s.fault.Store(&f)
}

func (s *apiServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.maxInFl.Load(); n > m && !s.maxInFl.CompareAndSwap(m, n); m = s.maxInFl.Load() {
	}
	if s.authenticate != nil {
		if err := s.authenticate(r); err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	if f := s.fault.Load(); f != nil && (*f)(w, r) {
		return
	}
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.EscapedPath(), perKeyPrefix):
		s.servePerKey(w, r)
	case r.Method == http.MethodPost && r.URL.Path == bulkPath:
		s.serveBulk(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *apiServer) servePerKey(w http.ResponseWriter, r *http.Request) {
	escaped := r.URL.EscapedPath()
	s.seenMu.Lock()
	s.seenPaths = append(s.seenPaths, escaped+"?"+r.URL.RawQuery)
	s.seenMu.Unlock()
	key, err := url.PathUnescape(strings.TrimPrefix(escaped, perKeyPrefix))
	if err != nil {
		http.Error(w, "bad escape", http.StatusBadRequest)
		return
	}
	if q := r.URL.Query(); q.Has("id") {
		key = q.Get("id")
	}
	s.mu.Lock()
	e, ok := s.data[key]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write(e.body)
}

func (s *apiServer) serveBulk(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		body = zr
		s.gzipped.Add(1)
	}
	var req map[string][]string
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(body).Decode(&req) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	keys := req["keys"]
	if keys == nil {
		keys = req["ids"]
	}
	s.seenMu.Lock()
	s.seenBulk = append(s.seenBulk, keys)
	s.seenMu.Unlock()
	out := make(map[string]json.RawMessage, len(keys))
	s.mu.Lock()
	for _, k := range keys {
		if e, ok := s.data[k]; ok {
			if e.json {
				out[k] = e.body
			} else {
				b, _ := json.Marshal(string(e.body))
				out[k] = b
			}
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// perKeyConfig and bulkConfig point at the server in each shape.
func perKeyConfig(s *apiServer) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = s.URL
	cfg.PerKey.Path = perKeyPrefix + "{key}"
	return cfg
}

func bulkConfig(s *apiServer) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = s.URL
	cfg.Mode = ModeBulk
	cfg.Bulk.Path = bulkPath
	return cfg
}

// startExt creates and starts the extension on host (a nop host when nil) and
// shuts it down at cleanup.
func startExt(t testing.TB, cfg *Config, host component.Host) *httpKV {
	t.Helper()
	require.NoError(t, cfg.Validate())
	e, err := newHTTPKV(cfg, extensiontest.NewNopSettings(metadata.Type))
	require.NoError(t, err)
	if host == nil {
		host = componenttest.NewNopHost()
	}
	require.NoError(t, e.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
	return e
}

// newStore starts an extension for cfg and returns its store.
func newStore(t testing.TB, cfg *Config) kvcache.Store {
	t.Helper()
	s, err := startExt(t, cfg, nil).Store(context.Background(), component.MustNewID("kvcache"))
	require.NoError(t, err)
	return s
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func itoa(i int) string { return strconv.Itoa(i) }

// authConfig is `auth: {authenticator: id}`.
func authConfig(id string) configoptional.Optional[configauth.Config] {
	var cid component.ID
	if err := cid.UnmarshalText([]byte(id)); err != nil {
		panic(err)
	}
	return configoptional.Some(configauth.Config{AuthenticatorID: cid})
}

func extensionSettings() extension.Settings { return extensiontest.NewNopSettings(metadata.Type) }
