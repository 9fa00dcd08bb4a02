package oauth2clientauthext // import "github.com/otelcol-custom/otelcol-custom/extension/oauth2clientauthext"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/otelcol-custom/otelcol-custom/internal/filewatch"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// maxFileSize bounds a read of client_secret_file, subject_token_file or
// private_key_jwt::key_file.
const maxFileSize = 64 << 10

// maxDescription and maxErrorCode bound how much of the provider's
// error_description, error and token_type go into an error (and so into logs
// and status): they come from a response body of up to 1 MiB (x/oauth2's
// limit). RFC 6749 error codes are single short words.
const (
	maxDescription = 300
	maxErrorCode   = 64
)

// tokenSource is the tokencache.Source of the extension: one token request
// per Fetch. Only the Refresher goroutine calls Fetch, so its fields need no
// locking (failing is also read by the file watch goroutine).
//
// Every grant goes through x/oauth2's clientcredentials.Config: it sends the
// client secret (Basic or form, with auto-detection), posts the form and
// decodes the response (JSON or form-encoded, expires_in, RFC 6749 errors).
// x/oauth2 has no API for the token exchange (RFC 8693) and JWT bearer
// (RFC 7523 §2.1) grants with an assertion from elsewhere (its jwt package
// signs its own assertion, Google style, and google/externalaccount's STS
// client is internal), so for those two the grant_type parameter is
// overridden through EndpointParams, which clientcredentials documents for
// this purpose, and the grant's own parameters are added the same way. The
// private_key_jwt assertion is likewise a pair of form parameters.
type tokenSource struct {
	cc        clientcredentials.Config // one instance: keeps the auth style x/oauth2 detected
	grant     string
	secret    string       // client_secret, when configured inline
	secretF   *watchedFile // client_secret_file
	subjectF  *watchedFile // subject_token_file
	assertion *assertionSigner
	params    url.Values // endpoint_params, audience and the grant's fixed parameters
	timeout   time.Duration
	client    *http.Client // set by Start (it carries the tls settings)

	// failing is true while the last fetch failed: a change of a watched
	// file then triggers an early fetch. changes counts the changes the
	// watch goroutine saw, so a change during a fetch that fails is not
	// lost (see fileChanged).
	failing atomic.Bool
	changes atomic.Uint64
	// invalidate asks the refresher for an early fetch (Handle.Invalidate).
	invalidate func()
}

var _ tokencache.Source = (*tokenSource)(nil)

func newTokenSource(cfg *Config) *tokenSource {
	s := &tokenSource{
		cc: clientcredentials.Config{
			ClientID: cfg.ClientID,
			TokenURL: cfg.TokenURL,
			Scopes:   cfg.Scopes,
		},
		grant:   cfg.GrantType,
		secret:  string(cfg.ClientSecret),
		timeout: cfg.Timeout,
		params:  url.Values{},
	}
	for k, v := range cfg.EndpointParams {
		s.params[k] = append([]string(nil), v...)
	}
	if cfg.Audience != "" {
		s.params.Set("audience", cfg.Audience)
	}
	switch cfg.ClientAuthMethod {
	case authSecretBasic:
		s.cc.AuthStyle = oauth2.AuthStyleInHeader
	case authSecretPost:
		s.cc.AuthStyle = oauth2.AuthStyleInParams
	}
	if !cfg.hasSecret() {
		// No secret: client_id (if any) goes in the form, never as Basic
		// credentials with an empty password.
		s.cc.AuthStyle = oauth2.AuthStyleInParams
	}
	if cfg.ClientSecretFile != "" {
		s.secretF = &watchedFile{key: "client_secret_file", path: cfg.ClientSecretFile}
	}
	switch cfg.GrantType {
	case grantTokenExchange:
		s.params.Set("grant_type", urnTokenExchange)
		typ := cfg.SubjectTokenType
		if typ == "" {
			typ = urnTokenTypeJWT
		}
		s.params.Set("subject_token_type", typ)
		if cfg.RequestedTokenType != "" {
			s.params.Set("requested_token_type", cfg.RequestedTokenType)
		}
		s.subjectF = &watchedFile{key: "subject_token_file", path: cfg.SubjectTokenFile}
	case grantJWTBearer:
		s.params.Set("grant_type", urnJWTBearer)
		s.subjectF = &watchedFile{key: "subject_token_file", path: cfg.SubjectTokenFile}
	}
	if p := cfg.PrivateKeyJWT; p != nil {
		s.assertion = newAssertionSigner(p, cfg.ClientID, cfg.TokenURL)
	}
	return s
}

// files returns the watched files.
func (s *tokenSource) files() []*watchedFile {
	var out []*watchedFile
	for _, f := range []*watchedFile{s.secretF, s.subjectF} {
		if f != nil {
			out = append(out, f)
		}
	}
	if s.assertion != nil {
		out = append(out, &s.assertion.key)
	}
	return out
}

