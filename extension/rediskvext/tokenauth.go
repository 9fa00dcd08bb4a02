package rediskvext // import "github.com/otelcol-custom/otelcol-custom/extension/rediskvext"

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-custom/otelcol-custom/extension/bearertoken"
)

const (
	// reauthUnknownExpiry is how often a connection re-AUTHs when the token's
	// expiry is unknown (a token file): it picks up a rotated file within a
	// minute.
	reauthUnknownExpiry = time.Minute
	// reauthFloor bounds how often a connection re-AUTHs as its token nears
	// expiry without a replacement.
	reauthFloor = 250 * time.Millisecond
)

// tokenAuth feeds rueidis' AuthCredentialsFn from a bearer-token provider.
//
// rueidis calls it when it opens a connection and again, on that connection,
// at the RefreshAfter it returned: the connection then sends AUTH with what
// it returns, pipelined in order with the commands around it, so no command
// fails and no connection is dropped by a rotation. RefreshAfter is half of
// the token's remaining lifetime: a connection re-AUTHs at 1/2, 3/4, 7/8, ...
// of its token's life, so the first re-AUTH after the provider published the
// next token (which the refreshers do well ahead of expiry) switches the
// connection to it, always before the old token expires. See docs/design.md.
type tokenAuth struct {
	id       component.ID
	provider bearertoken.Provider
	username string // configured; empty means the token's oid claim
	// last is the last token handed out. When the provider has none (its
	// endpoint is down and the cache was withdrawn), a live connection
	// re-AUTHs with it while it is still valid instead of being closed by
	// rueidis (which closes a connection whose AuthCredentialsFn fails).
	last atomic.Pointer[bearertoken.Token]
	now  func() time.Time
}

func newTokenAuth(id component.ID, p bearertoken.Provider, username string) *tokenAuth {
	return &tokenAuth{id: id, provider: p, username: username, now: time.Now}
}

// credentials is the ClientOption.AuthCredentialsFn. Its errors never contain
// the token.
func (a *tokenAuth) credentials(rueidis.AuthCredentialsContext) (rueidis.AuthCredentials, error) {
	now := a.now()
	tok, err := a.provider.Token()
	if err != nil {
		last := a.last.Load()
		if last == nil || (!last.Expiry.IsZero() && !now.Before(last.Expiry)) {
			return rueidis.AuthCredentials{}, fmt.Errorf("no token from %s yet: %w", a.id, err)
		}
		tok = *last
	} else if last := a.last.Load(); last == nil || last.Value != tok.Value {
		a.last.Store(&tok)
	}
	claims, jwtErr := readJWT(tok.Value)
	user := a.username
	if user == "" {
		if jwtErr == nil && claims.OID == "" {
			jwtErr = errors.New("has no oid claim")
		}
		if jwtErr != nil {
			return rueidis.AuthCredentials{}, fmt.Errorf("the token from %s %w; set auth::username", a.id, jwtErr)
		}
		user = claims.OID
	}
	return rueidis.AuthCredentials{Username: user, Password: tok.Value, RefreshAfter: reauthAt(now, earliest(tok.Expiry, claims.expiry()))}, nil
}

// earliest returns the earlier of two expiries, zero meaning unknown. The
// server enforces the JWT's exp claim, which is whole seconds and can be up to
// a second before the expiry the provider computed from expires_in.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// reauthAt is when a connection authenticated now with a token expiring at
// expiry sends AUTH again.
func reauthAt(now, expiry time.Time) time.Time {
	if expiry.IsZero() {
		return now.Add(reauthUnknownExpiry)
	}
	return now.Add(max(expiry.Sub(now)/2, reauthFloor))
}

// jwtClaims are the claims rediskv reads from an Entra ID access token.
type jwtClaims struct {
	OID string `json:"oid"`
	Exp int64  `json:"exp"`
}

func (c jwtClaims) expiry() time.Time {
	if c.Exp <= 0 {
		return time.Time{}
	}
	return time.Unix(c.Exp, 0)
}

// readJWT reads the payload of a JWT without verifying the signature: the
// token comes from our own auth extension, and Redis verifies it; the claims
// only name the ACL user (`oid`) and bound the re-AUTH schedule (`exp`).
// Hand-written because it is a base64 decode and two JSON fields, and
// go-jose's parser would demand an algorithm list for a token we never verify.
func readJWT(token string) (jwtClaims, error) {
	var claims jwtClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return claims, errors.New("is not a JWT, so it names no user (no oid claim)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return claims, errors.New("has a JWT payload that is not base64url")
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return jwtClaims{}, errors.New("has a JWT payload that is not a JSON object with a string oid and a numeric exp")
	}
	return claims, nil
}
