package oauth2clientauthext // import "github.com/otelcol-custom/otelcol-custom/extension/oauth2clientauthext"

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// assertionSigner signs private_key_jwt client assertions (RFC 7523 §2.2 and
// §3, OIDC Core §9) with go-jose. The key file is read for every assertion,
// so a rotated key is used by the next token request.
type assertionSigner struct {
	key      watchedFile
	keyID    string
	alg      jose.SignatureAlgorithm
	clientID string
	aud      string
	lifetime time.Duration
}

func newAssertionSigner(p *PrivateKeyJWTConfig, clientID, tokenURL string) *assertionSigner {
	a := &assertionSigner{
		key:      watchedFile{key: "private_key_jwt::key_file", path: p.KeyFile},
		keyID:    p.KeyID,
		alg:      jose.SignatureAlgorithm(p.Algorithm),
		clientID: clientID,
		aud:      p.Audience,
		lifetime: p.Lifetime,
	}
	if a.alg == "" {
		a.alg = defaultAssertionAlg
	}
	if a.aud == "" {
		a.aud = tokenURL
	}
	if a.lifetime == 0 {
		a.lifetime = defaultAssertionLifetime
	}
	return a
}

// sign returns a fresh assertion: iss = sub = client_id, aud, a random jti
// (providers refuse a replayed one), iat, nbf and exp.
func (a *assertionSigner) sign(now time.Time) (string, error) {
	pemText, err := a.key.read()
	if err != nil {
		return "", err
	}
	key, err := parsePrivateKey([]byte(pemText))
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", a.key.key, a.key.path, err)
	}
	if err := checkKeyForAlg(key, a.alg); err != nil {
		return "", fmt.Errorf("%s %s: %w (private_key_jwt::algorithm)", a.key.key, a.key.path, err)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: a.alg, Key: jose.JSONWebKey{Key: key, KeyID: a.keyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("private_key_jwt: %w", err)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := jwt.Claims{
		Issuer:    a.clientID,
		Subject:   a.clientID,
		Audience:  jwt.Audience{a.aud},
		ID:        base64.RawURLEncoding.EncodeToString(jti),
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		Expiry:    jwt.NewNumericDate(now.Add(a.lifetime)),
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("private_key_jwt: signing the assertion: %w", err)
	}
	return s, nil
}

// parsePrivateKey reads the first private key block of a PEM file. go-jose
// has no PEM loader; the standard library parses the three usual encodings.
// Errors never quote the file.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key block (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY) found")
		}
		if !strings.HasSuffix(block.Type, "PRIVATE KEY") {
			continue // e.g. a certificate in the same file
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
			return nil, errors.New("the private key is encrypted: provide it unencrypted (protect the file instead)")
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		}
		if err != nil {
			return nil, fmt.Errorf("cannot parse the %s block", block.Type)
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", key)
		}
		return s, nil
	}
}

// checkKeyForAlg refuses a key that cannot make alg's signatures, so the
// error names the configuration instead of a provider's "invalid_client".
func checkKeyForAlg(key crypto.Signer, alg jose.SignatureAlgorithm) error {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if alg[0] != 'R' && alg[0] != 'P' {
			return fmt.Errorf("an RSA key cannot sign %s", alg)
		}
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("the RSA key has %d bits, at least 2048 are required", k.N.BitLen())
		}
	case *ecdsa.PrivateKey:
		want := map[jose.SignatureAlgorithm]elliptic.Curve{jose.ES256: elliptic.P256(), jose.ES384: elliptic.P384(), jose.ES512: elliptic.P521()}[alg]
		if want == nil {
			return fmt.Errorf("an EC key cannot sign %s (use ES256, ES384 or ES512)", alg)
		}
		if k.Curve != want {
			return fmt.Errorf("%s needs a %s key, the file holds a %s key", alg, want.Params().Name, k.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("a %T key cannot sign %s", key, alg)
	}
	return nil
}
