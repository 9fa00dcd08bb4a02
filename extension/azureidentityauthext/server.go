package azureidentityauthext // import "github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"go.opentelemetry.io/collector/client"
	"go.uber.org/zap"

	"github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/jwtauth"
)

// The server side is Entra presets over internal/jwtauth: the discovery
// documents of a tenant (v2 and v1 issuers, the "{tenantid}" template of the
// multi-tenant documents), tid checks, roles and scopes.

// Refusal reasons (the "reason" attribute of the refused-requests metric).
const (
	reasonNotConfigured  = jwtauth.ReasonNotConfigured
	reasonMissing        = jwtauth.ReasonMissing
	reasonMalformedHdr   = jwtauth.ReasonMalformedHdr
	reasonMalformedToken = jwtauth.ReasonMalformedToken
	reasonAlgorithm      = jwtauth.ReasonAlgorithm
	reasonUnknownKey     = jwtauth.ReasonUnknownKey
	reasonNoKeys         = jwtauth.ReasonNoKeys
	reasonSignature      = jwtauth.ReasonSignature
	reasonExpired        = jwtauth.ReasonExpired
	reasonNotYetValid    = jwtauth.ReasonNotYetValid
	reasonIssuer         = jwtauth.ReasonIssuer
	reasonAudience       = jwtauth.ReasonAudience
	reasonTenant         = "wrong_tenant"
	reasonRole           = "missing_role"
	reasonScope          = "missing_scope"
)

