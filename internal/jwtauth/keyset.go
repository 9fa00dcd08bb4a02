// Package jwtauth validates JWT access tokens of OIDC issuers for the
// server side of the auth extensions (azureidentityauth's Entra presets and
// the generic oidcauth). It holds what every issuer needs: discovery, a JWKS
// kept fresh in the background with a rate-limited refetch on an unknown
// kid, an algorithm allow-list, issuer/audience/time checks with clock skew,
// a validated-token cache that re-checks the signing key on every hit, and
// generic refusals with rate-limited operator logging.
package jwtauth // import "github.com/otelcol-custom/otelcol-custom/internal/jwtauth"

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
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
	// minRSABits is the smallest RSA signing key accepted.
	minRSABits = 2048
	// keysInitialBackoff and keysMaxBackoff pace retries of a failed fetch.
	keysInitialBackoff = time.Second
	keysMaxBackoff     = 5 * time.Minute
)

// Key is one published signing key.
type Key struct {
	// Public is an *rsa.PublicKey or an *ecdsa.PublicKey (P-256).
	Public crypto.PublicKey
	// Algs are the allowed algorithms this key may verify: the JWK's alg if
	// it names one, else every allowed algorithm of the key's type.
	Algs []jose.SignatureAlgorithm
}

// KeyState is one immutable snapshot of what the issuer published.
type KeyState struct {
	Keys map[string]*Key // by kid
	// Issuers are the issuer values of the discovery documents, in order.
	Issuers []string
	// Tag is what KeySetConfig.Resolve returned for the first document
	// (Entra: the tenant id of a domain-named tenant), "" without Resolve.
	Tag string
}

// KeySetConfig configures a KeySet.
type KeySetConfig struct {
	Client *http.Client
	// DocURLs are discovery documents; the first is required and names the
	// jwks_uri, the others only add issuers and may fail.
	DocURLs []string
	// FixedIssuer, if set, must equal the first document's issuer.
	FixedIssuer string
	// FixedIssuerKey names FixedIssuer's config key in errors ("issuer").
	FixedIssuerKey string
	// Resolve, if set, derives KeyState.Tag from the first document's issuer;
	// an error fails the fetch.
	Resolve func(docURL, issuer string) (string, error)
	// Algorithms are the allowed signature algorithms (RS256, PS256, ES256).
	Algorithms   []jose.SignatureAlgorithm
	RefreshEvery time.Duration
	MinRefetch   time.Duration
	Timeout      time.Duration
	Logger       *zap.Logger
	// OnFetch is called after every fetch (err nil on success) with the
	// number of keys held and whether a kid disappeared or changed.
	OnFetch func(err error, keys int, removed bool)
}

// KeySet keeps an issuer's signing keys: fetched at Start, re-fetched every
// RefreshEvery in the background (with backoff after a failure), and on
// demand when a token names an unknown kid, at most once per MinRefetch.
// Lookups are an atomic load and a map read.
//
// Hand-written because go-oidc's RemoteKeySet has no re-fetch rate limit, no
// background refresh and no multi-document (Entra v1/v2) support
// (docs/design.md, "Entra signing keys"). go-jose parses the keys.
type KeySet struct {
	cfg   KeySetConfig
	state atomic.Pointer[KeyState]

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
}

