package azureidentityauthext // import "github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/maypok86/otter/v2"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext/internal/metadata"
)

// maxTokenLength bounds a presented token before any parsing. Entra access
// tokens are a few KiB; 16 KiB leaves ample room.
const maxTokenLength = 16 << 10

// keysUnavailableLogInterval is the least time between two log lines about
// requests refused because the signing keys are unavailable.
const keysUnavailableLogInterval = 10 * time.Second

// Refusal reasons (the "reason" attribute of the refused-requests metric).
const (
	reasonNotConfigured  = "not_configured"
	reasonMissing        = "missing_header"
	reasonMalformedHdr   = "malformed_header"
	reasonMalformedToken = "malformed_token"
	reasonAlgorithm      = "unsupported_algorithm"
	reasonUnknownKey     = "unknown_key"
	reasonNoKeys         = "keys_unavailable"
	reasonSignature      = "bad_signature"
	reasonExpired        = "expired"
	reasonNotYetValid    = "not_yet_valid"
	reasonIssuer         = "wrong_issuer"
	reasonAudience       = "wrong_audience"
	reasonTenant         = "wrong_tenant"
	reasonRole           = "missing_role"
	reasonScope          = "missing_scope"
)

// authError is a refusal. Receivers turn it into HTTP 401 / gRPC
// Unauthenticated with Error() as the message, so it says what is wrong with
// the token and never contains the token, nor internal detail (fetch errors,
// URLs) that only the operator should see. Values copied from the token's
// claims are quoted and truncated.
type authError struct {
	reason string
	msg    string
}

func (e *authError) Error() string { return e.msg }

func refuse(reason, format string, args ...any) *authError {
	return &authError{reason: reason, msg: "azureidentityauth: " + fmt.Sprintf(format, args...)}
}

// tokenClaims are the claims of an Entra access token that are checked or
// exposed. Unknown claims are ignored.
type tokenClaims struct {
	Iss   string           `json:"iss"`
	Aud   jwt.Audience     `json:"aud"`
	Exp   *jwt.NumericDate `json:"exp"`
	Nbf   *jwt.NumericDate `json:"nbf"`
	Tid   string           `json:"tid"`
	Oid   string           `json:"oid"`
	Sub   string           `json:"sub"`
	Azp   string           `json:"azp"`
	AppID string           `json:"appid"`
	Ver   string           `json:"ver"`
	Scp   string           `json:"scp"`
	Roles []string         `json:"roles"`
}

// principal is the validated identity of a token. It is immutable and shared
// by every request presenting the same token; it implements client.AuthData.
type principal struct {
	subject, oid, tid, appID, azp, sub, iss, ver string
	roles, scopes                                []string
	exp, nbf                                     time.Time
	// kid and key verified the token's signature. A cache hit is served only
	// while the current key set still maps kid to key, so a withdrawn key
	// stops being trusted as soon as the new set is published, even for an
	// entry written by a verification that began before the change.
	kid string
	key *rsa.PublicKey
}

var _ client.AuthData = (*principal)(nil)

var principalAttributes = []string{"subject", "oid", "tid", "appid", "azp", "sub", "iss", "ver", "roles", "scopes"}

// GetAttribute returns a claim: "subject" (oid, else sub), "oid", "tid",
// "appid" (appid of v1 tokens, azp of v2), "azp", "sub", "iss", "ver" as
// strings; "roles" and "scopes" as []string (shared: do not modify).
func (p *principal) GetAttribute(name string) any {
	switch name {
	case "subject":
		return p.subject
	case "oid":
		return p.oid
	case "tid":
		return p.tid
	case "appid":
		return p.appID
	case "azp":
		return p.azp
	case "sub":
		return p.sub
	case "iss":
		return p.iss
	case "ver":
		return p.ver
	case "roles":
		return p.roles
	case "scopes":
		return p.scopes
	}
	return nil
}

// GetAttributeNames lists the attributes GetAttribute knows.
func (p *principal) GetAttributeNames() []string { return slices.Clone(principalAttributes) }

