package oidcauthext // import "github.com/otelcol-custom/otelcol-custom/extension/oidcauthext"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/zap"

	"github.com/otelcol-custom/otelcol-custom/extension/oidcauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/authclient"
	"github.com/otelcol-custom/otelcol-custom/internal/jwtauth"
)

// reasonClaim refuses a token lacking a required claim or value.
const reasonClaim = "missing_claim"

// oidcAuth is the extension: one jwtauth.KeySet per issuer under one
// jwtauth.Validator.
type oidcAuth struct {
	cfg  *Config
	set  extension.Settings
	tb   *metadata.TelemetryBuilder
	keys []*jwtauth.KeySet
	v    *jwtauth.Validator

	transport *http.Transport
}

var (
	_ extension.Extension  = (*oidcAuth)(nil)
	_ extensionauth.Server = (*oidcAuth)(nil)
)

func newExtension(cfg *Config, set extension.Settings) (*oidcAuth, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &oidcAuth{cfg: cfg, set: set, tb: tb}, nil
}

// Start loads TLS and starts fetching every issuer's keys in the background;
// it does not wait for them (requests are refused with keys_unavailable
// until the first fetch of their issuer succeeds).
func (e *oidcAuth) Start(ctx context.Context, host component.Host) error {
	var err error
	if e.transport, err = authclient.IdPTransport(ctx, e.set.ID, e.cfg.TLS); err != nil {
		return err
	}
	httpClient := &http.Client{Transport: e.transport}

	vcfg := jwtauth.Config{
		Prefix:    metadata.Type.String(),
		ClockSkew: e.cfg.ClockSkew,
		Header:    e.cfg.Header,
		Scheme:    e.cfg.Scheme,
		CacheSize: e.cfg.TokenCacheSize,
		Logger:    e.set.Logger,
		OnRefuse:  jwtauth.CountRefusals(e.tb.OidcauthRefusedRequests, reasonClaim),
	}
	status := jwtauth.NewFetchStatus(host, func(issuer string, err error) error {
		return fmt.Errorf("%s: fetching the signing keys of %s failed: %w", e.set.ID, issuer, err)
	})
	var invalidate func()
	for i := range e.cfg.Issuers {
		ic := &e.cfg.Issuers[i]
		algs := ic.algorithms()
		for _, a := range algs {
			if !slices.Contains(vcfg.Algorithms, a) {
				vcfg.Algorithms = append(vcfg.Algorithms, a)
			}
		}
		ks := jwtauth.NewKeySet(jwtauth.KeySetConfig{
			Client:         httpClient,
			DocURLs:        []string{strings.TrimSuffix(ic.IssuerURL, "/") + "/.well-known/openid-configuration"},
			FixedIssuer:    ic.IssuerURL,
			FixedIssuerKey: fmt.Sprintf("issuers::%d::issuer_url", i),
			Algorithms:     algs,
			RefreshEvery:   e.cfg.KeysRefreshInterval,
			MinRefetch:     e.cfg.KeysMinRefetchInterval,
			Timeout:        e.cfg.Timeout,
			Logger:         e.set.Logger.With(zap.String("issuer", ic.IssuerURL)),
			OnFetch: jwtauth.OnFetch(jwtauth.FetchMetrics{
				Keys: e.tb.OidcauthSigningKeys, Fetches: e.tb.OidcauthSigningKeyFetches,
				Attrs: []attribute.KeyValue{attribute.String("issuer", ic.IssuerURL)},
			}, func() { invalidate() }, func(err error) { status.Report(ic.IssuerURL, err) }),
		})
		e.keys = append(e.keys, ks)
		vcfg.Issuers = append(vcfg.Issuers, &jwtauth.Issuer{
			Keys: ks, Audiences: ic.Audiences, Name: ic.IssuerURL, Algorithms: algs,
			Finish: newMapper(ic).finish,
		})
	}
	v, err := jwtauth.New(vcfg)
	if err != nil {
		return fmt.Errorf("%s: %w", e.set.ID, err)
	}
	e.v = v
	invalidate = v.InvalidateCache
	for _, ks := range e.keys {
		ks.Start()
	}
	return nil
}

