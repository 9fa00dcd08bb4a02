package azureidentityauthext // import "github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
)

const (
	// maxDiscoveryBody bounds discovery and JWKS responses.
	maxDiscoveryBody = 1 << 20
	// minRSABits is the smallest signing key accepted.
	minRSABits = 2048
	// keysInitialBackoff and keysMaxBackoff pace retries of a failed fetch.
	keysInitialBackoff = time.Second
	keysMaxBackoff     = 5 * time.Minute
)

// keyState is one immutable snapshot of what the issuer published.
type keyState struct {
	keys map[string]*rsa.PublicKey // by kid
	// issuers are the accepted iss values; a "{tenantid}" placeholder (from
	// Entra's multi-tenant documents) is replaced by the token's tid.
	issuers []string
	// tenant is the tenant id read from the first document's issuer when
	// server::tenant_id is a domain name ("" otherwise).
	tenant string
}

// discoveryDoc is the part of an OIDC discovery document we read.
type discoveryDoc struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// keySet keeps the issuer's signing keys: fetched at Start, re-fetched every
// refreshEvery in the background (with backoff after a failure), and on
// demand when a token names an unknown kid, at most once per minRefetch.
// Lookups are an atomic load and a map read.
//
// Hand-written because go-oidc's RemoteKeySet has no re-fetch rate limit, no
// background refresh and no multi-issuer support (docs/design.md, "Entra
// signing keys"). go-jose parses the keys.
type keySet struct {
	client       *http.Client
	docURLs      []string // discovery documents; the first is required
	fixedIssuer  string   // server::issuer: the discovery issuer must equal it
	domain       string   // server::tenant_id when a domain name: resolve the tenant id
	refreshEvery time.Duration
	minRefetch   time.Duration
	timeout      time.Duration
	logger       *zap.Logger
	// onFetch is called after every fetch (err nil on success) with the
	// number of keys held and whether a kid disappeared.
	onFetch func(err error, keys int, removed bool)

	state atomic.Pointer[keyState]

	mu          sync.Mutex
	inflight    *fetchCall
	lastRefetch time.Time // start of the last unknown-kid fetch
	lastErr     error
	failing     bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type fetchCall struct {
	done chan struct{}
	err  error
}

func newKeySet(client *http.Client, docURLs []string, fixedIssuer string, s *ServerConfig, timeout time.Duration, logger *zap.Logger) *keySet {
	ctx, cancel := context.WithCancel(context.Background())
	return &keySet{
		client:       client,
		docURLs:      docURLs,
		fixedIssuer:  fixedIssuer,
		domain:       tenantDomain(s),
		refreshEvery: s.KeysRefreshInterval,
		minRefetch:   s.KeysMinRefetchInterval,
		timeout:      timeout,
		logger:       logger,
		onFetch:      func(error, int, bool) {},
		ctx:          ctx,
		cancel:       cancel,
	}
}

// start launches the background refresh; the first fetch begins at once.
func (ks *keySet) start() {
	ks.wg.Add(1)
	go ks.loop()
}

// shutdown stops the background refresh and waits for in-flight fetches.
func (ks *keySet) shutdown() {
	ks.cancel()
	ks.wg.Wait()
}

func (ks *keySet) loop() {
	defer ks.wg.Done()
	backoff := time.Duration(0)
	for {
		var wait time.Duration
		select {
		case <-ks.fetchShared():
		case <-ks.ctx.Done():
			return
		}
		if ks.lastError() != nil {
			backoff = min(max(2*backoff, keysInitialBackoff), keysMaxBackoff, ks.refreshEvery)
			wait = backoff
		} else {
			backoff = 0
			wait = ks.refreshEvery
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ks.ctx.Done():
			t.Stop()
			return
		}
	}
}

func (ks *keySet) lastError() error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.lastErr
}

// current returns the snapshot (nil before the first successful fetch).
func (ks *keySet) current() *keyState { return ks.state.Load() }

// stillTrusted reports whether the current snapshot maps kid to key: an
// atomic load and a map read, for the validated-token cache's hits. fetch
// keeps the pointer of a key that did not change, so a re-fetch publishing
// the same keys does not send cached tokens back to verification.
func (ks *keySet) stillTrusted(kid string, key *rsa.PublicKey) bool {
	st := ks.state.Load()
	return st != nil && key != nil && st.keys[kid] == key
}

// refetchForUnknownKid fetches the keys again unless that was done less than
// minRefetch ago (then it returns at once), and waits for the fetch or ctx.
func (ks *keySet) refetchForUnknownKid(ctx context.Context) {
	ks.mu.Lock()
	if c := ks.inflight; c != nil {
		ks.mu.Unlock()
		waitDone(ctx, c.done)
		return
	}
	if !ks.lastRefetch.IsZero() && time.Since(ks.lastRefetch) < ks.minRefetch {
		ks.mu.Unlock()
		return
	}
	ks.lastRefetch = time.Now()
	ks.mu.Unlock()
	waitDone(ctx, ks.fetchShared())
}