// NewKeySet returns a KeySet; Start begins fetching.
func NewKeySet(cfg KeySetConfig) *KeySet {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.OnFetch == nil {
		cfg.OnFetch = func(error, int, bool) {}
	}
	if cfg.FixedIssuerKey == "" {
		cfg.FixedIssuerKey = "issuer"
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []jose.SignatureAlgorithm{jose.RS256}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &KeySet{cfg: cfg, ctx: ctx, cancel: cancel}
}

// NewStaticKeySet returns a KeySet that never fetches, holding st: for
// tests and fuzzing. An unknown kid is refused at once.
func NewStaticKeySet(st *KeyState) *KeySet {
	ks := NewKeySet(KeySetConfig{MinRefetch: time.Hour})
	ks.cancel()
	ks.lastRefetch = time.Now()
	ks.state.Store(st)
	return ks
}

// SetOnFetch replaces the fetch callback; call before Start.
func (ks *KeySet) SetOnFetch(f func(err error, keys int, removed bool)) { ks.cfg.OnFetch = f }

// Logger is the KeySet's logger.
func (ks *KeySet) Logger() *zap.Logger { return ks.cfg.Logger }

// Start launches the background refresh; the first fetch begins at once.
func (ks *KeySet) Start() {
	ks.wg.Add(1)
	go ks.loop()
}

// Shutdown stops the background refresh and waits for in-flight fetches.
func (ks *KeySet) Shutdown() {
	ks.cancel()
	ks.wg.Wait()
}

func (ks *KeySet) loop() {
	defer ks.wg.Done()
	backoff := time.Duration(0)
	for {
		var wait time.Duration
		select {
		case <-ks.FetchShared():
		case <-ks.ctx.Done():
			return
		}
		if ks.LastError() != nil {
			backoff = min(max(2*backoff, keysInitialBackoff), keysMaxBackoff, ks.cfg.RefreshEvery)
			wait = backoff
		} else {
			backoff = 0
			wait = ks.cfg.RefreshEvery
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

// LastError is the error of the last fetch (nil after a success).
func (ks *KeySet) LastError() error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.lastErr
}

// Current returns the snapshot (nil before the first successful fetch).
func (ks *KeySet) Current() *KeyState { return ks.state.Load() }

// StillTrusted reports whether the current snapshot maps kid to key: an
// atomic load and a map read, for the validated-token cache's hits. A fetch
// keeps the pointer of a key that did not change, so a re-fetch publishing
// the same keys does not send cached tokens back to verification.
func (ks *KeySet) StillTrusted(kid string, key *Key) bool {
	st := ks.state.Load()
	return st != nil && key != nil && st.Keys[kid] == key
}

// RefetchForUnknownKid fetches the keys again unless that was done less than
// MinRefetch ago (then it returns at once), and waits for the fetch or ctx.
func (ks *KeySet) RefetchForUnknownKid(ctx context.Context) {
	ks.mu.Lock()
	if c := ks.inflight; c != nil {
		ks.mu.Unlock()
		waitDone(ctx, c.done)
		return
	}
	if !ks.lastRefetch.IsZero() && time.Since(ks.lastRefetch) < ks.cfg.MinRefetch {
		ks.mu.Unlock()
		return
	}
	ks.lastRefetch = time.Now()
	ks.mu.Unlock()
	waitDone(ctx, ks.FetchShared())
}

func waitDone(ctx context.Context, done <-chan struct{}) {
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// FetchShared joins the fetch in flight or starts one, returning its done
// channel. The fetch runs on its own goroutine with the KeySet's context, so
// a request that stops waiting does not cancel it.
func (ks *KeySet) FetchShared() <-chan struct{} {
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
			ks.cfg.Logger.Warn("Fetching the token issuer's signing keys failed; keeping the keys already known and retrying", zap.Error(err))
		case err != nil:
			ks.cfg.Logger.Debug("Fetching signing keys failed again", zap.Error(err))
		case wasFailing:
			ks.cfg.Logger.Info("Fetching the token issuer's signing keys recovered")
		}
		close(c.done)
	}()
	return c.done
}

// discoveryDoc is the part of an OIDC discovery document we read.
type discoveryDoc struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// fetch reads the discovery documents and the JWKS and publishes a new
// snapshot. On failure the previous snapshot stays.
func (ks *KeySet) fetch() error {
	err := ks.fetchPublish()
	if err != nil {
		ks.cfg.OnFetch(err, ks.keyCount(), false)
	}
	return err
}

func (ks *KeySet) fetchPublish() error {
	ctx, cancel := context.WithTimeout(ks.ctx, ks.cfg.Timeout)
	defer cancel()
	var issuers []string
	var jwksURI, tag string
	for i, u := range ks.cfg.DocURLs {
		var doc discoveryDoc
		if err := ks.getJSON(ctx, u, &doc); err != nil {
			if i == 0 {
				return err
			}
			// An optional document (Entra's v1) only adds an issuer.
			ks.cfg.Logger.Debug("Optional discovery document unavailable", zap.String("url", u), zap.Error(err))
			continue
		}
		if doc.Issuer == "" {
			if i == 0 {
				return fmt.Errorf("discovery document %s has no issuer", u)
			}
			continue
		}
		if i == 0 {
			if ks.cfg.FixedIssuer != "" && doc.Issuer != ks.cfg.FixedIssuer {
				return fmt.Errorf("discovery document %s names issuer %q, not the configured %s %q", u, doc.Issuer, ks.cfg.FixedIssuerKey, ks.cfg.FixedIssuer)
			}
			jwksURI = doc.JWKSURI
			if ks.cfg.Resolve != nil {
				var err error
				if tag, err = ks.cfg.Resolve(u, doc.Issuer); err != nil {
					return err
				}
			}
		}
		issuers = append(issuers, doc.Issuer)
	}
	if len(ks.cfg.DocURLs) == 0 {
		return errors.New("no discovery document configured")
	}
	if !strings.HasPrefix(jwksURI, "https://") {
		return fmt.Errorf("discovery document %s has no https jwks_uri (got %q)", ks.cfg.DocURLs[0], jwksURI)
	}
	keys, err := ks.fetchJWKS(ctx, jwksURI)
	if err != nil {
		return err
	}
	removed := false
	if old := ks.state.Load(); old != nil {
		for kid, oldKey := range old.Keys {
			switch k, ok := keys[kid]; {
			case !ok || !sameKey(k, oldKey):
				removed = true
			default:
				keys[kid] = oldKey // unchanged: cached tokens stay trusted
			}
		}
	}
	ks.state.Store(&KeyState{Keys: keys, Issuers: issuers, Tag: tag})
	ks.cfg.OnFetch(nil, len(keys), removed)
	return nil
}

func sameKey(a, b *Key) bool {
	eq, ok := a.Public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b.Public) && slices.Equal(a.Algs, b.Algs)
}

func (ks *KeySet) keyCount() int {
	if st := ks.state.Load(); st != nil {
		return len(st.Keys)
	}
	return 0
}

// fetchJWKS returns the usable signing keys: RSA of at least 2048 bits or
// ECDSA P-256, for signatures, whose alg (if any) is allowed. Other keys are
// skipped, not fatal, so a new key type at the issuer does not break
// validation.
func (ks *KeySet) fetchJWKS(ctx context.Context, uri string) (map[string]*Key, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := ks.getJSON(ctx, uri, &raw); err != nil {
		return nil, err
	}
	keys := make(map[string]*Key, len(raw.Keys))
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			ks.cfg.Logger.Debug("Skipping a signing key that does not parse", zap.Error(err))
			continue
		}
		if k.KeyID == "" || (k.Use != "" && k.Use != "sig") || !k.Valid() || !k.IsPublic() {
			continue
		}
		if key := UsableKey(k.Key, k.Algorithm, ks.cfg.Algorithms); key != nil {
			keys[k.KeyID] = key
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS %s holds no usable signing key for %s", uri, algList(ks.cfg.Algorithms))
	}
	return keys, nil
}

