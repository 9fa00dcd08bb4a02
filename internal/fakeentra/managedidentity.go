package fakeentra

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
)

// ManagedIdentity imitates the App Service managed identity endpoint that
// azidentity selects when IDENTITY_ENDPOINT and IDENTITY_HEADER are set. It
// mints tokens with the parent Server's signing key, so they validate against
// the parent's JWKS.
type ManagedIdentity struct {
	parent *Server
	tenant string
	secret string
	srv    *http.Server
	addr   string
	wg     sync.WaitGroup

	mu       sync.Mutex
	failure  Failure
	release  chan struct{}
	last     Identity
	closed   bool
	requests atomic.Int64
	issued   atomic.Int64
	failed   atomic.Int64
	hanging  atomic.Int64
}

// Identity is the identity selector of a managed identity request.
type Identity struct {
	// Kind is "system", "client_id", "mi_res_id" or "object_id".
	Kind string
	// Value is the requested id ("" for system-assigned).
	Value string
}

// SystemAssignedClientID is the client id the fake reports for the
// system-assigned identity.
const SystemAssignedClientID = "5a5a5a5a-0000-4000-8000-000000000001"

// NewManagedIdentity starts a plain HTTP App Service style managed identity
// endpoint on loopback issuing tokens of tenant. Set the environment with
// Env (IDENTITY_ENDPOINT, IDENTITY_HEADER) before creating the credential.
func (s *Server) NewManagedIdentity(tenant string) (*ManagedIdentity, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &ManagedIdentity{
		parent:  s,
		tenant:  tenant,
		secret:  "fake-identity-header-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		addr:    ln.Addr().String(),
		release: make(chan struct{}),
	}
	m.srv = &http.Server{Handler: http.HandlerFunc(m.handle), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		_ = m.srv.Serve(ln)
	}()
	return m, nil
}

// Endpoint is the value for IDENTITY_ENDPOINT.
func (m *ManagedIdentity) Endpoint() string { return "http://" + m.addr + "/msi/token" }

// Header is the value for IDENTITY_HEADER.
func (m *ManagedIdentity) Header() string { return m.secret }

// Env returns the environment variables selecting this endpoint.
func (m *ManagedIdentity) Env() map[string]string {
	return map[string]string{"IDENTITY_ENDPOINT": m.Endpoint(), "IDENTITY_HEADER": m.secret}
}

// Last is the identity selector of the last token request.
func (m *ManagedIdentity) Last() Identity {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// Requests is the number of token requests received.
func (m *ManagedIdentity) Requests() int64 { return m.requests.Load() }

// Issued is the number of tokens issued.
func (m *ManagedIdentity) Issued() int64 { return m.issued.Load() }

// Hanging is the number of requests currently held by FailHang.
func (m *ManagedIdentity) Hanging() int64 { return m.hanging.Load() }

// SetFailure makes the endpoint answer with f (Fail500, FailHang, FailClose; FailNone restores).
func (m *ManagedIdentity) SetFailure(f Failure) error {
	if f == FailRefuse {
		return errors.New("fakeentra: FailRefuse is not supported by the managed identity endpoint")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failure == FailHang && f != FailHang && !m.closed {
		close(m.release)
		m.release = make(chan struct{})
	}
	m.failure = f
	return nil
}

// Close stops the endpoint.
func (m *ManagedIdentity) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	close(m.release)
	m.mu.Unlock()
	_ = m.srv.Close()
	m.wg.Wait()
}

func (m *ManagedIdentity) handle(w http.ResponseWriter, r *http.Request) {
	m.requests.Add(1)
	m.mu.Lock()
	f, release := m.failure, m.release
	m.mu.Unlock()
	if fakeoidc.Inject(w, r, f, release, &m.failed, &m.hanging, writeError) {
		return
	}
	q := r.URL.Query()
	switch {
	case r.Header.Get("X-IDENTITY-HEADER") != m.secret:
		fakeoidc.WriteJSON(w, http.StatusUnauthorized, map[string]any{"statusCode": 401, "message": "missing or wrong X-IDENTITY-HEADER"})
		return
	case q.Get("api-version") != "2019-08-01":
		fakeoidc.WriteJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "message": "unsupported api-version " + q.Get("api-version")})
		return
	case q.Get("resource") == "":
		fakeoidc.WriteJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "message": "resource is required"})
		return
	}
	id := Identity{Kind: "system"}
	clientID := SystemAssignedClientID
	for _, k := range []string{"client_id", "mi_res_id", "object_id"} {
		if v := q.Get(k); v != "" {
			id = Identity{Kind: k, Value: v}
			clientID = v
			if k != "client_id" {
				clientID = ObjectID(m.tenant, v)
			}
		}
	}
	m.mu.Lock()
	m.last = id
	m.mu.Unlock()

	p := m.parent
	p.mu.Lock()
	lifetime := p.lifetime
	p.mu.Unlock()
	now := time.Now()
	tok, err := p.CurrentKey().Sign(p.claims(TokenClaims{
		Tenant: m.tenant, Audience: q.Get("resource"), AppID: clientID, V1: true, IssuedAt: now,
	}, lifetime))
	if err != nil {
		fakeoidc.WriteJSON(w, http.StatusInternalServerError, map[string]any{"statusCode": 500, "message": err.Error()})
		return
	}
	m.issued.Add(1)
	fakeoidc.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"expires_on":   strconv.FormatInt(now.Add(lifetime).Unix(), 10),
		"resource":     q.Get("resource"),
		"token_type":   "Bearer",
		"client_id":    clientID,
	})
}