func waitDone(ctx context.Context, done <-chan struct{}) {
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// fetchShared joins the fetch in flight or starts one, returning its done
// channel. The fetch runs on its own goroutine with the keySet's context, so
// a request that stops waiting does not cancel it.
func (ks *keySet) fetchShared() <-chan struct{} {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.inflight != nil {
		return ks.inflight.done
	}
	if ks.ctx.Err() != nil {
		closed := make(chan struct{})
		close(closed)
		return closed
	}
	c := &fetchCall{done: make(chan struct{})}
	ks.inflight = c
	ks.wg.Add(1)
	go func() {
		defer ks.wg.Done()
		err := ks.fetch()
		ks.mu.Lock()
		ks.inflight = nil
		ks.lastErr = err
		wasFailing := ks.failing
		ks.failing = err != nil
		ks.mu.Unlock()
		switch {
		case err != nil && !wasFailing:
			ks.logger.Warn("Fetching the token issuer's signing keys failed; keeping the keys already known and retrying", zap.Error(err))
		case err != nil:
			ks.logger.Debug("Fetching signing keys failed again", zap.Error(err))
		case wasFailing:
			ks.logger.Info("Fetching the token issuer's signing keys recovered")
		}
		c.err = err
		close(c.done)
	}()
	return c.done
}

// fetch reads the discovery documents and the JWKS and publishes a new
// snapshot. On failure the previous snapshot stays.
func (ks *keySet) fetch() error {
	ctx, cancel := context.WithTimeout(ks.ctx, ks.timeout)
	defer cancel()
	var issuers []string
	var jwksURI, tenant string
	for i, u := range ks.docURLs {
		var doc discoveryDoc
		if err := ks.getJSON(ctx, u, &doc); err != nil {
			if i == 0 {
				ks.onFetch(err, ks.keyCount(), false)
				return err
			}
			// The v1 document only adds the v1 issuer; without it v2
			// tokens still validate.
			ks.logger.Debug("Optional discovery document unavailable", zap.String("url", u), zap.Error(err))
			continue
		}
		if doc.Issuer == "" {
			err := fmt.Errorf("discovery document %s has no issuer", u)
			if i == 0 {
				ks.onFetch(err, ks.keyCount(), false)
				return err
			}
			continue
		}
		if i == 0 {
			if ks.fixedIssuer != "" && doc.Issuer != ks.fixedIssuer {
				err := fmt.Errorf("discovery document %s names issuer %q, not the configured server::issuer %q", u, doc.Issuer, ks.fixedIssuer)
				ks.onFetch(err, ks.keyCount(), false)
				return err
			}
			jwksURI = doc.JWKSURI
			if ks.domain != "" {
				if tenant = tenantOfIssuer(doc.Issuer); tenant == "" {
					err := fmt.Errorf("discovery document %s for server::tenant_id %q names issuer %q, which holds no tenant id", u, ks.domain, doc.Issuer)
					ks.onFetch(err, ks.keyCount(), false)
					return err
				}
			}
		}
		issuers = append(issuers, doc.Issuer)
	}
	if !strings.HasPrefix(jwksURI, "https://") {
		err := fmt.Errorf("discovery document %s has no https jwks_uri (got %q)", ks.docURLs[0], jwksURI)
		ks.onFetch(err, ks.keyCount(), false)
		return err
	}
	keys, err := ks.fetchJWKS(ctx, jwksURI)
	if err != nil {
		ks.onFetch(err, ks.keyCount(), false)
		return err
	}
	removed := false
	if old := ks.state.Load(); old != nil {
		for kid, oldKey := range old.keys {
			switch k, ok := keys[kid]; {
			case !ok || !k.Equal(oldKey):
				removed = true
			default:
				keys[kid] = oldKey // unchanged: cached tokens stay trusted
			}
		}
	}
	ks.state.Store(&keyState{keys: keys, issuers: issuers, tenant: tenant})
	ks.onFetch(nil, len(keys), removed)
	return nil
}

func (ks *keySet) keyCount() int {
	if st := ks.state.Load(); st != nil {
		return len(st.keys)
	}
	return 0
}

// fetchJWKS returns the usable signing keys: RSA, at least 2048 bits, for
// signatures, RS256 or no alg. Keys of other types are skipped, not fatal,
// so a new key type at the issuer does not break validation.
func (ks *keySet) fetchJWKS(ctx context.Context, uri string) (map[string]*rsa.PublicKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := ks.getJSON(ctx, uri, &raw); err != nil {
		return nil, err
	}
	keys := make(map[string]*rsa.PublicKey, len(raw.Keys))
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			ks.logger.Debug("Skipping a signing key that does not parse", zap.Error(err))
			continue
		}
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok || k.KeyID == "" || (k.Use != "" && k.Use != "sig") ||
			(k.Algorithm != "" && k.Algorithm != string(jose.RS256)) || pub.N.BitLen() < minRSABits {
			continue
		}
		keys[k.KeyID] = pub
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS %s holds no usable RS256 signing key", uri)
	}
	return keys, nil
}

func (ks *keySet) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryBody))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

var errNoKeys = errors.New("no signing keys fetched yet")

// tenantDomain returns server::tenant_id when it is a domain name of the
// tenant, whose id (the tid of its tokens) must then come from discovery.
func tenantDomain(s *ServerConfig) string {
	if s.TenantID == "" || isGUID(s.TenantID) || isMultiTenant(s.TenantID) {
		return ""
	}
	return s.TenantID
}

// tenantOfIssuer returns the tenant id in an Entra issuer: the first path
// segment of https://login.microsoftonline.com/<id>/v2.0 or
// https://sts.windows.net/<id>/, if it is a GUID.
func tenantOfIssuer(iss string) string {
	u, err := url.Parse(iss)
	if err != nil {
		return ""
	}
	seg, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if !isGUID(seg) {
		return ""
	}
	return seg
}
