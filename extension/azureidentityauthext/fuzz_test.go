package azureidentityauthext

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/internal/jwtauth"
)

const (
	fuzzKid    = "fuzz-kid"
	fuzzIssuer = "https://login.example/" + tenantA + "/v2.0"
)

// fuzzKey is a committed test-only key, so the seed corpus holds tokens with
// valid signatures that mutations start from.
func fuzzKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fuzz_signing_key.pem"))
	require.NoError(t, err)
	block, _ := pem.Decode(data)
	require.NotNil(t, block)
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	require.NoError(t, err)
	return key
}

// staticValidator validates against fixed keys: no network, no refetch.
func staticValidator(t testing.TB, pub *rsa.PublicKey, tokenCache int) *validator {
	t.Helper()
	s := createDefaultConfig().(*Config).Server.GetOrInsertDefault()
	s.TenantID = tenantA
	s.Audiences = []string{apiAudience}
	s.KeysMinRefetchInterval = time.Hour
	s.TokenCacheSize = tokenCache
	// a refetch returns at once
	ks := &keySet{jwtauth.NewStaticKeySet(&jwtauth.KeyState{
		Keys:    map[string]*jwtauth.Key{fuzzKid: {Public: pub, Algs: []jose.SignatureAlgorithm{jose.RS256}}},
		Issuers: []string{fuzzIssuer},
	})}
	v, err := newValidator(s, ks, defaultHeader, defaultScheme, nil)
	require.NoError(t, err)
	return v
}

// FuzzValidateToken feeds arbitrary Authorization values to the validator.
// It must never panic, and it may only accept a token whose RS256 signature
// verifies with the key and whose claims pass the checks.
func FuzzValidateToken(f *testing.F) {
	key := fuzzKey(f)
	v := staticValidator(f, &key.PublicKey, 0)
	now := time.Unix(1900000000, 0) // the seed tokens are valid at this instant
	v.Now = func() time.Time { return now }
	f.Add("Bearer eyJhbGciOiJub25lIn0.e30.")
	f.Add("Bearer a.b.c")
	f.Add("bearer  ")
	f.Fuzz(func(t *testing.T, header string) {
		_, err := v.Authenticate(context.Background(), map[string][]string{"Authorization": {header}})
		if err != nil {
			return
		}
		raw, aerr := v.Extract(map[string][]string{"Authorization": {header}})
		if aerr != nil {
			t.Fatalf("accepted but extract fails: %v", aerr)
		}
		jws, perr := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
		if perr != nil {
			t.Fatalf("accepted a token go-jose cannot parse as RS256: %v", perr)
		}
		payload, verr := jws.Verify(&key.PublicKey)
		if verr != nil {
			t.Fatalf("accepted a token whose signature does not verify: %v", verr)
		}
		var c struct {
			Iss string           `json:"iss"`
			Aud jwt.Audience     `json:"aud"`
			Exp *jwt.NumericDate `json:"exp"`
			Tid string           `json:"tid"`
		}
		if json.Unmarshal(payload, &c) != nil || c.Exp == nil || !now.Before(c.Exp.Time().Add(v.ClockSkew())) ||
			c.Iss != fuzzIssuer || !c.Aud.Contains(apiAudience) || c.Tid != tenantA {
			t.Fatalf("accepted invalid claims: %s", payload)
		}
	})
}

// The committed seeds mean what their names say: only "valid*" is accepted.
func TestFuzzSeeds(t *testing.T) {
	key := fuzzKey(t)
	v := staticValidator(t, &key.PublicKey, 16)
	v.Now = func() time.Time { return time.Unix(1900000000, 0) }
	dir := filepath.Join("testdata", "fuzz", "FuzzValidateToken")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		var header string
		_, err = fmt.Sscanf(strings.SplitN(string(data), "\n", 2)[1], "string(%q)", &header)
		require.NoError(t, err, e.Name())
		_, err = v.Authenticate(context.Background(), map[string][]string{"Authorization": {header}})
		if strings.HasPrefix(e.Name(), "valid") {
			require.NoError(t, err, e.Name())
		} else {
			require.Error(t, err, e.Name())
		}
	}
}
