package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// UsableKey binds each published key to the algorithms it may verify.
func TestUsableKey(t *testing.T) {
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	all := SupportedAlgorithms
	rs := []jose.SignatureAlgorithm{jose.RS256}

	for _, tc := range []struct {
		name    string
		pub     any
		jwkAlg  string
		allowed []jose.SignatureAlgorithm
		want    []jose.SignatureAlgorithm // nil: not usable
	}{
		{"RSA, no alg, all allowed", &rsa2048.PublicKey, "", all, []jose.SignatureAlgorithm{jose.RS256, jose.PS256}},
		{"RSA published for RS256", &rsa2048.PublicKey, "RS256", all, []jose.SignatureAlgorithm{jose.RS256}},
		{"RSA published for PS256, RS256 only", &rsa2048.PublicKey, "PS256", rs, nil},
		{"RSA published for HS256", &rsa2048.PublicKey, "HS256", all, nil},
		{"RSA below 2048 bits", &rsa1024.PublicKey, "", all, nil},
		{"P-256", &p256.PublicKey, "", all, []jose.SignatureAlgorithm{jose.ES256}},
		{"P-256, RS256 only", &p256.PublicKey, "", rs, nil},
		{"P-256 published for RS256", &p256.PublicKey, "RS256", all, nil},
		{"P-384", &p384.PublicKey, "", all, nil},
		{"Ed25519", edPub, "", all, nil},
		{"a symmetric key", []byte("secret"), "", all, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := UsableKey(tc.pub, tc.jwkAlg, tc.allowed)
			if tc.want == nil {
				assert.Nil(t, k)
				return
			}
			require.NotNil(t, k)
			assert.Equal(t, tc.want, k.Algs)
		})
	}
}

func TestNewRefusesUnsupportedAlgorithms(t *testing.T) {
	ks := NewStaticKeySet(&KeyState{})
	for _, alg := range []jose.SignatureAlgorithm{"none", jose.HS256, jose.RS512} {
		_, err := New(Config{Issuers: []*Issuer{{Keys: ks}}, Algorithms: []jose.SignatureAlgorithm{alg}})
		assert.ErrorContains(t, err, string(alg))
	}
	_, err := New(Config{})
	assert.Error(t, err)
}
