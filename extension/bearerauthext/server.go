package bearerauthext // import "github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-custom/otelcol-custom/extension/bearerauthext/internal/metadata"
)

// authError is a refusal. Receivers turn any error from Authenticate into
// HTTP 401 (confighttp) or gRPC Unauthenticated (configgrpc), and confighttp
// writes Error() into the response body, so messages say what is wrong with
// the request and never contain any part of a token.
type authError struct {
	reason string
	msg    string
	// opts is the metric attribute set, prebuilt (and passed as a slice) so
	// counting a refusal allocates nothing.
	opts []metric.AddOption
}

func (e *authError) Error() string { return e.msg }

// Refusal reasons (the "reason" attribute of the refused-requests metric).
const (
	reasonMissing       = "missing_header"
	reasonMalformed     = "malformed_header"
	reasonUnknown       = "unknown_token"
	reasonNotConfigured = "not_configured"
)

// refusals are the errors of one server, built once so a refusal allocates
// nothing.
type refusals struct {
	missing, several, empty, scheme, noToken, spacing, tooLong, badChars, unknown, notConfigured *authError
}

func newRefusals(header, scheme string) refusals {
	mk := func(reason, format string, args ...any) *authError {
		return &authError{
			reason: reason,
			msg:    fmt.Sprintf(format, args...),
			opts:   []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reason)))},
		}
	}
	spacing := fmt.Sprintf("malformed %s header: expected %q with exactly one space and no other whitespace", header, scheme+" <token>")
	if scheme == "" {
		spacing = fmt.Sprintf("malformed %s header: expected the token alone, without whitespace", header)
	}
	return refusals{
		missing:       mk(reasonMissing, "missing %s header", header),
		several:       mk(reasonMalformed, "more than one %s header value; exactly one is allowed", header),
		empty:         mk(reasonMalformed, "empty %s header", header),
		scheme:        mk(reasonMalformed, "%s header does not use the %s scheme", header, scheme),
		noToken:       mk(reasonMalformed, "%s header has the %s scheme but no token", header, scheme),
		spacing:       mk(reasonMalformed, "%s", spacing),
		tooLong:       mk(reasonMalformed, "%s header is longer than %d bytes", header, maxTokenLength+len(scheme)+1),
		badChars:      mk(reasonMalformed, "malformed %s header: the token contains characters a bearer token cannot contain", header),
		unknown:       mk(reasonUnknown, "invalid bearer token"),
		notConfigured: mk(reasonNotConfigured, "this bearerauth instance has no server tokens (set tokens or tokens_file)"),
	}
}

// authenticator checks incoming requests against the current tokenSet.
type authenticator struct {
	header      string // canonical HTTP form, e.g. "Authorization"
	lowerHeader string // gRPC metadata form, e.g. "authorization"
	scheme      string // as configured; "" = raw token
	lowerScheme string
	maxValueLen int
	errs        refusals
	set         atomic.Pointer[tokenSet]
	telemetry   *metadata.TelemetryBuilder
}

func newAuthenticator(header, scheme string, tb *metadata.TelemetryBuilder) *authenticator {
	a := &authenticator{
		header:      http.CanonicalHeaderKey(header),
		lowerHeader: strings.ToLower(header),
		scheme:      scheme,
		lowerScheme: strings.ToLower(scheme),
		maxValueLen: maxTokenLength,
		errs:        newRefusals(header, scheme),
		telemetry:   tb,
	}
	if scheme != "" {
		a.maxValueLen += len(scheme) + 1
	}
	return a
}

// Authenticate implements extensionauth.Server. When the matched token has a
// name, the returned context carries client.Info whose Auth answers
// GetAttribute("subject") with it. An unnamed token publishes nothing: ctx is
// returned as it is, so that request allocates nothing (publishing costs two
// allocations, context.WithValue and boxing client.Info).
func (a *authenticator) Authenticate(ctx context.Context, headers map[string][]string) (context.Context, error) {
	e := a.match(headers)
	if e.err != nil {
		a.telemetry.BearerauthServerRefusedRequests.Add(ctx, 1, e.err.opts...)
		return ctx, e.err
	}
	if e.tok.auth == nil {
		return ctx, nil
	}
	info := client.FromContext(ctx)
	info.Auth = e.tok.auth
	return client.NewContext(ctx, info), nil
}

type matchResult struct {
	tok *acceptedToken
	err *authError
}

// match finds the single header value, parses it and looks the token up.
func (a *authenticator) match(headers map[string][]string) matchResult {
	set := a.set.Load()
	if set == nil {
		return matchResult{err: a.errs.notConfigured}
	}
	v, err := a.headerValue(headers)
	if err != nil {
		return matchResult{err: err}
	}
	tok, err := a.extractToken(v)
	if err != nil {
		return matchResult{err: err}
	}
	if e := set.lookup(tok); e != nil {
		// Configured tokens are validated at load, so an exact match is a
		// valid token: the character check is only needed to explain a miss.
		return matchResult{tok: e}
	}
	if !validPresentedToken(tok, a.scheme == "") {
		return matchResult{err: a.invalidTokenError(tok)}
	}
	return matchResult{err: a.errs.unknown}
}

// headerValue returns the only value of the header, looked up under its HTTP
// canonical name (net/http) and its lowercase name (gRPC metadata).
func (a *authenticator) headerValue(headers map[string][]string) (string, *authError) {
	vals := headers[a.header]
	if a.lowerHeader != a.header {
		if lv := headers[a.lowerHeader]; len(lv) > 0 {
			if len(vals) > 0 {
				return "", a.errs.several
			}
			vals = lv
		}
	}
	switch len(vals) {
	case 0:
		return "", a.errs.missing
	case 1:
		return vals[0], nil
	default:
		return "", a.errs.several
	}
}

// extractToken parses "<scheme> <token>" (exactly one space, scheme matched
// ASCII case-insensitively per RFC 9110 §11.1) or, with no scheme, takes the
// whole value. The token's characters are checked by match: a token must be
// an RFC 6750 b64token (VCHARs for raw values).
func (a *authenticator) extractToken(v string) (string, *authError) {
	if v == "" {
		return "", a.errs.empty
	}
	if len(v) > a.maxValueLen {
		return "", a.errs.tooLong
	}
	tok := v
	if a.scheme != "" {
		n := len(a.lowerScheme)
		if len(v) < n || !hasFoldedPrefix(v, a.lowerScheme) {
			return "", a.errs.scheme
		}
		rest := v[n:]
		switch {
		case rest == "" || rest == " ":
			return "", a.errs.noToken
		case rest[0] == '\t':
			return "", a.errs.spacing
		case isTchar(rest[0]): // "Bearerx ..." is another scheme
			return "", a.errs.scheme
		case rest[0] != ' ':
			return "", a.errs.badChars
		}
		tok = rest[1:]
	}
	return tok, nil
}

// hasFoldedPrefix reports whether v starts with lower (already lowercase
// ASCII), comparing ASCII letters case-insensitively. len(v) >= len(lower).
func hasFoldedPrefix(v, lower string) bool {
	for i := 0; i < len(lower); i++ {
		c := v[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// invalidTokenError picks the refusal for a token that failed
// validPresentedToken (slow path only).
func (a *authenticator) invalidTokenError(tok string) *authError {
	spaces := false
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; {
		case c == ' ' || c == '\t':
			spaces = true
		case c < 0x20 || c >= 0x7f:
			return a.errs.badChars
		}
	}
	if spaces {
		return a.errs.spacing
	}
	return a.errs.badChars
}
