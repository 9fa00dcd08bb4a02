package bearerauthext // import "github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"unsafe"
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
// atomic pointer and replaced as a whole on reload.
//
// Lookup: the presented token is hashed with a per-set random seed
// (hash/maphash) and the 64-bit hash indexes an open-addressing table; on a
// hash hit the stored token is compared in constant time (constantTimeEqual). The
// cost is one hash over the presented bytes plus (almost always) one probe,
// whatever the number of tokens.
//
// Why not map[string]: Go compares string keys with memequal, which returns at
// the first differing byte and would leak how long a prefix of a real token a
// guess shares. With a secret seed the attacker can neither aim at a slot nor
// learn anything from which slot a guess lands in; the only comparison of
// secret bytes is the constant-time one, on equal-length values (a length
// mismatch on a hash hit needs a 64-bit collision under an unknown seed).
//
// Why not map[uint64]: it works, but Go's map scans small maps (up to 8
// entries) linearly and hashes the key again for larger ones, so its cost
// differs between 1 and 10,000 tokens (about 2x in our runs). The keys here
// are already uniform keyed hashes, so a power-of-two table indexed by the
// hash itself is the same few instructions at any size (BenchmarkTokenSetLookup).
//
// HMAC-SHA256 as the keyed hash was benchmarked too (BenchmarkTokenSetLookup):
// about 10x slower per request, and it buys nothing here since the hash never
// leaves the process.
type tokenSet struct {
	seed  maphash.Seed
	mask  uint64
	slots []tokenSlot // len is a power of two, at least twice the token count
	size  int
}

type tokenSlot struct {
	hash uint64
	tok  *acceptedToken // nil: empty slot
}

// acceptedToken is one entry of a tokenSet. auth is built once, and only for
// a named token: an unnamed one publishes nothing, so authenticating it
// allocates nothing (a named one allocates the new context).
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
	n := 2
	for n < 2*len(list) {
		n <<= 1
	}
	s := &tokenSet{seed: seed, mask: uint64(n - 1), slots: make([]tokenSlot, n), size: len(list)}
	for _, nt := range list {
		h := maphash.String(seed, nt.token)
		i := h & s.mask
		for ; s.slots[i].tok != nil; i = (i + 1) & s.mask {
			if s.slots[i].hash == h {
				return nil, false
			}
		}
		e := &acceptedToken{value: []byte(nt.token)}
		if nt.name != "" {
			e.auth = &authData{subject: nt.name}
		}
		s.slots[i] = tokenSlot{hash: h, tok: e}
	}
	return s, true
}

// lookup returns the entry matching the presented token, or nil.
func (s *tokenSet) lookup(presented string) *acceptedToken {
	h := maphash.String(s.seed, presented)
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		slot := &s.slots[i]
		if slot.tok == nil {
			return nil
		}
		if slot.hash != h {
			continue
		}
		// unsafe: a read-only view of the string's bytes. constantTimeEqual
		// neither keeps nor writes its arguments, and []byte(presented) could
		// allocate on every request.
		if !constantTimeEqual(slot.tok.value, unsafe.Slice(unsafe.StringData(presented), len(presented))) {
			return nil
		}
		return slot.tok
	}
}

// constantTimeEqual reports whether a and b are equal, in a time that depends
// only on their lengths: no branch or memory access depends on their contents.
//
// Hand-written because crypto/subtle.ConstantTimeCompare, which gives the same
// guarantee, works one byte per step: for a 43-byte token it was the largest
// single cost of a successful Authenticate (about 15 ns of 50). This XORs 8
// bytes per step and ORs the differences together, deciding only at the end
// (BenchmarkConstantTimeEqual). Lengths are not secret here: a length mismatch
// is only ever seen on a 64-bit keyed-hash collision.
func constantTimeEqual(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	var diff uint64
	for len(a) >= 8 && len(b) >= 8 {
		diff |= binary.LittleEndian.Uint64(a) ^ binary.LittleEndian.Uint64(b)
		a, b = a[8:], b[8:]
	}
	b = b[:len(a)]
	for i := range a {
		diff |= uint64(a[i] ^ b[i])
	}
	return diff == 0 // one comparison of the accumulated difference: reveals only the result
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
