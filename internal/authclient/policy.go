package authclient // import "github.com/otelcol-custom/otelcol-custom/internal/authclient"

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
)

// Policy is one extension's rules for where its credential may be sent, and
// the state of its one-time warnings. The zero Policy withholds the credential
// from cross-host and https-to-http redirects and logs nothing.
type Policy struct {
	allowRedirects bool
	logger         *zap.Logger

	plaintextWarned, redirectWarned, grpcWarned atomic.Bool
}

// NewPolicy returns the Policy of one extension. allowRedirects sends the
// credential on every redirect (the user's opt-in); logger receives the
// one-time warnings (nil: none).
func NewPolicy(logger *zap.Logger, allowRedirects bool) *Policy {
	return &Policy{allowRedirects: allowRedirects, logger: logger}
}

// mayFollow reports whether a redirected request may carry the credential:
// same scheme-default-aware host and port as the first request of the chain
// (the endpoint the exporter was configured with), and no https-to-http drop.
// Stricter than http.Client's own rule for the headers it copies (which
// allows subdomains and downgrades): a credential is scoped to the endpoint.
func (p *Policy) mayFollow(req *http.Request) bool {
	if p.allowRedirects {
		return true
	}
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	ok := !(first.URL.Scheme == "https" && req.URL.Scheme != "https") && sameHostPort(first.URL, req.URL)
	if !ok && p.logger != nil && p.redirectWarned.CompareAndSwap(false, true) {
		p.logger.Warn("Not sending the credential on a redirect to another host or from https to http; set send_credential_on_redirect: true if the target is trusted",
			zap.String("from", first.URL.Scheme+"://"+first.URL.Host), zap.String("to", req.URL.Scheme+"://"+req.URL.Host))
	}
	return ok
}

func sameHostPort(a, b *url.URL) bool {
	return strings.EqualFold(a.Hostname(), b.Hostname()) && portOf(a) == portOf(b)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch u.Scheme {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// checkPlaintext warns once when the credential goes over http:// to a host
// that is not loopback (a sidecar on localhost is fine). The loopback check
// is a few string compares and an allocation-free address parse.
func (p *Policy) checkPlaintext(u *url.URL) {
	if u.Scheme != "http" || p.logger == nil || p.plaintextWarned.Load() || isLoopback(u.Hostname()) {
		return
	}
	if p.plaintextWarned.CompareAndSwap(false, true) {
		p.logger.Warn("Sending the credential over plaintext http:// to a host that is not loopback: anyone on the path can read and replay it; use https",
			zap.String("endpoint", "http://"+u.Host))
	}
}

func (p *Policy) warnInsecureGRPC() {
	if p.logger != nil && p.grpcWarned.CompareAndSwap(false, true) {
		p.logger.Warn("require_transport_security is false: gRPC clients using this extension send the credential even over a plaintext connection; keep it for loopback or otherwise protected links")
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
