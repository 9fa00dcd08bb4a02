package fakeoidc

import (
	"crypto"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Grant types, token types and the client assertion type (RFC 6749, 7523, 8693).
const (
	GrantClientCredentials = "client_credentials"
	GrantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	TokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeIDToken       = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
	ClientAssertionType    = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// Client authentication methods, as OIDC discovery names them.
const (
	AuthNone              = "none"
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
)

// assertionAlgorithms are the client assertion and subject token algorithms
// the fake verifies (never none, never HMAC).
var assertionAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256}

// Client is a registered OAuth2 client.
type Client struct {
	// ID is the client_id.
	ID string
	// Secrets are the accepted client secrets: during a rotation both the old
	// and the new one; SetClient with only the new one revokes the old.
	Secrets []string
	// PublicKey verifies private_key_jwt client assertions (RSA or ECDSA).
	PublicKey crypto.PublicKey
	// Public clients send only their client_id (token exchange and JWT
	// bearer grants of a workload without a client credential).
	Public bool
}

// TokenRequest is what the token endpoint received, as recorded for tests.
// It holds no secret: SecretIndex says which of the client's Secrets matched.
type TokenRequest struct {
	Grant       string
	ClientID    string
	AuthMethod  string // one of the Auth* constants; "" when authentication failed
	SecretIndex int    // index into Client.Secrets, -1 when no secret was used
	Scope       string
	Audience    string
	// Subject is the sub claim of the subject token or assertion (token
	// exchange, JWT bearer).
	Subject string
	// Params are the other form parameters (endpoint_params).
	Params url.Values
	// Issued is the access token issued, "" when refused.
	Issued string
	// Error is the OAuth2 error code when refused.
	Error string
}

// Server is a generic fake OAuth2 / OIDC provider. The embedded Base and
// KeySet provide URL, CAPEM, WriteCAFile, CertPool, HTTPClient, Close,
// SetFailure, OnTokenRequest, Counts, RotateKey, RetireKeys, CurrentKeyID
// and CurrentPublicKey. It serves:
//
//	GET  /.well-known/openid-configuration   discovery (issuer = URL())
//	GET  /jwks                               the access token signing keys
//	POST /token                              client_credentials, token exchange, JWT bearer
type Server struct {
	*Base
	*KeySet

	subjectKey SigningKey // signs subject tokens (the "cluster")

	mu              sync.Mutex
	clients         map[string]*Client
	lifetime        time.Duration
	subjectAudience string
	defaultAudience string
	seenJTI         map[string]bool
	requests        []TokenRequest
	issued          []string
	onIssue         func(token string)
}

// New starts a fake provider on 127.0.0.1 (TLS, with a CA of its own; trust
// it with CAPEM, WriteCAFile or HTTPClient). Close it when done.
func New() (*Server, error) {
	s := &Server{
		clients:         map[string]*Client{},
		lifetime:        time.Hour,
		defaultAudience: "api://default",
		seenJTI:         map[string]bool{},
	}
	var err error
	if s.KeySet, err = NewKeySet(); err != nil {
		return nil, err
	}
	if s.subjectKey, err = NewSigningKey(); err != nil {
		return nil, err
	}
	if s.Base, err = NewBase("fakeoidc", nil); err != nil {
		return nil, err
	}
	s.subjectAudience = s.URL()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", s.Handle(EndpointDiscovery, s.handleDiscovery))
	mux.HandleFunc("GET /jwks", s.Handle(EndpointJWKS, s.ServeJWKS))
	mux.HandleFunc("POST /token", s.Handle(EndpointToken, s.handleToken))
	s.Serve(mux)
	return s, nil
}

// Issuer is the issuer of the access tokens (and of the discovery document).
func (s *Server) Issuer() string { return s.URL() }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.URL() + "/token" }

// SetClient registers c, replacing a client with the same ID.
func (s *Server) SetClient(c Client) {
	c.Secrets = slices.Clone(c.Secrets)
	s.mu.Lock()
	s.clients[c.ID] = &c
	s.mu.Unlock()
}

// SetTokenLifetime sets the lifetime of issued tokens (expires_in is whole seconds, min 1s).
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	s.lifetime = d
	s.mu.Unlock()
}

// SubjectIssuer is the issuer of subject tokens (a Kubernetes cluster's
// service account issuer, say) that the token exchange and JWT bearer grants
// accept.
func (s *Server) SubjectIssuer() string { return s.URL() + "/cluster" }

