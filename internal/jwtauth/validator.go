package jwtauth // import "github.com/otelcol-custom/otelcol-custom/internal/jwtauth"

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/maypok86/otter/v2"
	"go.opentelemetry.io/collector/client"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// MaxTokenLength bounds a presented token before any parsing. Access tokens
// are a few KiB; 16 KiB leaves ample room.
const MaxTokenLength = 16 << 10

// keysUnavailableLogInterval is the least time between two log lines about
// requests refused because the signing keys are unavailable.
const keysUnavailableLogInterval = 10 * time.Second

// Refusal reasons (the "reason" attribute of the refused-requests metrics).
const (
	ReasonNotConfigured  = "not_configured"
	ReasonMissing        = "missing_header"
	ReasonMalformedHdr   = "malformed_header"
	ReasonMalformedToken = "malformed_token"
	ReasonAlgorithm      = "unsupported_algorithm"
	ReasonUnknownKey     = "unknown_key"
	ReasonNoKeys         = "keys_unavailable"
	ReasonSignature      = "bad_signature"
	ReasonExpired        = "expired"
	ReasonNotYetValid    = "not_yet_valid"
	ReasonIssuer         = "wrong_issuer"
	ReasonAudience       = "wrong_audience"
)

// Reasons are the refusal reasons above, for CountRefusals.
var Reasons = []string{ReasonNotConfigured, ReasonMissing, ReasonMalformedHdr, ReasonMalformedToken,
	ReasonAlgorithm, ReasonUnknownKey, ReasonNoKeys, ReasonSignature, ReasonExpired, ReasonNotYetValid,
	ReasonIssuer, ReasonAudience}

// Refusal is a refused token. Receivers turn it into HTTP 401 / gRPC
// Unauthenticated with Error() as the message, so it says what is wrong with
// the token and never contains the token, nor internal detail (fetch errors,
// URLs) that only the operator should see. Values copied from the token's
// claims are quoted and truncated (Quote).
type Refusal struct {
	Reason string
	msg    string
}

func (e *Refusal) Error() string { return e.msg }

// Refuse returns a refusal; the Validator prefixes the message with its
// Prefix.
func Refuse(reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, msg: fmt.Sprintf(format, args...)}
}

// Claims are a token's verified claims, as decoded JSON.
type Claims map[string]any

// String returns a string claim ("" if absent or not a string).
func (c Claims) String(name string) string {
	s, _ := c[name].(string)
	return s
}

