// Package fakeentra is a fake Microsoft Entra ID for tests: a TLS server on
// loopback that the real azidentity/MSAL client can use as its authority host
// (instance discovery disabled, the server's CA trusted through the client's
// transport), and that issues real RS256 JWTs with rotating keys.
//
// It serves, per tenant (and per domain alias of a tenant, see AddDomain):
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration   OIDC discovery (v2 issuer)
//	GET  /{tenant}/.well-known/openid-configuration        OIDC discovery (v1 issuer)
//	GET  /{tenant}/discovery/v2.0/keys                      JWKS (also /{tenant}/discovery/keys)
//	POST /{tenant}/oauth2/v2.0/token                        client credentials: client_secret,
//	                                                        certificate assertion, federated assertion
//
// A companion ManagedIdentity server imitates the App Service managed identity
// endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER).
//
// The fake can be told to fail (HTTP 500, hang, close the connection, refuse
// connections) and counts requests, so tests can assert what a client did.
// The server machinery is internal/fakeoidc's. It is used by unit tests and
// by the e2e tests, hence an importable package.
package fakeentra // import "github.com/otelcol-custom/otelcol-custom/internal/fakeentra"

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
)

// FederationAudience is the audience Entra expects in a workload identity
// (federated) client assertion.
const FederationAudience = "api://AzureADTokenExchange"

// The server machinery (TLS on loopback, failure injection, counters, key
// rotation) is fakeoidc's; these names keep fakeentra's API.
type (
	// Failure selects how the failing endpoints answer.
	Failure = fakeoidc.Failure
	// Endpoint selects which endpoints a Failure applies to.
	Endpoint = fakeoidc.Endpoint
	// Counts is a snapshot of the request counters.
	Counts = fakeoidc.Counts
)

// Failure modes and endpoints, see fakeoidc.
const (
	FailNone          = fakeoidc.FailNone
	Fail500           = fakeoidc.Fail500
	FailHang          = fakeoidc.FailHang
	FailClose         = fakeoidc.FailClose
	FailRefuse        = fakeoidc.FailRefuse
	EndpointToken     = fakeoidc.EndpointToken
	EndpointDiscovery = fakeoidc.EndpointDiscovery
	EndpointJWKS      = fakeoidc.EndpointJWKS
	EndpointAll       = fakeoidc.EndpointAll
)

type app struct {
	tenant, clientID, secret string
	certs                    []*x509.Certificate
	subject                  string // federated credential subject
	roles                    []string
}

// Server is the fake Entra ID. The embedded Base and KeySet provide URL,
// CAPEM, WriteCAFile, CertPool, HTTPClient, Close, SetFailure,
// OnTokenRequest, Counts, RotateKey, RetireKeys, CurrentKeyID and
// CurrentPublicKey.
type Server struct {
	*fakeoidc.Base
	*fakeoidc.KeySet

	mu        sync.Mutex
	apps      map[string]*app
	lifetime  time.Duration
	refreshIn time.Duration
	fedKey    fakeoidc.SigningKey
	v1Tokens  bool
	domains   map[string]string // domain alias -> tenant id
}

// New starts a fake Entra ID on 127.0.0.1 with a fresh CA and one signing key.
// Close it when done.
func New() (*Server, error) {
	s := &Server{apps: map[string]*app{}, domains: map[string]string{}, lifetime: time.Hour}
	var err error
	if s.KeySet, err = fakeoidc.NewKeySet(); err != nil {
		return nil, err
	}
	if s.fedKey, err = fakeoidc.NewSigningKey(); err != nil {
		return nil, err
	}
	if s.Base, err = fakeoidc.NewBase("fakeentra", writeError); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.Handle(EndpointDiscovery, s.handleDiscovery(2)))
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", s.Handle(EndpointDiscovery, s.handleDiscovery(1)))
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.Handle(EndpointJWKS, s.ServeJWKS))
	mux.HandleFunc("GET /{tenant}/discovery/keys", s.Handle(EndpointJWKS, s.ServeJWKS))
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.Handle(EndpointToken, s.handleToken))
	s.Serve(mux)
	return s, nil
}

// AuthorityHost is the value for azcore's cloud.Configuration.ActiveDirectoryAuthorityHost.
func (s *Server) AuthorityHost() string { return s.URL() + "/" }

// Issuer is the v2 issuer of tokens for tenant.
func (s *Server) Issuer(tenant string) string { return s.URL() + "/" + tenant + "/v2.0" }