// SubjectAudience is the audience a subject token must carry (default URL()).
func (s *Server) SubjectAudience() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subjectAudience
}

// MintSubjectToken mints a Kubernetes-style service account token for
// subject with audience aud, valid for lifetime, signed by SubjectIssuer.
func (s *Server) MintSubjectToken(subject, aud string, lifetime time.Duration) (string, error) {
	return s.subjectKey.SignWorkloadToken(s.SubjectIssuer(), subject, []string{aud}, lifetime)
}

// OnIssue registers a hook called with every access token issued, before the
// response is written (nil removes it). The e2e tests use it to tell the
// receiving collector which tokens are valid.
func (s *Server) OnIssue(f func(token string)) {
	s.mu.Lock()
	s.onIssue = f
	s.mu.Unlock()
}

// Issued returns every access token issued so far, oldest first.
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// Requests returns the token requests received so far, oldest first
// (injected failures are not recorded: they never reach the grant logic).
func (s *Server) Requests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Verify checks an access token's signature against the published keys and
// returns its claims (no time or audience checks: callers assert those).
func (s *Server) Verify(token string) (jwt.Claims, error) {
	var cl jwt.Claims
	t, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return cl, err
	}
	set := s.JWKS()
	if len(t.Headers) != 1 {
		return cl, errors.New("want one signature")
	}
	keys := set.Key(t.Headers[0].KeyID)
	if len(keys) == 0 {
		return cl, fmt.Errorf("unknown kid %q", t.Headers[0].KeyID)
	}
	return cl, t.Claims(keys[0].Key, &cl)
}

func (s *Server) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.Issuer(),
		"token_endpoint":                        s.TokenURL(),
		"jwks_uri":                              s.URL() + "/jwks",
		"grant_types_supported":                 []string{GrantClientCredentials, GrantTokenExchange, GrantJWTBearer},
		"token_endpoint_auth_methods_supported": []string{AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT, AuthNone},
		"token_endpoint_auth_signing_alg_values_supported": assertionAlgorithms,
		"id_token_signing_alg_values_supported":            []string{"RS256"},
		"response_types_supported":                         []string{"token"},
		"subject_types_supported":                          []string{"public"},
	})
}

