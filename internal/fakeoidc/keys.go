package fakeoidc

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// SigningKey is an RS256 key with its key id (a thumbprint of the public key).
type SigningKey struct {
	KID     string
	Private *rsa.PrivateKey
}

// NewSigningKey generates a 2048-bit RSA key.
func NewSigningKey() (SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return SigningKey{}, err
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return SigningKey{}, err
	}
	sum := sha256.Sum256(der)
	return SigningKey{KID: base64.RawURLEncoding.EncodeToString(sum[:12]), Private: priv}, nil
}

// Sign serializes claims as a compact RS256 JWT (typ JWT) with the key's kid.
func (k SigningKey) Sign(claims any) (string, error) {
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.Private, KeyID: k.KID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// SignWorkloadToken signs a Kubernetes-style service account token (iss,
// sub, aud, iat, nbf, exp), as a workload presents to a token exchange or
// federated credential.
func (k SigningKey) SignWorkloadToken(issuer, subject string, aud []string, lifetime time.Duration) (string, error) {
	now := time.Now()
	return k.Sign(map[string]any{
		"iss": issuer,
		"sub": subject,
		"aud": aud,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(lifetime).Unix(),
	})
}

// KeySet is a rotating set of signing keys: the newest signs, all are
// published until retired. Safe for concurrent use.
type KeySet struct {
	mu    sync.Mutex
	keys  []SigningKey      // keys[len-1] signs
	extra []jose.JSONWebKey // published besides keys (PublishKey)
}

// NewKeySet returns a key set holding one fresh key.
func NewKeySet() (*KeySet, error) {
	ks := &KeySet{}
	if _, err := ks.RotateKey(); err != nil {
		return nil, err
	}
	return ks, nil
}

// RotateKey creates a new signing key that signs from now on. Older keys stay
// published in the JWKS (tokens they signed still verify) until RetireKeys.
func (ks *KeySet) RotateKey() (kid string, err error) {
	k, err := NewSigningKey()
	if err != nil {
		return "", err
	}
	ks.mu.Lock()
	ks.keys = append(ks.keys, k)
	ks.mu.Unlock()
	return k.KID, nil
}

// RetireKeys removes every key but the current one from the JWKS (keys
// added with PublishKey too).
func (ks *KeySet) RetireKeys() {
	ks.mu.Lock()
	ks.keys = ks.keys[len(ks.keys)-1:]
	ks.extra = nil
	ks.mu.Unlock()
}

// PublishKey adds a public key of the test's own (an ECDSA key, an RSA key
// published for PS256...) to the JWKS until RetireKeys, so tests can sign
// tokens the validator finds in the issuer's key set.
func (ks *KeySet) PublishKey(k jose.JSONWebKey) {
	ks.mu.Lock()
	ks.extra = append(ks.extra, k)
	ks.mu.Unlock()
}

// CurrentKey is the key that signs now.
func (ks *KeySet) CurrentKey() SigningKey {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.keys[len(ks.keys)-1]
}

// CurrentKeyID is the kid of the key that signs now.
func (ks *KeySet) CurrentKeyID() string { return ks.CurrentKey().KID }

// CurrentPublicKey is the public key that verifies tokens signed now.
func (ks *KeySet) CurrentPublicKey() *rsa.PublicKey { return &ks.CurrentKey().Private.PublicKey }

// JWKS is the published key set.
func (ks *KeySet) JWKS() jose.JSONWebKeySet {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	set := jose.JSONWebKeySet{}
	for _, k := range ks.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key: &k.Private.PublicKey, KeyID: k.KID, Algorithm: string(jose.RS256), Use: "sig",
		})
	}
	set.Keys = append(set.Keys, ks.extra...)
	return set
}

// ServeJWKS answers with the published key set.
func (ks *KeySet) ServeJWKS(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, ks.JWKS())
}