// IssuerV1 is the v1 issuer of tokens for tenant.
func (s *Server) IssuerV1(tenant string) string { return s.URL() + "/" + tenant + "/" }

// TokenEndpoint is the tenant's token endpoint.
func (s *Server) TokenEndpoint(tenant string) string {
	return s.URL() + "/" + tenant + "/oauth2/v2.0/token"
}

// SetTokenLifetime sets the lifetime of issued tokens (expires_in is whole seconds, min 1s).
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	s.lifetime = d
	s.mu.Unlock()
}

// SetRefreshIn makes token responses carry refresh_in (seconds); 0 omits it.
func (s *Server) SetRefreshIn(d time.Duration) {
	s.mu.Lock()
	s.refreshIn = d
	s.mu.Unlock()
}

// SetV1Tokens makes the token endpoint issue v1 tokens (v1 issuer, ver 1.0, appid claim).
func (s *Server) SetV1Tokens(v1 bool) {
	s.mu.Lock()
	s.v1Tokens = v1
	s.mu.Unlock()
}

// AddDomain makes domain (e.g. contoso.onmicrosoft.com) an alias of tenant,
// as a verified domain of an Entra directory: discovery, keys and token
// requests under /{domain}/ answer for the tenant, and the issuers and tokens
// name the tenant id, never the domain.
func (s *Server) AddDomain(domain, tenant string) {
	s.mu.Lock()
	s.domains[strings.ToLower(domain)] = tenant
	s.mu.Unlock()
}

// tenantOf resolves a domain alias in a request path to its tenant id.
func (s *Server) tenantOf(pathTenant string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.domains[strings.ToLower(pathTenant)]; ok {
		return t
	}
	return pathTenant
}

// AddClientSecret registers an application that authenticates with a secret.
func (s *Server) AddClientSecret(tenant, clientID, secret string, roles ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appLocked(tenant, clientID)
	a.secret, a.roles = secret, roles
}

// AddClientCertificate registers an application that authenticates with a
// certificate assertion signed by cert's private key.
func (s *Server) AddClientCertificate(tenant, clientID string, cert *x509.Certificate, roles ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appLocked(tenant, clientID)
	a.certs, a.roles = append(a.certs, cert), roles
}

// AddFederatedCredential registers an application that authenticates with a
// federated assertion (a Kubernetes service account token) for subject, as
// minted by FederatedAssertion.
func (s *Server) AddFederatedCredential(tenant, clientID, subject string, roles ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.appLocked(tenant, clientID)
	a.subject, a.roles = subject, roles
}

func (s *Server) appLocked(tenant, clientID string) *app {
	k := tenant + "/" + clientID
	a := s.apps[k]
	if a == nil {
		a = &app{tenant: tenant, clientID: clientID}
		s.apps[k] = a
	}
	return a
}

// FederationIssuer is the issuer of federated assertions (the "cluster").
func (s *Server) FederationIssuer() string { return s.URL() + "/federation" }

// FederatedAssertion mints a Kubernetes-style service account token for
// subject, signed by the federation issuer, valid for lifetime.
func (s *Server) FederatedAssertion(subject string, lifetime time.Duration) (string, error) {
	return s.fedKey.SignWorkloadToken(s.FederationIssuer(), subject, []string{FederationAudience}, lifetime)
}

// TokenClaims describes an access token to mint with IssueToken.
type TokenClaims struct {
	Tenant   string
	Audience string
	// AppID is the client (application) id: `azp` in v2 tokens, `appid` in v1.
	AppID  string
	OID    string
	Roles  []string
	Scopes string // `scp`, space separated
	// V1 issues a v1 token (v1 issuer, ver "1.0", appid); default v2.
	V1 bool
	// Issuer overrides the issuer.
	Issuer string
	// IssuedAt, NotBefore and Expiry default to now, now and now+lifetime.
	IssuedAt, NotBefore, Expiry time.Time
	// Extra claims merged last (may override any of the above).
	Extra map[string]any
}

// IssueToken mints an access token signed with the current key, as the token
// endpoint would. Tests use it to exercise a token validator directly.
func (s *Server) IssueToken(c TokenClaims) (string, error) {
	s.mu.Lock()
	lifetime := s.lifetime
	s.mu.Unlock()
	return s.CurrentKey().Sign(s.claims(c, lifetime))
}