// oauthError is a refusal with its OAuth2 error code and HTTP status.
type oauthError struct {
	status int
	code   string
	desc   string
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func refuse(status int, code, format string, args ...any) *oauthError {
	return &oauthError{status: status, code: code, desc: fmt.Sprintf(format, args...)}
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	rec := TokenRequest{SecretIndex: -1}
	tok, lifetime, err := s.token(r, &rec)
	s.mu.Lock()
	if err != nil {
		rec.Error = err.code
	} else {
		rec.Issued = tok
		s.issued = append(s.issued, tok)
	}
	s.requests = append(s.requests, rec)
	hook := s.onIssue
	s.mu.Unlock()
	if err != nil {
		if err.code == "invalid_client" || err.code == "invalid_grant" {
			s.CountRejected()
		}
		if err.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="fakeoidc"`)
		}
		WriteError(w, err.status, err.code, err.desc)
		return
	}
	if hook != nil {
		hook(tok)
	}
	s.CountIssued()
	resp := map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   max(int64(lifetime/time.Second), 1),
	}
	if rec.Scope != "" {
		resp["scope"] = rec.Scope
	}
	if rec.Grant == GrantTokenExchange {
		resp["issued_token_type"] = TokenTypeAccessToken
	}
	WriteJSON(w, http.StatusOK, resp)
}

// token runs the grant and mints the access token.
func (s *Server) token(r *http.Request, rec *TokenRequest) (string, time.Duration, *oauthError) {
	if err := r.ParseForm(); err != nil {
		return "", 0, refuse(http.StatusBadRequest, "invalid_request", "malformed request body")
	}
	form := r.PostForm
	rec.Grant, rec.Scope, rec.Audience = form.Get("grant_type"), form.Get("scope"), form.Get("audience")
	rec.Params = url.Values{}
	for k, v := range form {
		switch k {
		case "grant_type", "scope", "audience", "client_id", "client_secret", "client_assertion",
			"client_assertion_type", "subject_token", "subject_token_type", "assertion":
		default:
			rec.Params[k] = v
		}
	}
	c, err := s.authenticateClient(r, rec)
	if err != nil {
		return "", 0, err
	}
	rec.ClientID = c.ID
	subject := c.ID
	switch rec.Grant {
	case GrantClientCredentials:
		if rec.AuthMethod == AuthNone {
			return "", 0, refuse(http.StatusUnauthorized, "invalid_client", "client_credentials needs client authentication")
		}
	case GrantTokenExchange:
		switch typ := form.Get("subject_token_type"); typ {
		case TokenTypeJWT, TokenTypeIDToken:
		case "":
			return "", 0, refuse(http.StatusBadRequest, "invalid_request", "subject_token_type is required")
		default:
			return "", 0, refuse(http.StatusBadRequest, "invalid_request", "unsupported subject_token_type %q", typ)
		}
		if subject, err = s.verifySubjectToken(form.Get("subject_token"), "subject_token"); err != nil {
			return "", 0, err
		}
	case GrantJWTBearer:
		if subject, err = s.verifySubjectToken(form.Get("assertion"), "assertion"); err != nil {
			return "", 0, err
		}
	case "":
		return "", 0, refuse(http.StatusBadRequest, "invalid_request", "grant_type is required")
	default:
		return "", 0, refuse(http.StatusBadRequest, "unsupported_grant_type", "grant_type %q is not supported", rec.Grant)
	}
	if rec.Grant != GrantClientCredentials {
		rec.Subject = subject
	}
	s.mu.Lock()
	lifetime, aud := s.lifetime, s.defaultAudience
	s.mu.Unlock()
	if rec.Audience != "" {
		aud = rec.Audience
	}
	now := time.Now()
	claims := map[string]any{
		"iss":       s.Issuer(),
		"sub":       subject,
		"aud":       aud,
		"client_id": c.ID,
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(lifetime).Unix(),
		"jti":       randomID(), // every token is unique, as RS256 signatures are deterministic
	}
	if rec.Scope != "" {
		claims["scope"] = rec.Scope
	}
	tok, serr := s.CurrentKey().Sign(claims)
	if serr != nil {
		return "", 0, refuse(http.StatusInternalServerError, "server_error", "signing failed")
	}
	return tok, lifetime, nil
}

// authenticateClient applies RFC 6749 §2.3: exactly one method, or none for
// a public client.
func (s *Server) authenticateClient(r *http.Request, rec *TokenRequest) (*Client, *oauthError) {
	form := r.PostForm
	basicID, basicSecret, hasBasic := r.BasicAuth()
	if hasBasic {
		// RFC 6749 §2.3.1: both are form-urlencoded before going into the header.
		var err1, err2 error
		basicID, err1 = url.QueryUnescape(basicID)
		basicSecret, err2 = url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			return nil, refuse(http.StatusBadRequest, "invalid_request", "malformed basic credentials")
		}
	}
	_, hasPost := form["client_secret"]
	hasAssertion := form.Get("client_assertion_type") != "" || form.Get("client_assertion") != ""
	n := 0
	for _, b := range []bool{hasBasic, hasPost, hasAssertion} {
		if b {
			n++
		}
	}
	if n > 1 {
		return nil, refuse(http.StatusBadRequest, "invalid_request", "more than one client authentication method")
	}
	id := form.Get("client_id")
	if hasBasic {
		if id != "" && id != basicID {
			return nil, refuse(http.StatusBadRequest, "invalid_request", "client_id differs from the basic credentials")
		}
		id = basicID
	}
	if id == "" && hasAssertion {
		id = unverifiedIssuer(form.Get("client_assertion"))
	}
	s.mu.Lock()
	var c *Client
	if reg := s.clients[id]; reg != nil {
		cp := *reg
		c = &cp
	}
	s.mu.Unlock()
	if c == nil {
		return nil, refuse(http.StatusUnauthorized, "invalid_client", "unknown client %q", id)
	}
	switch {
	case hasBasic:
		return c, s.checkSecret(c, basicSecret, AuthClientSecretBasic, rec)
	case hasPost:
		return c, s.checkSecret(c, form.Get("client_secret"), AuthClientSecretPost, rec)
	case hasAssertion:
		if err := s.verifyClientAssertion(c, form); err != nil {
			return nil, err
		}
		rec.AuthMethod = AuthPrivateKeyJWT
		return c, nil
	case c.Public:
		rec.AuthMethod = AuthNone
		return c, nil
	}
	return nil, refuse(http.StatusUnauthorized, "invalid_client", "client %q must authenticate", id)
}

func (s *Server) checkSecret(c *Client, secret, method string, rec *TokenRequest) *oauthError {
	for i, want := range c.Secrets {
		if subtle.ConstantTimeCompare([]byte(secret), []byte(want)) == 1 {
			rec.AuthMethod, rec.SecretIndex = method, i
			return nil
		}
	}
	return refuse(http.StatusUnauthorized, "invalid_client", "invalid client secret for client %q", c.ID)
}

type assertionClaims struct {
	jwt.Claims
}

// verifyClientAssertion checks an RFC 7523 §3 client assertion: signature by
// the client's key, iss = sub = client_id, aud = the token endpoint or the
// issuer, unexpired, and a jti never seen before.
func (s *Server) verifyClientAssertion(c *Client, form url.Values) *oauthError {
	if form.Get("client_assertion_type") != ClientAssertionType {
		return refuse(http.StatusBadRequest, "invalid_request", "client_assertion_type must be %s", ClientAssertionType)
	}
	if c.PublicKey == nil {
		return refuse(http.StatusUnauthorized, "invalid_client", "client %q has no registered key", c.ID)
	}
	t, err := jwt.ParseSigned(form.Get("client_assertion"), assertionAlgorithms)
	if err != nil {
		return refuse(http.StatusUnauthorized, "invalid_client", "malformed client assertion")
	}
	var cl assertionClaims
	if err := t.Claims(c.PublicKey, &cl); err != nil {
		return refuse(http.StatusUnauthorized, "invalid_client", "client assertion signature is invalid")
	}
	if cl.Issuer != c.ID || cl.Subject != c.ID {
		return refuse(http.StatusUnauthorized, "invalid_client", "client assertion iss and sub must be the client_id")
	}
	if !cl.Audience.Contains(s.TokenURL()) && !cl.Audience.Contains(s.Issuer()) {
		return refuse(http.StatusUnauthorized, "invalid_client", "client assertion audience must be the token endpoint or the issuer")
	}
	if cl.Expiry == nil || cl.ID == "" {
		return refuse(http.StatusUnauthorized, "invalid_client", "client assertion needs exp and jti")
	}
	if err := cl.ValidateWithLeeway(jwt.Expected{Time: time.Now()}, 0); err != nil {
		return refuse(http.StatusUnauthorized, "invalid_client", "client assertion: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seenJTI[cl.ID] {
		return refuse(http.StatusUnauthorized, "invalid_client", "client assertion jti was already used")
	}
	s.seenJTI[cl.ID] = true
	return nil
}

// verifySubjectToken checks a subject token or JWT bearer assertion: signed
// by SubjectIssuer, for SubjectAudience, unexpired. It returns its subject.
func (s *Server) verifySubjectToken(raw, param string) (string, *oauthError) {
	if raw == "" {
		return "", refuse(http.StatusBadRequest, "invalid_request", "%s is required", param)
	}
	t, err := jwt.ParseSigned(raw, assertionAlgorithms)
	if err != nil {
		return "", refuse(http.StatusBadRequest, "invalid_grant", "%s is not a signed JWT", param)
	}
	var cl jwt.Claims
	if err := t.Claims(&s.subjectKey.Private.PublicKey, &cl); err != nil {
		return "", refuse(http.StatusBadRequest, "invalid_grant", "%s signature is invalid", param)
	}
	exp := jwt.Expected{Issuer: s.SubjectIssuer(), AnyAudience: jwt.Audience{s.SubjectAudience()}, Time: time.Now()}
	if err := cl.ValidateWithLeeway(exp, 0); err != nil {
		return "", refuse(http.StatusBadRequest, "invalid_grant", "%s: %v", param, err)
	}
	if cl.Subject == "" {
		return "", refuse(http.StatusBadRequest, "invalid_grant", "%s has no sub", param)
	}
	return cl.Subject, nil
}

// unverifiedIssuer reads the iss claim of a JWT without verifying it, to find
// the client of an assertion sent without client_id (allowed by RFC 7523).
func unverifiedIssuer(raw string) string {
	t, err := jwt.ParseSigned(raw, assertionAlgorithms)
	if err != nil {
		return ""
	}
	var cl jwt.Claims
	if err := t.UnsafeClaimsWithoutVerification(&cl); err != nil {
		return ""
	}
	return cl.Issuer
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