// Strings returns a claim that is an array of strings (other elements are
// skipped) or a single string (as one element).
func (c Claims) Strings(name string) []string {
	switch v := c[name].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Issuer is one accepted token issuer for a Validator.
type Issuer struct {
	Keys      *KeySet
	Audiences []string
	// Algorithms narrow the Validator's algorithms for this issuer (nil:
	// all of them).
	Algorithms []jose.SignatureAlgorithm
	// Name selects this issuer for a token whose iss equals it when the
	// Validator has several issuers; with one issuer it may be empty.
	Name string
	// MatchIssuer reports whether iss is accepted given the current keys;
	// nil: iss equals one of st.Issuers.
	MatchIssuer func(st *KeyState, iss string, c Claims) bool
	// Finish checks the remaining claims (after times, issuer and audience)
	// and returns the principal stored in client.Info.Auth.
	Finish func(c Claims, st *KeyState) (client.AuthData, *Refusal)
}

// Config configures a Validator.
type Config struct {
	// Prefix starts every refusal message ("oidcauth").
	Prefix  string
	Issuers []*Issuer
	// Algorithms is the allow-list of token algorithms (RS256, PS256,
	// ES256); never none or HMAC.
	Algorithms []jose.SignatureAlgorithm
	ClockSkew  time.Duration
	// Header holds the token, after Scheme and a space ("" Scheme: raw).
	Header, Scheme string
	// CacheSize bounds the validated-token cache (0: no cache).
	CacheSize int
	// OnRefuse, if set, is called with the reason of every refusal.
	OnRefuse func(ctx context.Context, reason string)
	// Logger receives the operator's side of a keys_unavailable refusal.
	Logger *zap.Logger
}

// entry is a validated token in the cache.
type entry struct {
	auth     client.AuthData
	exp, nbf time.Time
	// issuer, kid and key verified the token's signature. A cache hit is
	// served only while the issuer's current key set still maps kid to key,
	// so a withdrawn key stops being trusted as soon as the new set is
	// published, even for an entry written by a verification that began
	// before the change.
	issuer *Issuer
	kid    string
	key    *Key
}

// Validator checks bearer tokens against one or more issuers.
type Validator struct {
	cfg       Config
	header    string // canonical
	headerLow string
	algsMsg   string
	cache     *otter.Cache[string, *entry]
	// Now is the clock (tests may replace it before use).
	Now func() time.Time
	// keysLog paces the log line explaining a keys_unavailable refusal: the
	// caller gets a generic message, the operator the fetch error.
	keysLog rate.Sometimes
}

// New returns a Validator.
func New(cfg Config) (*Validator, error) {
	if len(cfg.Issuers) == 0 {
		return nil, fmt.Errorf("no issuer configured")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []jose.SignatureAlgorithm{jose.RS256}
	}
	for _, a := range cfg.Algorithms {
		if !slices.Contains(SupportedAlgorithms, a) {
			return nil, fmt.Errorf("algorithm %q is not supported (supported: %s)", a, algList(SupportedAlgorithms))
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	v := &Validator{
		cfg:       cfg,
		header:    textproto.CanonicalMIMEHeaderKey(cfg.Header),
		headerLow: strings.ToLower(cfg.Header),
		algsMsg:   algList(cfg.Algorithms),
		Now:       time.Now,
		keysLog:   rate.Sometimes{Interval: keysUnavailableLogInterval},
	}
	if cfg.CacheSize > 0 {
		c, err := otter.New(&otter.Options[string, *entry]{MaximumSize: cfg.CacheSize})
		if err != nil {
			return nil, err
		}
		v.cache = c
	}
	return v, nil
}

// SupportedAlgorithms are the algorithms a Validator may allow.
var SupportedAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256}

// ClockSkew is the configured allowance for exp and nbf.
func (v *Validator) ClockSkew() time.Duration { return v.cfg.ClockSkew }

// InvalidateCache drops every validated token (a key was withdrawn).
func (v *Validator) InvalidateCache() {
	if v.cache != nil {
		v.cache.InvalidateAll()
	}
}

func (v *Validator) refuse(r *Refusal) *Refusal {
	return &Refusal{Reason: r.Reason, msg: v.cfg.Prefix + ": " + r.msg}
}

// Authenticate validates the token in headers and returns ctx carrying the
// principal in client.Info.Auth. The error is a *Refusal.
func (v *Validator) Authenticate(ctx context.Context, headers map[string][]string) (context.Context, error) {
	auth, r := v.Check(ctx, headers)
	if r != nil {
		if v.cfg.OnRefuse != nil {
			v.cfg.OnRefuse(ctx, r.Reason)
		}
		return ctx, r
	}
	info := client.FromContext(ctx)
	info.Auth = auth
	return client.NewContext(ctx, info), nil
}

// Check validates the token in headers and returns its principal.
func (v *Validator) Check(ctx context.Context, headers map[string][]string) (client.AuthData, *Refusal) {
	raw, r := v.Extract(headers)
	if r != nil {
		return nil, v.refuse(r)
	}
	now := v.Now()
	if v.cache != nil {
		if e, ok := v.cache.GetIfPresent(raw); ok {
			if !e.issuer.Keys.StillTrusted(e.kid, e.key) {
				v.cache.Invalidate(raw)
			} else {
				if r := v.checkTimes(e.exp, e.nbf, now); r != nil {
					v.cache.Invalidate(raw)
					return nil, v.refuse(r)
				}
				return e.auth, nil
			}
		}
	}
	e, r := v.verify(ctx, raw, now)
	if r != nil {
		return nil, v.refuse(r)
	}
	if v.cache != nil {
		v.cache.Set(raw, e)
	}
	return e.auth, nil
}

// Extract finds the one header value and strips the scheme.
func (v *Validator) Extract(headers map[string][]string) (string, *Refusal) {
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
		return "", Refuse(ReasonMissing, "missing %s header", v.header)
	}
	if len(vals) > 1 {
		return "", Refuse(ReasonMalformedHdr, "more than one %s header value; exactly one is allowed", v.header)
	}
	s := vals[0]
	if sch := v.cfg.Scheme; sch != "" {
		n := len(sch)
		if len(s) <= n || !strings.EqualFold(s[:n], sch) || s[n] != ' ' {
			return "", Refuse(ReasonMalformedHdr, "%s header does not hold %q followed by a token", v.header, sch+" ")
		}
		s = strings.TrimLeft(s[n+1:], " ")
	}
	if s == "" {
		return "", Refuse(ReasonMalformedHdr, "%s header holds no token", v.header)
	}
	if len(s) > MaxTokenLength {
		return "", Refuse(ReasonMalformedToken, "token longer than %d bytes", MaxTokenLength)
	}
	return s, nil
}

// verify checks signature and claims of a token not seen before.
func (v *Validator) verify(ctx context.Context, raw string, now time.Time) (*entry, *Refusal) {
	jws, err := jose.ParseSignedCompact(raw, v.cfg.Algorithms)
	if err != nil {
		return nil, v.explainParseError(raw)
	}
	if len(jws.Signatures) != 1 {
		return nil, Refuse(ReasonMalformedToken, "token must carry exactly one signature")
	}
	hdr := jws.Signatures[0].Header
	if hdr.KeyID == "" {
		return nil, Refuse(ReasonMalformedToken, "token header has no kid (key id)")
	}
	iss, r := v.selectIssuer(jws.UnsafePayloadWithoutVerification())
	if r != nil {
		return nil, r
	}
	alg := jose.SignatureAlgorithm(hdr.Algorithm)
	if iss.Algorithms != nil && !slices.Contains(iss.Algorithms, alg) {
		return nil, Refuse(ReasonAlgorithm, "token algorithm %s is not accepted for its issuer (only %s)", Quote(hdr.Algorithm), algList(iss.Algorithms))
	}
	key, r := v.key(ctx, iss.Keys, hdr.KeyID)
	if r != nil {
		return nil, r
	}
	if !slices.Contains(key.Algs, alg) {
		// An ES256 token naming an RSA key, or PS256 for a key published
		// as RS256: never try a key with an algorithm it is not for.
		return nil, Refuse(ReasonSignature, "token signature is invalid for key %s", Quote(hdr.KeyID))
	}
	payload, err := jws.Verify(key.Public)
	if err != nil {
		return nil, Refuse(ReasonSignature, "token signature is invalid for key %s", Quote(hdr.KeyID))
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil || c == nil {
		if err == nil {
			err = fmt.Errorf("not an object")
		}
		return nil, Refuse(ReasonMalformedToken, "token claims are not valid JSON claims: %v", err)
	}
	e, r := v.checkClaims(iss, c, now)
	if r != nil {
		return nil, r
	}
	e.issuer, e.kid, e.key = iss, hdr.KeyID, key
	return e, nil
}

// selectIssuer picks the issuer whose keys verify the token: the only one,
// or the one named by the (not yet verified) iss claim.
func (v *Validator) selectIssuer(payload []byte) (*Issuer, *Refusal) {
	if len(v.cfg.Issuers) == 1 {
		return v.cfg.Issuers[0], nil
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, Refuse(ReasonMalformedToken, "token claims are not valid JSON claims: %v", err)
	}
	for _, is := range v.cfg.Issuers {
		if is.Name == c.Iss {
			return is, nil
		}
	}
	return nil, Refuse(ReasonIssuer, "token issuer %s is not accepted", Quote(c.Iss))
}

// key returns the public key for kid, re-fetching the key set (rate-limited)
// when kid is unknown.
func (v *Validator) key(ctx context.Context, ks *KeySet, kid string) (*Key, *Refusal) {
	if st := ks.Current(); st != nil {
		if k := st.Keys[kid]; k != nil {
			return k, nil
		}
	}
	ks.RefetchForUnknownKid(ctx)
	st := ks.Current()
	if st == nil {
		err := ks.LastError()
		if err == nil {
			err = fmt.Errorf("no signing keys fetched yet")
		}
		// The fetch error names URLs, DNS and TLS details: for the log only.
		v.keysLog.Do(func() {
			ks.Logger().Warn("Refusing requests: the token issuer's signing keys are not available", zap.Error(err))
		})
		return nil, Refuse(ReasonNoKeys, "the server cannot validate tokens now: the issuer's signing keys are not available")
	}
	if k := st.Keys[kid]; k != nil {
		return k, nil
	}
	return nil, Refuse(ReasonUnknownKey, "token is signed with unknown key %s (not in the issuer's JWKS)", Quote(kid))
}

// numericDate reads exp/nbf: a JSON number of seconds.
func numericDate(c Claims, name string) (time.Time, bool, *Refusal) {
	raw, ok := c[name]
	if !ok || raw == nil {
		return time.Time{}, false, nil
	}
	f, ok := raw.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, false, Refuse(ReasonMalformedToken, "token claims are not valid JSON claims: %s is not a number", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

func (v *Validator) checkClaims(is *Issuer, c Claims, now time.Time) (*entry, *Refusal) {
	exp, ok, r := numericDate(c, "exp")
	if r != nil {
		return nil, r
	}
	if !ok {
		return nil, Refuse(ReasonMalformedToken, "token has no exp claim")
	}
	nbf, _, r := numericDate(c, "nbf")
	if r != nil {
		return nil, r
	}
	if r := v.checkTimes(exp, nbf, now); r != nil {
		return nil, r
	}
	st := is.Keys.Current()
	iss := c.String("iss")
	if !issuerOK(is, st, iss, c) {
		return nil, Refuse(ReasonIssuer, "token issuer %s is not accepted", Quote(iss))
	}
	aud := c.Strings("aud")
	if !slices.ContainsFunc(is.Audiences, func(a string) bool { return slices.Contains(aud, a) }) {
		return nil, Refuse(ReasonAudience, "token audience %s is not one of the accepted audiences", Quote(strings.Join(aud, ",")))
	}
	var auth client.AuthData
	if is.Finish != nil {
		if auth, r = is.Finish(c, st); r != nil {
			return nil, r
		}
	}
	return &entry{auth: auth, exp: exp, nbf: nbf}, nil
}

func issuerOK(is *Issuer, st *KeyState, iss string, c Claims) bool {
	if st == nil || iss == "" {
		return false
	}
	if is.MatchIssuer != nil {
		return is.MatchIssuer(st, iss, c)
	}
	return slices.Contains(st.Issuers, iss)
}

func (v *Validator) checkTimes(exp, nbf, now time.Time) *Refusal {
	skew := v.cfg.ClockSkew
	if !now.Before(exp.Add(skew)) {
		return Refuse(ReasonExpired, "token expired at %s (clock skew allowance %s)", exp.UTC().Format(time.RFC3339), skew)
	}
	if !nbf.IsZero() && now.Add(skew).Before(nbf) {
		return Refuse(ReasonNotYetValid, "token is not valid before %s (clock skew allowance %s)", nbf.UTC().Format(time.RFC3339), skew)
	}
	return nil
}

// explainParseError turns a parse failure into a clear reason, naming a
// refused algorithm ("none", "HS256", ...) when the header says which.
func (v *Validator) explainParseError(raw string) *Refusal {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return Refuse(ReasonMalformedToken, "token is not a JWT (want three dot-separated parts, got %d)", len(parts))
	}
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return Refuse(ReasonMalformedToken, "token header is not base64url")
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		return Refuse(ReasonMalformedToken, "token header is not JSON")
	}
	if !slices.Contains(v.cfg.Algorithms, jose.SignatureAlgorithm(h.Alg)) {
		return Refuse(ReasonAlgorithm, "token algorithm %s is not accepted (only %s)", Quote(h.Alg), v.algsMsg)
	}
	return Refuse(ReasonMalformedToken, "token is not a valid compact JWS")
}

// Quote renders a value taken from a token for an error message: quoted,
// truncated, without control characters.
func Quote(s string) string {
	const maxLen = 80
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	return fmt.Sprintf("%q", s)
}