func (s *Server) claims(c TokenClaims, lifetime time.Duration) map[string]any {
	now := time.Now()
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = c.IssuedAt
	}
	if c.Expiry.IsZero() {
		c.Expiry = c.IssuedAt.Add(lifetime)
	}
	if c.OID == "" {
		c.OID = objectID(c.Tenant, c.AppID)
	}
	uti := make([]byte, 16)
	_, _ = rand.Read(uti)
	m := map[string]any{
		// uti: like Entra, every token is unique (RS256 signatures are
		// deterministic, two tokens minted in the same second would be equal).
		"uti": base64.RawURLEncoding.EncodeToString(uti),
		"aud": c.Audience,
		"tid": c.Tenant,
		"oid": c.OID,
		"sub": c.OID,
		"iat": c.IssuedAt.Unix(),
		"nbf": c.NotBefore.Unix(),
		"exp": c.Expiry.Unix(),
	}
	if c.V1 {
		m["iss"], m["ver"], m["appid"] = s.IssuerV1(c.Tenant), "1.0", c.AppID
	} else {
		m["iss"], m["ver"], m["azp"] = s.Issuer(c.Tenant), "2.0", c.AppID
	}
	if c.Issuer != "" {
		m["iss"] = c.Issuer
	}
	if len(c.Roles) > 0 {
		m["roles"] = c.Roles
	}
	if c.Scopes != "" {
		m["scp"] = c.Scopes
	}
	for k, v := range c.Extra {
		m[k] = v
	}
	return m
}