// validator checks Entra access tokens for one server configuration.
type validator struct {
	keys      *keySet
	audiences []string
	tenants   map[string]struct{} // allowed tid values; nil: any (fixed issuer without allowed_tenants), or tenantOfKeys
	// tenantOfKeys: tenant_id is a domain name, the allowed tid is the tenant
	// id the key set read from discovery.
	tenantOfKeys bool
	roles        []string
	scopes       []string
	skew         time.Duration
	header       string // canonical
	headerLow    string
	scheme       string
	cache        *otter.Cache[string, *principal] // validated tokens; nil if disabled
	tb           *metadata.TelemetryBuilder
	reasons      map[string]metric.AddOption
	now          func() time.Time
	// keysLog paces the log line explaining a keys_unavailable refusal: the
	// caller gets a generic message, the operator the fetch error.
	keysLog rate.Sometimes
}

func newValidator(s *ServerConfig, keys *keySet, header, scheme string, tb *metadata.TelemetryBuilder) (*validator, error) {
	v := &validator{
		keys:      keys,
		audiences: s.Audiences,
		roles:     s.RequiredRoles,
		scopes:    s.RequiredScopes,
		skew:      s.ClockSkew,
		header:    textproto.CanonicalMIMEHeaderKey(header),
		headerLow: strings.ToLower(header),
		scheme:    scheme,
		tb:        tb,
		reasons:   map[string]metric.AddOption{},
		now:       time.Now,
		keysLog:   rate.Sometimes{Interval: keysUnavailableLogInterval},
	}
	allowed := s.AllowedTenants
	if len(allowed) == 0 && s.TenantID != "" && !isMultiTenant(s.TenantID) {
		if tenantDomain(s) != "" {
			v.tenantOfKeys = true
		} else {
			allowed = []string{s.TenantID}
		}
	}
	if len(allowed) > 0 {
		v.tenants = make(map[string]struct{}, len(allowed))
		for _, t := range allowed {
			v.tenants[strings.ToLower(t)] = struct{}{}
		}
	}
	for _, r := range []string{reasonNotConfigured, reasonMissing, reasonMalformedHdr, reasonMalformedToken, reasonAlgorithm,
		reasonUnknownKey, reasonNoKeys, reasonSignature, reasonExpired, reasonNotYetValid, reasonIssuer, reasonAudience,
		reasonTenant, reasonRole, reasonScope} {
		v.reasons[r] = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))
	}
	if s.TokenCacheSize > 0 {
		c, err := otter.New(&otter.Options[string, *principal]{MaximumSize: s.TokenCacheSize})
		if err != nil {
			return nil, err
		}
		v.cache = c
	}
	return v, nil
}

// authenticate validates the token in headers and returns ctx carrying the
// principal in client.Info.Auth.
func (v *validator) authenticate(ctx context.Context, headers map[string][]string) (context.Context, error) {
	p, aerr := v.check(ctx, headers)
	if aerr != nil {
		if v.tb != nil {
			v.tb.AzureidentityauthServerRefusedRequests.Add(ctx, 1, v.reasons[aerr.reason])
		}
		return ctx, aerr
	}
	info := client.FromContext(ctx)
	info.Auth = p
	return client.NewContext(ctx, info), nil
}

func (v *validator) check(ctx context.Context, headers map[string][]string) (*principal, *authError) {
	raw, aerr := v.extract(headers)
	if aerr != nil {
		return nil, aerr
	}
	now := v.now()
	if v.cache != nil {
		if p, ok := v.cache.GetIfPresent(raw); ok {
			if !v.keys.stillTrusted(p.kid, p.key) {
				v.cache.Invalidate(raw)
			} else {
				if aerr := v.checkTimes(p.exp, p.nbf, now); aerr != nil {
					v.cache.Invalidate(raw)
					return nil, aerr
				}
				return p, nil
			}
		}
	}
	p, aerr := v.verify(ctx, raw, now)
	if aerr != nil {
		return nil, aerr
	}
	if v.cache != nil {
		v.cache.Set(raw, p)
	}
	return p, nil
}