// Shutdown stops key fetching, also during a hanging fetch.
func (e *oidcAuth) Shutdown(context.Context) error {
	for _, ks := range e.keys {
		ks.Shutdown()
	}
	if e.transport != nil {
		e.transport.CloseIdleConnections()
	}
	e.tb.Shutdown()
	return nil
}

// Authenticate implements extensionauth.Server. The error is a generic
// refusal; receivers answer 401 / Unauthenticated with it.
func (e *oidcAuth) Authenticate(ctx context.Context, headers map[string][]string) (context.Context, error) {
	if e.v == nil {
		return ctx, errors.New(e.set.ID.String() + ": not started")
	}
	return e.v.Authenticate(ctx, headers)
}

// mapper checks an issuer's required claims and builds the principal.
type mapper struct {
	issuer          string
	required        map[string]string
	subject, groups string
	attrs           map[string]string // attribute -> claim
	names           []string
}

func newMapper(ic *IssuerConfig) *mapper {
	m := &mapper{issuer: ic.IssuerURL, required: ic.RequiredClaims, subject: ic.subjectClaim(), groups: ic.groupsClaim(), attrs: ic.Attributes}
	m.names = append(slices.Clone(reservedAttributes), sortedKeys(ic.Attributes)...)
	return m
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (m *mapper) finish(c jwtauth.Claims, _ *jwtauth.KeyState) (client.AuthData, *jwtauth.Refusal) {
	for name, want := range m.required {
		if !claimHas(c, name, want) {
			// Names the claim, not the expected value, nor the token's.
			return nil, jwtauth.Refuse(reasonClaim, "token lacks the required claim %s or its required value", jwtauth.Quote(name))
		}
	}
	p := &principal{names: m.names, subject: c.String(m.subject), issuer: m.issuer, groups: c.Strings(m.groups)}
	if len(m.attrs) > 0 {
		p.attrs = make(map[string]any, len(m.attrs))
		for attr, claim := range m.attrs {
			if v, ok := c[claim]; ok {
				p.attrs[attr] = attrValue(v)
			}
		}
	}
	return p, nil
}

// claimHas: the claim is present and, if want is set, equals want (string,
// number or bool claim) or contains it (array claim).
func claimHas(c jwtauth.Claims, name, want string) bool {
	v, ok := c[name]
	if !ok || v == nil {
		return false
	}
	if want == "" {
		return true
	}
	if arr, ok := v.([]any); ok {
		return slices.ContainsFunc(arr, func(e any) bool { return scalar(e) == want })
	}
	return scalar(v) == want
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool, float64:
		return fmt.Sprint(x)
	}
	return "\x00not a scalar"
}

// attrValue exposes a claim: strings as string, arrays of strings as
// []string, other scalars as their text.
func attrValue(v any) any {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s := scalar(e); s != "\x00not a scalar" {
				out = append(out, s)
			}
		}
		return out
	case bool, float64:
		return fmt.Sprint(x)
	}
	return nil
}

// principal is a validated token's identity, shared by every request
// presenting the token (immutable); it implements client.AuthData.
type principal struct {
	subject, issuer string
	groups          []string
	attrs           map[string]any
	names           []string
}

// GetAttribute returns "subject" (subject_claim) and "issuer" as strings,
// "groups" (groups_claim) as []string, and each configured attribute (shared
// values: do not modify).
func (p *principal) GetAttribute(name string) any {
	switch name {
	case "subject":
		return p.subject
	case "issuer":
		return p.issuer
	case "groups":
		return p.groups
	}
	if v, ok := p.attrs[name]; ok {
		return v
	}
	return nil
}

// GetAttributeNames lists the attributes GetAttribute knows.
func (p *principal) GetAttributeNames() []string { return slices.Clone(p.names) }
