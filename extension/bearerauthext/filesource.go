package bearerauthext // import "github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"go.uber.org/zap"

	"github.com/otelcol-custom/otelcol-custom/internal/filewatch"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// maxTokenFileSize bounds a token_file read.
const maxTokenFileSize = 64 << 10

// fileSource reads the client token from token_file. It implements
// tokencache.Source and tokencache.Notifier: the refresher re-reads after each
// change signal and every refresh::interval. Errors (missing, unreadable,
// empty, invalid or expired content) leave the refresher serving the last good
// token and reporting the error; they never quote the file's content.
type fileSource struct {
	path    string
	watcher *filewatch.Watcher
	logger  *zap.Logger
	now     func() time.Time
}

var (
	_ tokencache.Source   = (*fileSource)(nil)
	_ tokencache.Notifier = (*fileSource)(nil)
)

func newFileSource(path string, logger *zap.Logger) *fileSource {
	return &fileSource{path: path, watcher: filewatch.New(path, logger, filewatch.Options{}), logger: logger, now: time.Now}
}

// Changes implements tokencache.Notifier.
func (s *fileSource) Changes() <-chan struct{} { return s.watcher.C() }

func (s *fileSource) start() { startWatcher(s.watcher, s.path, s.logger) }
func (s *fileSource) stop()  { s.watcher.Stop() }

// startWatcher starts w; a failure (e.g. the directory does not exist yet) is
// logged and leaves the periodic re-read, until the watcher's own retry or a
// re-read's Sync establishes the watch.
func startWatcher(w *filewatch.Watcher, path string, logger *zap.Logger) {
	if err := w.Start(); err != nil {
		logger.Warn("cannot watch the file's directory for changes yet; relying on the periodic re-read until it can be watched",
			zap.String("path", path), zap.Error(err))
	}
}

// Fetch implements tokencache.Source.
func (s *fileSource) Fetch(ctx context.Context) (tokencache.Token, error) {
	if err := ctx.Err(); err != nil {
		return tokencache.Token{}, err
	}
	_ = s.watcher.Sync() // re-establish a missing watch before reading; failure leaves the periodic re-read
	b, err := filewatch.ReadBounded(s.path, maxTokenFileSize)
	if err != nil {
		return tokencache.Token{}, fmt.Errorf("token_file: %w", err)
	}
	tok, err := parseClientToken(string(b), s.now())
	if err != nil {
		return tokencache.Token{}, fmt.Errorf("token_file %s: %w", s.path, err)
	}
	return tok, nil
}

// staticSource serves the configured token.
func staticSource(value string) tokencache.Source {
	return tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
		tok, err := parseClientToken(value, time.Now())
		if err != nil {
			return tokencache.Token{}, fmt.Errorf("token: %w", err)
		}
		return tok, nil
	})
}

// parseClientToken trims and checks a client token and, for a JWT, sets the
// expiry from its exp claim.
func parseClientToken(raw string, now time.Time) (tokencache.Token, error) {
	v := strings.TrimSpace(raw)
	if v == "" {
		return tokencache.Token{}, errors.New("is empty")
	}
	if err := checkClientToken(v); err != nil {
		return tokencache.Token{}, err
	}
	exp := jwtExpiry(v)
	if !exp.IsZero() && !exp.After(now) {
		return tokencache.Token{}, fmt.Errorf("holds a JWT that expired at %s", exp.UTC().Format(time.RFC3339))
	}
	return tokencache.Token{Value: v, Expiry: exp}, nil
}

// jwtSignatureAlgorithms is every algorithm go-jose can parse: the client only
// reads claims and verifies nothing, the server it talks to does.
var jwtSignatureAlgorithms = []jose.SignatureAlgorithm{
	jose.EdDSA, jose.HS256, jose.HS384, jose.HS512,
	jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512,
	jose.PS256, jose.PS384, jose.PS512,
}

// jwtExpiry returns the exp claim of a compact JWS, or zero for anything else
// (opaque tokens have an unknown expiry). The signature is not verified.
func jwtExpiry(v string) time.Time {
	if strings.Count(v, ".") != 2 {
		return time.Time{}
	}
	t, err := jwt.ParseSigned(v, jwtSignatureAlgorithms)
	if err != nil {
		return time.Time{}
	}
	var claims jwt.Claims
	if err := t.UnsafeClaimsWithoutVerification(&claims); err != nil || claims.Expiry == nil {
		return time.Time{}
	}
	return claims.Expiry.Time()
}