// extract finds the one header value and strips the scheme.
func (v *validator) extract(headers map[string][]string) (string, *authError) {
	vals, ok := headers[v.header]
	if !ok {
		vals, ok = headers[v.headerLow]
	}
	if !ok {
		for k, vs := range headers {
			if strings.EqualFold(k, v.header) {
				vals, ok = vs, true
				break
			}
		}
	}
	if !ok || len(vals) == 0 {
		return "", refuse(reasonMissing, "missing %s header", v.header)
	}
	if len(vals) > 1 {
		return "", refuse(reasonMalformedHdr, "more than one %s header value; exactly one is allowed", v.header)
	}
	s := vals[0]
	if v.scheme != "" {
		n := len(v.scheme)
		if len(s) <= n || !strings.EqualFold(s[:n], v.scheme) || s[n] != ' ' {
			return "", refuse(reasonMalformedHdr, "%s header does not hold %q followed by a token", v.header, v.scheme+" ")
		}
		s = strings.TrimLeft(s[n+1:], " ")
	}
	if s == "" {
		return "", refuse(reasonMalformedHdr, "%s header holds no token", v.header)
	}
	if len(s) > maxTokenLength {
		return "", refuse(reasonMalformedToken, "token longer than %d bytes", maxTokenLength)
	}
	return s, nil
}

// verify checks signature and claims of a token not seen before.
func (v *validator) verify(ctx context.Context, raw string, now time.Time) (*principal, *authError) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, explainParseError(raw)
	}
	if len(jws.Signatures) != 1 {
		return nil, refuse(reasonMalformedToken, "token must carry exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	if kid == "" {
		return nil, refuse(reasonMalformedToken, "token header has no kid (key id)")
	}
	key, aerr := v.key(ctx, kid)
	if aerr != nil {
		return nil, aerr
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, refuse(reasonSignature, "token signature is invalid for key %s", quote(kid))
	}
	var c tokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, refuse(reasonMalformedToken, "token claims are not valid JSON claims: %v", err)
	}
	p, aerr := v.checkClaims(&c, now)
	if aerr != nil {
		return nil, aerr
	}
	p.kid, p.key = kid, key
	return p, nil
}

// key returns the public key for kid, re-fetching the key set (rate-limited)
// when kid is unknown.
func (v *validator) key(ctx context.Context, kid string) (*rsa.PublicKey, *authError) {
	if st := v.keys.current(); st != nil {
		if k := st.keys[kid]; k != nil {
			return k, nil
		}
	}
	v.keys.refetchForUnknownKid(ctx)
	st := v.keys.current()
	if st == nil {
		err := v.keys.lastError()
		if err == nil {
			err = errNoKeys
		}
		// The fetch error names URLs, DNS and TLS details: for the log only.
		v.keysLog.Do(func() {
			v.keys.logger.Warn("Refusing requests: the token issuer's signing keys are not available", zap.Error(err))
		})
		return nil, refuse(reasonNoKeys, "the server cannot validate tokens now: the issuer's signing keys are not available")
	}
	if k := st.keys[kid]; k != nil {
		return k, nil
	}
	return nil, refuse(reasonUnknownKey, "token is signed with unknown key %s (not in the issuer's JWKS)", quote(kid))
}

