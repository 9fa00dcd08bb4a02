// Package fakeoidc is a fake OAuth2 / OpenID Connect provider for tests, and
// the machinery every fake identity provider of this repository shares
// (internal/fakeentra builds on it):
//
//   - Base: a TLS server on loopback with a CA of its own, failure injection
//     (HTTP 500, hang, closed connection, refused connections) per endpoint,
//     and request counters;
//   - KeySet: RS256 signing keys with rotation, published as a JWKS;
//   - Server: a generic provider (discovery, JWKS, a token endpoint for the
//     client_credentials, token exchange (RFC 8693) and JWT bearer (RFC 7523)
//     grants, with client_secret_basic, client_secret_post and
//     private_key_jwt client authentication).
//
// It is used by unit tests and by the e2e tests, hence an importable package.
package fakeoidc // import "github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Failure selects how the failing endpoints answer.
type Failure int

const (
	// FailNone serves normally.
	FailNone Failure = iota
	// Fail500 answers HTTP 500 with an OAuth2 error body.
	Fail500
	// FailHang never answers: the handler waits until the client gives up,
	// SetFailure is called again, or the server is closed.
	FailHang
	// FailClose hijacks the connection and closes it without a response.
	FailClose
	// FailRefuse closes the listener: new connections are refused until
	// SetFailure(FailNone) (or another mode) listens again on the same port.
	FailRefuse
)

// Endpoint selects which endpoints a Failure applies to.
type Endpoint int

const (
	// EndpointToken is the OAuth token endpoint (and fakeentra's managed identity endpoint).
	EndpointToken Endpoint = 1 << iota
	// EndpointDiscovery is the OIDC discovery document.
	EndpointDiscovery
	// EndpointJWKS is the signing key set.
	EndpointJWKS
	// EndpointAll is every endpoint.
	EndpointAll = EndpointToken | EndpointDiscovery | EndpointJWKS
)

// Counts is a snapshot of the request counters.
type Counts struct {
	// Token counts token endpoint requests (any outcome).
	Token int64
	// TokenIssued counts tokens issued by the token endpoint.
	TokenIssued int64
	// TokenRejected counts token requests refused for bad credentials.
	TokenRejected int64
	// Discovery counts OIDC discovery requests.
	Discovery int64
	// JWKS counts key set requests.
	JWKS int64
	// Failed counts requests answered by an injected failure.
	Failed int64
	// Hanging is the number of requests currently held by FailHang.
	Hanging int64
}

// ErrorWriter writes an OAuth2 error response (RFC 6749 §5.2) in a
// provider's own dialect.
type ErrorWriter func(w http.ResponseWriter, status int, code, description string)

// Base is the server machinery of a fake identity provider. Create it with
// NewBase, install the handler with Serve, and Close it when done.
type Base struct {
	name       string
	addr       string
	tlsCert    tls.Certificate
	caPEM      []byte
	pool       *x509.CertPool
	handler    http.Handler
	writeError ErrorWriter

	mu          sync.Mutex
	ln          net.Listener // bound by NewBase, served by Serve
	srv         *http.Server
	serveWG     sync.WaitGroup
	inflight    sync.WaitGroup
	failure     Failure
	failOn      Endpoint
	release     chan struct{} // closed to release hanging handlers
	closed      bool
	counts      struct{ token, issued, rejected, discovery, jwks, failed, hanging atomic.Int64 }
	onTokenHook func(r *http.Request)
}

// NewBase creates a CA, a server certificate for 127.0.0.1 and localhost,
// and binds a loopback port. name prefixes its errors; writeError (nil: the
// plain RFC 6749 body) writes injected failures.
func NewBase(name string, writeError ErrorWriter) (*Base, error) {
	if writeError == nil {
		writeError = WriteError
	}
	b := &Base{name: name, writeError: writeError, release: make(chan struct{})}
	if err := b.newCA(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.ln, b.addr = ln, ln.Addr().String()
	return b, nil
}

// Serve starts serving h over TLS on the bound port.
func (b *Base) Serve(h http.Handler) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.inflight.Add(1)
		defer b.inflight.Done()
		h.ServeHTTP(w, r)
	})
	b.serveLocked(b.ln)
	b.ln = nil
}

func (b *Base) newCA() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: b.name + " test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	b.tlsCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
	b.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	b.pool = x509.NewCertPool()
	b.pool.AddCert(cert)
	return nil
}