// UsableKey returns pub as a Key for the allowed algorithms, or nil when it
// verifies none of them (wrong type, weak RSA, curve other than P-256, or a
// JWK alg that is not allowed).
func UsableKey(pub crypto.PublicKey, jwkAlg string, allowed []jose.SignatureAlgorithm) *Key {
	var fits []jose.SignatureAlgorithm
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if p.N.BitLen() < minRSABits {
			return nil
		}
		fits = []jose.SignatureAlgorithm{jose.RS256, jose.PS256}
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return nil
		}
		fits = []jose.SignatureAlgorithm{jose.ES256}
	default:
		return nil
	}
	var algs []jose.SignatureAlgorithm
	for _, a := range fits {
		if slices.Contains(allowed, a) && (jwkAlg == "" || jwkAlg == string(a)) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		return nil
	}
	return &Key{Public: pub, Algs: algs}
}

func (ks *KeySet) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	// One byte past the bound tells an oversized response from one that
	// ends exactly there, so the error says so instead of "unexpected end of
	// JSON input".
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryBody+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if len(body) > maxDiscoveryBody {
		return fmt.Errorf("GET %s: response larger than %d bytes", url, maxDiscoveryBody)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

func algList(algs []jose.SignatureAlgorithm) string {
	s := make([]string, len(algs))
	for i, a := range algs {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}
