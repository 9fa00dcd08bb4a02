package bearerauthext // import "github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
)

// namedToken is one accepted token, the subject it authenticates (its
// optional name; "" publishes none) and where it came from. The origin labels
// the token in error messages and duplicate reports, which must not quote the
// token; it is never published.
type namedToken struct {
	name   string
	token  string
	origin string // "tokens[3]" or "tokens_file line 7"
}

// key names a field of the entry for errors: tokens[3]::token for the
// config, the line for tokens_file.
func (nt namedToken) key(field string) string {
	if strings.HasPrefix(nt.origin, "tokens[") {
		return nt.origin + "::" + field
	}
	return nt.origin
}

// checkDuplicates refuses two entries with the same token, or two named
// entries with the same name (unnamed entries have no name to collide).
func checkDuplicates(list []namedToken) error {
	var errs []error
	byToken := make(map[string]string, len(list))
	byName := make(map[string]string, len(list))
	for _, nt := range list {
		if prev, ok := byToken[nt.token]; ok {
			errs = append(errs, fmt.Errorf("%s: same token as %s", nt.key("token"), prev))
		} else {
			byToken[nt.token] = nt.origin
		}
		if nt.name == "" {
			continue
		}
		if prev, ok := byName[nt.name]; ok {
			errs = append(errs, fmt.Errorf("%s: name %q is already used by %s", nt.key("name"), nt.name, prev))
		} else {
			byName[nt.name] = nt.origin
		}
	}
	return errors.Join(errs...)
}

// tokenSet is an immutable set of accepted tokens, published through an
// atomic pointer and replaced as a whole on reload. It is a Go map keyed by a
// hash of the token under a per-set random seed; the stored token is then
// compared with crypto/subtle, so no comparison of secret bytes exits early
// and the cost does not depend on the number of tokens (docs/design.md,
// "Server token lookup").
type tokenSet struct {
	seed   maphash.Seed
	byHash map[uint64]*acceptedToken
	size   int
}

// acceptedToken is one entry of a tokenSet. auth is built once, and only for
// a named token: an unnamed one publishes nothing.
type acceptedToken struct {
	value []byte
	auth  *authData // nil for an unnamed token
}

// maxReseeds bounds the (astronomically unlikely) retries when two different
// configured tokens collide on the 64-bit hash.
const maxReseeds = 8

func newTokenSet(list []namedToken) (*tokenSet, error) {
	if err := checkDuplicates(list); err != nil {
		return nil, err
	}
	for range maxReseeds {
		if s, ok := tryTokenSet(list, maphash.MakeSeed()); ok {
			return s, nil
		}
	}
	return nil, errors.New("could not build the token set: repeated hash collisions")
}

func tryTokenSet(list []namedToken, seed maphash.Seed) (*tokenSet, bool) {
	s := &tokenSet{seed: seed, byHash: make(map[uint64]*acceptedToken, len(list))}
	for _, nt := range list {
		h := maphash.String(seed, nt.token)
		if _, dup := s.byHash[h]; dup {
			return nil, false
		}
		e := &acceptedToken{value: []byte(nt.token)}
		if nt.name != "" {
			e.auth = &authData{subject: nt.name}
		}
		s.byHash[h] = e
	}
	s.size = len(s.byHash)
	return s, true
}

// lookup returns the entry matching the presented token, or nil.
func (s *tokenSet) lookup(presented string) *acceptedToken {
	e := s.byHash[maphash.String(s.seed, presented)]
	if e == nil || subtle.ConstantTimeCompare(e.value, []byte(presented)) != 1 {
		return nil
	}
	return e
}

// authData is what bearerauth puts into client.Info.Auth for a named token:
// only the subject (the matched token's name). The raw token is never exposed.
type authData struct {
	subject string
}

const subjectAttribute = "subject"

// GetAttribute returns the subject for "subject" and nil for anything else.
func (a *authData) GetAttribute(name string) any {
	if name == subjectAttribute {
		return a.subject
	}
	return nil
}

// GetAttributeNames lists the attributes GetAttribute answers: "subject".
func (*authData) GetAttributeNames() []string {
	return []string{subjectAttribute}
}