// serveLocked starts serving ln. b.mu must be held.
func (b *Base) serveLocked(ln net.Listener) {
	srv := &http.Server{
		Handler:           b.handler,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{b.tlsCert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	b.srv = srv
	b.serveWG.Add(1)
	go func() {
		defer b.serveWG.Done()
		_ = srv.ServeTLS(ln, "", "")
	}()
}

// URL is the server's base URL, e.g. https://127.0.0.1:43121 (no trailing slash).
func (b *Base) URL() string { return "https://" + b.addr }

// CAPEM returns the PEM-encoded CA certificate the server's TLS certificate chains to.
func (b *Base) CAPEM() []byte { return append([]byte(nil), b.caPEM...) }

// WriteCAFile writes the CA certificate to path (for a `tls::ca_file` setting).
func (b *Base) WriteCAFile(path string) error { return os.WriteFile(path, b.caPEM, 0o600) }

// CertPool returns a pool trusting the server.
func (b *Base) CertPool() *x509.CertPool { return b.pool.Clone() }

// HTTPClient returns a client trusting the server (a fresh transport each call).
func (b *Base) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: b.pool.Clone(), MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}}
}

// Close stops the server, releasing hanging handlers.
func (b *Base) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	close(b.release)
	srv, ln := b.srv, b.ln
	b.srv, b.ln = nil, nil
	b.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
	if ln != nil {
		_ = ln.Close()
	}
	b.serveWG.Wait()
	b.inflight.Wait()
}

// SetFailure makes the endpoints in on answer with f (FailNone restores normal
// service). Switching away from FailHang releases the held requests; switching
// to FailRefuse closes the listener and every connection, switching away from it
// listens again on the same address.
func (b *Base) SetFailure(f Failure, on Endpoint) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New(b.name + ": closed")
	}
	prev := b.failure
	b.failure, b.failOn = f, on
	if prev == FailHang && f != FailHang {
		close(b.release)
		b.release = make(chan struct{})
	}
	switch {
	case f == FailRefuse && prev != FailRefuse:
		srv := b.srv
		b.srv = nil
		if srv != nil {
			_ = srv.Close()
		}
	case f != FailRefuse && prev == FailRefuse:
		ln, err := net.Listen("tcp", b.addr)
		if err != nil {
			return fmt.Errorf("%s: listen again on %s: %w", b.name, b.addr, err)
		}
		b.serveLocked(ln)
	}
	return nil
}

// OnTokenRequest registers a hook called at the start of every token request
// (after counting, before failures are applied). nil removes it.
func (b *Base) OnTokenRequest(f func(r *http.Request)) {
	b.mu.Lock()
	b.onTokenHook = f
	b.mu.Unlock()
}

// Counts returns the request counters.
func (b *Base) Counts() Counts {
	return Counts{
		Token:         b.counts.token.Load(),
		TokenIssued:   b.counts.issued.Load(),
		TokenRejected: b.counts.rejected.Load(),
		Discovery:     b.counts.discovery.Load(),
		JWKS:          b.counts.jwks.Load(),
		Failed:        b.counts.failed.Load(),
		Hanging:       b.counts.hanging.Load(),
	}
}

// CountIssued counts a token issued by the token endpoint.
func (b *Base) CountIssued() { b.counts.issued.Add(1) }

// CountRejected counts a token request refused for bad credentials.
func (b *Base) CountRejected() { b.counts.rejected.Add(1) }

// Handle wraps the handler of endpoint ep: it counts the request, runs the
// token hook (token endpoint only), and answers with the injected failure
// when one applies to ep; otherwise h serves the request.
func (b *Base) Handle(ep Endpoint, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch ep {
		case EndpointToken:
			b.counts.token.Add(1)
			b.mu.Lock()
			hook := b.onTokenHook
			b.mu.Unlock()
			if hook != nil {
				hook(r)
			}
		case EndpointDiscovery:
			b.counts.discovery.Add(1)
		case EndpointJWKS:
			b.counts.jwks.Add(1)
		}
		b.mu.Lock()
		f, on, release := b.failure, b.failOn, b.release
		b.mu.Unlock()
		if f != FailRefuse && on&ep != 0 && Inject(w, r, f, release, &b.counts.failed, &b.counts.hanging, b.writeError) {
			return
		}
		h(w, r)
	}
}

// Inject answers with failure f, reporting whether the request was consumed.
// failed and hanging are the caller's counters; release ends a FailHang.
func Inject(w http.ResponseWriter, r *http.Request, f Failure, release <-chan struct{}, failed, hanging *atomic.Int64, writeError ErrorWriter) bool {
	if f == FailNone || f == FailRefuse {
		return false
	}
	failed.Add(1)
	switch f {
	case Fail500:
		writeError(w, http.StatusInternalServerError, "temporarily_unavailable", "A transient error has occurred (injected by the fake). Please try again.")
	case FailHang:
		hanging.Add(1)
		defer hanging.Add(-1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "released from hang")
	case FailClose:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return true
			}
		}
		// HTTP/2 cannot hijack: abort the stream instead.
		panic(http.ErrAbortHandler)
	}
	return true
}

// WriteJSON writes v as a JSON response.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes a plain RFC 6749 §5.2 error response.
func WriteError(w http.ResponseWriter, status int, code, description string) {
	WriteJSON(w, status, map[string]string{"error": code, "error_description": description})
}