// Fetch implements tokencache.Source.
func (s *tokenSource) Fetch(ctx context.Context) (tokencache.Token, error) {
	seen := s.changes.Load()
	tok, err := s.fetch(ctx)
	s.failing.Store(err != nil)
	// A file changed while this fetch (which read the old content) ran and
	// failed: fetch again. Storing failing before loading changes, while
	// fileChanged does the reverse, means one of the two sees the other.
	if err != nil && s.changes.Load() != seen {
		s.invalidate()
	}
	return tok, err
}

// fileChanged is called by the watch goroutine after a watched file changed.
func (s *tokenSource) fileChanged() {
	s.changes.Add(1)
	if s.failing.Load() {
		s.invalidate()
	}
}

func (s *tokenSource) fetch(ctx context.Context) (tokencache.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	params := make(url.Values, len(s.params)+3)
	for k, v := range s.params {
		params[k] = v
	}
	secret := s.secret
	if s.secretF != nil {
		var err error
		if secret, err = s.secretF.read(); err != nil {
			return tokencache.Token{}, err
		}
	}
	if s.subjectF != nil {
		subject, err := s.subjectF.read()
		if err != nil {
			return tokencache.Token{}, err
		}
		if s.grant == grantTokenExchange {
			params.Set("subject_token", subject)
		} else {
			params.Set("assertion", subject)
		}
	}
	if s.assertion != nil {
		a, err := s.assertion.sign(time.Now())
		if err != nil {
			return tokencache.Token{}, err
		}
		params.Set("client_assertion_type", urnAssertionType)
		params.Set("client_assertion", a)
	}
	s.cc.ClientSecret, s.cc.EndpointParams = secret, params
	defer func() { s.cc.ClientSecret, s.cc.EndpointParams = "", nil }()

	t, err := s.cc.Token(context.WithValue(ctx, oauth2.HTTPClient, s.client))
	if err != nil {
		return tokencache.Token{}, s.describe(ctx, err, secret)
	}
	if typ := t.Type(); typ != "Bearer" {
		return tokencache.Token{}, fmt.Errorf("token request to %s: token_type %q is not supported (only Bearer)", s.cc.TokenURL, clip(typ, maxErrorCode))
	}
	return tokencache.Token{Value: t.AccessToken, Expiry: t.Expiry}, nil
}

// describe turns a token request error into one naming the endpoint, the
// HTTP status and the provider's error code and description. It never
// includes the request (secret, assertion, subject token) or the raw
// response body, and removes the secret should the provider echo it.
func (s *tokenSource) describe(ctx context.Context, err error, secret string) error {
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		msg := fmt.Sprintf("token request to %s refused: HTTP %d", s.cc.TokenURL, re.Response.StatusCode)
		if re.ErrorCode != "" {
			msg += ": " + clip(re.ErrorCode, maxErrorCode)
		}
		if d := re.ErrorDescription; d != "" {
			msg += ": " + clip(d, maxDescription)
		}
		if hint := hintFor(re.ErrorCode); hint != "" {
			msg += " (" + hint + ")"
		}
		if secret != "" {
			msg = strings.ReplaceAll(msg, secret, "[REDACTED]")
		}
		return errors.New(msg)
	case ctx.Err() == context.DeadlineExceeded:
		return fmt.Errorf("token request to %s timed out after %s", s.cc.TokenURL, s.timeout)
	}
	// Transport errors (*url.Error) name the URL and the cause only.
	return fmt.Errorf("token request to %s failed: %w", s.cc.TokenURL, err)
}

// clip cuts s to at most n bytes (dropping a rune cut in half) and marks
// the cut with "...".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

// hintFor names the configuration behind common OAuth2 error codes.
func hintFor(code string) string {
	switch code {
	case "invalid_client":
		return "check client_id and the client secret or key; client_auth_method selects Basic or form"
	case "unauthorized_client":
		return "the client is not allowed this grant_type: enable it for the client at the provider"
	case "invalid_grant":
		return "the subject token or assertion was refused: check subject_token_file, its audience and expiry"
	case "invalid_scope":
		return "check scopes"
	case "unsupported_grant_type":
		return "the provider does not support this grant_type"
	}
	return ""
}

// watchedFile is a small file read for every token request. Its watcher
// (started by the extension) only triggers an early fetch after a change
// while fetches are failing: the content is never cached, so it cannot go
// stale on a file system without change notification.
type watchedFile struct {
	key  string // config key, for errors
	path string
	w    *filewatch.Watcher
}

func (f *watchedFile) read() (string, error) {
	if f.w != nil {
		_ = f.w.Sync() // re-establish a missing watch; failure leaves the next fetch
	}
	b, err := filewatch.ReadBounded(f.path, maxFileSize)
	if err != nil {
		return "", fmt.Errorf("%s: %w", f.key, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s %s: is empty", f.key, f.path)
	}
	return v, nil
}
