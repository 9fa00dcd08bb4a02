package bearerauthext // import "github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"

import (
	"errors"
	"fmt"
)

// Character classes, as 256-entry tables so the request path checks a byte
// with one load.
var (
	// b64tokenChar: RFC 6750 b64token without the trailing '=' padding:
	// ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/".
	b64tokenChar [256]bool
	// vcharTable: RFC 5234 VCHAR (0x21-0x7e), for raw tokens (scheme "").
	vcharTable [256]bool
	// tcharTable: RFC 9110 tchar, for header names and schemes.
	tcharTable [256]bool
)

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9')
		b64tokenChar[c] = alnum || b == '-' || b == '.' || b == '_' || b == '~' || b == '+' || b == '/'
		vcharTable[c] = b >= 0x21 && b <= 0x7e
		tcharTable[c] = alnum
	}
	for _, b := range []byte("!#$%&'*+-.^_`|~") {
		tcharTable[b] = true
	}
}

func isTchar(c byte) bool { return tcharTable[c] }

// validPresentedToken reports whether t may be a token: non-empty, and an RFC
// 6750 b64token (letters, digits, -._~+/ followed by optional '=' padding)
// when a scheme is used, or VCHARs only for a raw header value. It looks only
// at the presented bytes, so returning early reveals nothing about the
// configured tokens.
func validPresentedToken(t string, raw bool) bool {
	if raw {
		if t == "" {
			return false
		}
		for i := 0; i < len(t); i++ {
			if !vcharTable[t[i]] {
				return false
			}
		}
		return true
	}
	end := len(t)
	for end > 0 && t[end-1] == '=' {
		end--
	}
	if end == 0 {
		return false
	}
	for i := 0; i < end; i++ {
		if !b64tokenChar[t[i]] {
			return false
		}
	}
	return true
}

// minServerTokenLength is the shortest token a server accepts: a shorter one
// could be guessed (or is a half-written line of tokens_file).
const minServerTokenLength = 16

// checkServerToken explains why a configured server token cannot be accepted.
// It never quotes the token.
func checkServerToken(t, scheme string) error {
	if err := checkServerTokenChars(t, scheme); err != nil {
		return err
	}
	if len(t) < minServerTokenLength {
		return fmt.Errorf("is shorter than %d bytes; a server token that short can be guessed (use a random token, e.g. openssl rand -base64 32)", minServerTokenLength)
	}
	return nil
}

func checkServerTokenChars(t, scheme string) error {
	if err := checkLength(t); err != nil {
		return err
	}
	if scheme == "" {
		return checkVchars(t)
	}
	end := len(t)
	for end > 0 && t[end-1] == '=' {
		end--
	}
	if end == 0 {
		return errors.New("must contain more than '=' padding")
	}
	for i := 0; i < end; i++ {
		c := t[i]
		if b64tokenChar[c] {
			continue
		}
		if c == '=' {
			return fmt.Errorf("has '=' at byte %d; RFC 6750 allows '=' only as trailing padding", i)
		}
		return fmt.Errorf("contains %s at byte %d; with a scheme, tokens are RFC 6750 b64token (A-Z a-z 0-9 - . _ ~ + / and trailing =)", describeByte(c), i)
	}
	return nil
}

// checkClientToken explains why a client token cannot be sent in a header.
func checkClientToken(t string) error {
	if err := checkLength(t); err != nil {
		return err
	}
	return checkVchars(t)
}

func checkLength(t string) error {
	if t == "" {
		return errors.New("must not be empty")
	}
	if len(t) > maxTokenLength {
		return fmt.Errorf("is %d bytes long; the limit is %d", len(t), maxTokenLength)
	}
	return nil
}

func checkVchars(t string) error {
	for i := 0; i < len(t); i++ {
		if !vcharTable[t[i]] {
			return fmt.Errorf("contains %s at byte %d; a token must be printable ASCII without spaces", describeByte(t[i]), i)
		}
	}
	return nil
}

// describeByte names the class of an invalid byte without printing it.
func describeByte(c byte) string {
	switch {
	case c == '\r' || c == '\n':
		return "a line break (CR or LF)"
	case c == ' ' || c == '\t':
		return "whitespace"
	case c < 0x20 || c == 0x7f:
		return "a control character"
	case c >= 0x80:
		return "a non-ASCII byte"
	default:
		return "a character outside the allowed set"
	}
}