// objectID derives a stable, GUID-shaped object id for a principal.
func objectID(tenant, clientID string) string {
	sum := sha256.Sum256([]byte("oid/" + tenant + "/" + clientID))
	h := fmt.Sprintf("%x", sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ObjectID is the oid the fake puts into tokens for clientID in tenant.
func ObjectID(tenant, clientID string) string { return objectID(tenant, clientID) }

func (s *Server) handleDiscovery(version int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tenant := s.tenantOf(r.PathValue("tenant"))
		base := s.URL() + "/" + tenant
		doc := map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"response_types_supported":              []string{"code", "id_token", "code id_token", "token id_token", "token"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"tenant_region_scope":                   "NA",
		}
		// Like Entra, the multi-tenant documents carry an issuer template.
		issTenant := tenant
		if tenant == "organizations" || tenant == "common" {
			issTenant = "{tenantid}"
		}
		if version == 2 {
			doc["issuer"] = s.Issuer(issTenant)
		} else {
			doc["issuer"] = s.IssuerV1(issTenant)
			doc["jwks_uri"] = base + "/discovery/keys"
		}
		fakeoidc.WriteJSON(w, http.StatusOK, doc)
	}
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: malformed request body")
		return
	}
	tenant := s.tenantOf(r.PathValue("tenant"))
	if r.PostForm.Get("grant_type") != "client_credentials" {
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: only client_credentials is supported by the fake")
		return
	}
	clientID := r.PostForm.Get("client_id")
	s.mu.Lock()
	var a *app
	if reg := s.apps[tenant+"/"+clientID]; reg != nil {
		cp := *reg // a snapshot: registrations may change while we answer
		a = &cp
	}
	known := s.tenantKnownLocked(tenant)
	s.mu.Unlock()
	if !known {
		s.CountRejected()
		writeError(w, http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("AADSTS90002: Tenant '%s' not found.", tenant))
		return
	}
	if a == nil {
		s.CountRejected()
		writeError(w, http.StatusBadRequest, "unauthorized_client",
			fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory '%s'.", clientID, tenant))
		return
	}
	if err := s.authenticateClient(r, a); err != nil {
		s.CountRejected()
		writeError(w, http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	aud := audienceFromScope(r.PostForm.Get("scope"))
	if aud == "" {
		writeError(w, http.StatusBadRequest, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid.")
		return
	}
	s.mu.Lock()
	lifetime, refreshIn, v1 := s.lifetime, s.refreshIn, s.v1Tokens
	s.mu.Unlock()
	tok, err := s.CurrentKey().Sign(s.claims(TokenClaims{
		Tenant: tenant, Audience: aud, AppID: clientID, Roles: a.roles, V1: v1,
	}, lifetime))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	s.CountIssued()
	secs := max(int64(lifetime/time.Second), 1)
	resp := map[string]any{
		"token_type":     "Bearer",
		"expires_in":     secs,
		"ext_expires_in": secs,
		"access_token":   tok,
	}
	if refreshIn > 0 {
		resp["refresh_in"] = max(int64(refreshIn/time.Second), 1)
	}
	fakeoidc.WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) tenantKnownLocked(tenant string) bool {
	for _, a := range s.apps {
		if a.tenant == tenant {
			return true
		}
	}
	return false
}

// audienceFromScope returns the resource of the first resource scope
// ("https://x/.default" -> "https://x"); OIDC scopes are skipped.
func audienceFromScope(scope string) string {
	for _, sc := range strings.Fields(scope) {
		switch sc {
		case "openid", "profile", "offline_access":
			continue
		}
		return strings.TrimSuffix(sc, "/.default")
	}
	return ""
}

func (s *Server) authenticateClient(r *http.Request, a *app) error {
	form := r.PostForm
	if sec := form.Get("client_secret"); sec != "" {
		if a.secret == "" || sec != a.secret {
			return fmt.Errorf("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", a.clientID)
		}
		return nil
	}
	if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return errors.New("AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	assertion := form.Get("client_assertion")
	jws, err := jose.ParseSignedCompact(assertion, []jose.SignatureAlgorithm{jose.PS256, jose.RS256})
	if err != nil {
		return fmt.Errorf("AADSTS50027: JWT token is invalid or malformed: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return errors.New("AADSTS50027: JWT token is invalid or malformed: want one signature")
	}
	if a.subject != "" && jws.Signatures[0].Header.KeyID == s.fedKey.KID {
		return s.verifyFederated(jws, a)
	}
	return s.verifyCertAssertion(jws, a, s.TokenEndpoint(a.tenant))
}

type assertionClaims struct {
	Iss string           `json:"iss"`
	Sub string           `json:"sub"`
	Aud jwt.Audience     `json:"aud"`
	Exp *jwt.NumericDate `json:"exp"`
	Nbf *jwt.NumericDate `json:"nbf"`
}

func (s *Server) verifyFederated(jws *jose.JSONWebSignature, a *app) error {
	payload, err := jws.Verify(&s.fedKey.Private.PublicKey)
	if err != nil {
		return errors.New("AADSTS700024: Client assertion signature is invalid.")
	}
	var c assertionClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return errors.New("AADSTS50027: client assertion claims are malformed")
	}
	switch {
	case c.Iss != s.FederationIssuer():
		return fmt.Errorf("AADSTS70021: No matching federated identity record found for presented assertion issuer '%s'.", c.Iss)
	case c.Sub != a.subject:
		return fmt.Errorf("AADSTS70021: No matching federated identity record found for presented assertion subject '%s'.", c.Sub)
	case !c.Aud.Contains(FederationAudience):
		return errors.New("AADSTS700212: No matching federated identity record found for presented assertion audience.")
	case c.Exp == nil || time.Now().After(c.Exp.Time()):
		return errors.New("AADSTS700024: Client assertion is not within its valid time range.")
	}
	return nil
}

func (s *Server) verifyCertAssertion(jws *jose.JSONWebSignature, a *app, tokenEndpoint string) error {
	h := jws.Signatures[0].Header
	var thumb string
	if v, ok := h.ExtraHeaders["x5t#S256"].(string); ok {
		thumb = v
	}
	var cert *x509.Certificate
	for _, c := range a.certs {
		sum := sha256.Sum256(c.Raw)
		if thumb == base64.StdEncoding.EncodeToString(sum[:]) || thumb == base64.RawURLEncoding.EncodeToString(sum[:]) {
			cert = c
		}
	}
	if cert == nil {
		return fmt.Errorf("AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application '%s'.", a.clientID)
	}
	payload, err := jws.Verify(cert.PublicKey)
	if err != nil {
		return errors.New("AADSTS700027: Client assertion failed signature validation.")
	}
	var c assertionClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return errors.New("AADSTS50027: client assertion claims are malformed")
	}
	switch {
	case c.Iss != a.clientID || c.Sub != a.clientID:
		return errors.New("AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter.")
	case !c.Aud.Contains(tokenEndpoint):
		return fmt.Errorf("AADSTS700212: client assertion audience claim does not match %s", tokenEndpoint)
	case c.Exp == nil || time.Now().After(c.Exp.Time()):
		return errors.New("AADSTS700024: Client assertion is not within its valid time range.")
	}
	return nil
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	fakeoidc.WriteJSON(w, status, map[string]any{
		"error":             code,
		"error_description": desc,
		"error_codes":       []int{},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":          "00000000-0000-0000-0000-000000000000",
		"correlation_id":    "00000000-0000-0000-0000-000000000000",
	})
}