// principal is the validated identity of a token. It is immutable and shared
// by every request presenting the same token; it implements client.AuthData.
type principal struct {
	subject, oid, tid, appID, azp, sub, iss, ver string
	roles, scopes                                []string
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

// keySet is the issuer's signing keys (jwtauth.KeySet).
type keySet struct{ *jwtauth.KeySet }

// entraKeys returns the key set for s: the discovery documents of s.Issuer,
// or of the tenant's v2 and v1 endpoints.
func entraKeys(c jwtauth.KeySetConfig, s *ServerConfig, authorityHost string, logger *zap.Logger) *keySet {
	if s.Issuer != "" {
		c.FixedIssuer = s.Issuer
		c.DocURLs = []string{strings.TrimSuffix(s.Issuer, "/") + "/.well-known/openid-configuration"}
	} else {
		base := authorityHost + s.TenantID
		c.DocURLs = []string{base + "/v2.0/.well-known/openid-configuration", base + "/.well-known/openid-configuration"}
	}
	c.Logger = logger.With(zap.String("issuer_discovery", c.DocURLs[0]))
	c.FixedIssuerKey = "server::issuer"
	c.Algorithms = []jose.SignatureAlgorithm{jose.RS256}
	c.RefreshEvery, c.MinRefetch = s.KeysRefreshInterval, s.KeysMinRefetchInterval
	if domain := tenantDomain(s); domain != "" {
		c.Resolve = func(u, iss string) (string, error) {
			if t := tenantOfIssuer(iss); t != "" {
				return t, nil
			}
			return "", fmt.Errorf("discovery document %s for server::tenant_id %q names issuer %q, which holds no tenant id", u, domain, iss)
		}
	}
	return &keySet{jwtauth.NewKeySet(c)}
}

// validator checks Entra access tokens for one server configuration.
type validator struct {
	*jwtauth.Validator
	tenants map[string]struct{} // allowed tid values; nil: any (fixed issuer without allowed_tenants), or tenantOfKeys
	// tenantOfKeys: tenant_id is a domain name, the allowed tid is the tenant
	// id the key set read from discovery (KeyState.Tag).
	tenantOfKeys bool
	roles        []string
	scopes       []string
}

func newValidator(s *ServerConfig, keys *keySet, header, scheme string, tb *metadata.TelemetryBuilder) (*validator, error) {
	v := &validator{roles: s.RequiredRoles, scopes: s.RequiredScopes}
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
	cfg := jwtauth.Config{
		Prefix: "azureidentityauth",
		Issuers: []*jwtauth.Issuer{{
			Keys: keys.KeySet, Audiences: s.Audiences,
			MatchIssuer: matchEntraIssuer, Finish: v.finish,
		}},
		Algorithms: []jose.SignatureAlgorithm{jose.RS256},
		ClockSkew:  s.ClockSkew,
		Header:     header,
		Scheme:     scheme,
		CacheSize:  s.TokenCacheSize,
		Logger:     keys.Logger(),
	}
	if tb != nil {
		cfg.OnRefuse = jwtauth.CountRefusals(tb.AzureidentityauthServerRefusedRequests, reasonTenant, reasonRole, reasonScope)
	}
	jv, err := jwtauth.New(cfg)
	if err != nil {
		return nil, err
	}
	v.Validator = jv
	return v, nil
}

var stringClaims = []string{"oid", "tid", "azp", "sub", "appid", "ver", "scp"}

// finish checks tenant, roles and scopes and builds the principal.
func (v *validator) finish(c jwtauth.Claims, st *jwtauth.KeyState) (client.AuthData, *jwtauth.Refusal) {
	// The claims read here have the JSON types Entra gives them; any other
	// type is refused, as a typed decoding would.
	for _, name := range stringClaims {
		if x, ok := c[name]; ok && x != nil {
			if _, ok := x.(string); !ok {
				return nil, jwtauth.Refuse(reasonMalformedToken, "token claims are not valid JSON claims: %s is not a string", name)
			}
		}
	}
	p := &principal{
		oid: c.String("oid"), tid: c.String("tid"), azp: c.String("azp"), sub: c.String("sub"),
		iss: c.String("iss"), ver: c.String("ver"), appID: c.String("appid"),
	}
	switch r := c["roles"].(type) {
	case nil:
	case []any:
		p.roles = c.Strings("roles")
		if len(p.roles) != len(r) {
			return nil, jwtauth.Refuse(reasonMalformedToken, "token claims are not valid JSON claims: roles is not an array of strings")
		}
	default:
		// Entra sends roles as an array; anything else is not its token.
		return nil, jwtauth.Refuse(reasonMalformedToken, "token claims are not valid JSON claims: roles is not an array of strings")
	}
	if !v.tenantOK(p.tid, st) {
		return nil, jwtauth.Refuse(reasonTenant, "token tenant %s is not allowed", jwtauth.Quote(p.tid))
	}
	for _, r := range v.roles {
		if !slices.Contains(p.roles, r) {
			return nil, jwtauth.Refuse(reasonRole, "token lacks the required role %s", jwtauth.Quote(r))
		}
	}
	if scp := c.String("scp"); scp != "" {
		p.scopes = strings.Fields(scp)
	}
	for _, s := range v.scopes {
		if !slices.Contains(p.scopes, s) {
			return nil, jwtauth.Refuse(reasonScope, "token lacks the required scope %s", jwtauth.Quote(s))
		}
	}
	if p.appID == "" {
		p.appID = p.azp
	}
	p.subject = p.oid
	if p.subject == "" {
		p.subject = p.sub
	}
	return p, nil
}

// tenantOK checks tid against allowed_tenants, tenant_id, or the tenant id
// discovery gave for a tenant_id that is a domain name.
func (v *validator) tenantOK(tid string, st *jwtauth.KeyState) bool {
	if v.tenantOfKeys {
		return st != nil && st.Tag != "" && strings.EqualFold(tid, st.Tag)
	}
	if v.tenants == nil {
		return true
	}
	_, ok := v.tenants[strings.ToLower(tid)]
	return ok
}

// matchEntraIssuer matches iss against the issuers of the discovery
// documents, substituting the token's tid into Entra's "{tenantid}" template.
func matchEntraIssuer(st *jwtauth.KeyState, iss string, c jwtauth.Claims) bool {
	tid := c.String("tid")
	for _, want := range st.Issuers {
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
