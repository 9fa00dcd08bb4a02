package jwtauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A JWKS past maxDiscoveryBody is refused with an error saying so, and the
// keys already held stay.
func TestFetchRefusesOversizedJWKS(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jwk, err := jose.JSONWebKey{Key: &priv.PublicKey, KeyID: "k1", Use: "sig"}.MarshalJSON()
	require.NoError(t, err)
	var padding atomic.Int64 // bytes of filler after the key: 0 first, then past the bound
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, srv.URL, srv.URL+"/keys")
		case "/keys":
			fmt.Fprintf(w, `{"keys":[%s],"filler":"%s"}`, jwk, strings.Repeat("a", int(padding.Load())))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	client := srv.Client()
	defer client.CloseIdleConnections()

	ks := NewKeySet(KeySetConfig{
		Client: client, DocURLs: []string{srv.URL + "/.well-known/openid-configuration"},
		Algorithms: []jose.SignatureAlgorithm{jose.ES256}, Timeout: 10 * time.Second,
		RefreshEvery: time.Hour, MinRefetch: time.Hour,
	})
	defer ks.Shutdown()

	<-ks.FetchShared()
	require.NoError(t, ks.LastError())
	require.NotNil(t, ks.Current().Keys["k1"])

	padding.Store(maxDiscoveryBody)
	<-ks.FetchShared()
	err = ks.LastError()
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("response larger than %d bytes", maxDiscoveryBody))
	assert.NotNil(t, ks.Current().Keys["k1"], "a failed fetch keeps the keys held")
}