func (v *validator) checkClaims(c *tokenClaims, now time.Time) (*principal, *authError) {
	if c.Exp == nil {
		return nil, refuse(reasonMalformedToken, "token has no exp claim")
	}
	p := &principal{
		oid: c.Oid, tid: c.Tid, azp: c.Azp, sub: c.Sub, iss: c.Iss, ver: c.Ver,
		roles: c.Roles, exp: c.Exp.Time(),
	}
	if c.Nbf != nil {
		p.nbf = c.Nbf.Time()
	}
	if aerr := v.checkTimes(p.exp, p.nbf, now); aerr != nil {
		return nil, aerr
	}
	if !v.issuerOK(c.Iss, c.Tid) {
		return nil, refuse(reasonIssuer, "token issuer %s is not accepted", quote(c.Iss))
	}
	if !slices.ContainsFunc(v.audiences, func(a string) bool { return c.Aud.Contains(a) }) {
		return nil, refuse(reasonAudience, "token audience %s is not one of the accepted audiences", quote(strings.Join(c.Aud, ",")))
	}
	if !v.tenantOK(c.Tid) {
		return nil, refuse(reasonTenant, "token tenant %s is not allowed", quote(c.Tid))
	}
	for _, r := range v.roles {
		if !slices.Contains(c.Roles, r) {
			return nil, refuse(reasonRole, "token lacks the required role %s", quote(r))
		}
	}
	if c.Scp != "" {
		p.scopes = strings.Fields(c.Scp)
	}
	for _, s := range v.scopes {
		if !slices.Contains(p.scopes, s) {
			return nil, refuse(reasonScope, "token lacks the required scope %s", quote(s))
		}
	}
	p.appID = c.AppID
	if p.appID == "" {
		p.appID = c.Azp
	}
	p.subject = c.Oid
	if p.subject == "" {
		p.subject = c.Sub
	}
	return p, nil
}

// tenantOK checks tid against allowed_tenants, tenant_id, or the tenant id
// discovery gave for a tenant_id that is a domain name.
func (v *validator) tenantOK(tid string) bool {
	if v.tenantOfKeys {
		st := v.keys.current()
		return st != nil && st.tenant != "" && strings.EqualFold(tid, st.tenant)
	}
	if v.tenants == nil {
		return true
	}
	_, ok := v.tenants[strings.ToLower(tid)]
	return ok
}

func (v *validator) checkTimes(exp, nbf, now time.Time) *authError {
	if !now.Before(exp.Add(v.skew)) {
		return refuse(reasonExpired, "token expired at %s (clock skew allowance %s)", exp.UTC().Format(time.RFC3339), v.skew)
	}
	if !nbf.IsZero() && now.Add(v.skew).Before(nbf) {
		return refuse(reasonNotYetValid, "token is not valid before %s (clock skew allowance %s)", nbf.UTC().Format(time.RFC3339), v.skew)
	}
	return nil
}

// issuerOK matches iss against the issuers of the discovery documents,
// substituting the token's tid into Entra's "{tenantid}" template.
func (v *validator) issuerOK(iss, tid string) bool {
	st := v.keys.current()
	if st == nil || iss == "" {
		return false
	}
	for _, want := range st.issuers {
		if strings.Contains(want, "{tenantid}") {
			if tid == "" || !validTenantChars(tid) {
				continue
			}
			want = strings.ReplaceAll(want, "{tenantid}", tid)
		}
		if iss == want {
			return true
		}
	}
	return false
}

func validTenantChars(t string) bool {
	for _, r := range t {
		if !isAlnum(r) && r != '-' && r != '.' {
			return false
		}
	}
	return true
}

// explainParseError turns a parse failure into a clear reason, naming a
// refused algorithm ("none", "HS256", ...) when the header says which.
func explainParseError(raw string) *authError {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return refuse(reasonMalformedToken, "token is not a JWT (want three dot-separated parts, got %d)", len(parts))
	}
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return refuse(reasonMalformedToken, "token header is not base64url")
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		return refuse(reasonMalformedToken, "token header is not JSON")
	}
	if h.Alg != string(jose.RS256) {
		return refuse(reasonAlgorithm, "token algorithm %s is not accepted (only RS256)", quote(h.Alg))
	}
	return refuse(reasonMalformedToken, "token is not a valid compact JWS")
}

// quote renders a value taken from a token for an error message: quoted,
// truncated, without control characters.
func quote(s string) string {
	const maxLen = 80
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	return fmt.Sprintf("%q", s)
}
