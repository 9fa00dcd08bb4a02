package bearerauthext

import (
	"context"
	"fmt"
	"hash/maphash"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-custom/otelcol-custom/extension/bearerauthext/internal/metadatatest"
)

const (
	aliceToken = "alice-0123456789abcdefghijklmnopqrstuvwxyz"
	bobToken   = "bob.token_with~all+b64/chars=="
	anonToken  = "anonymous-token-2"
)

func serverConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Tokens = []TokenConfig{
		{Name: "alice", Token: aliceToken},
		{Name: "bob", Token: bobToken},
		{Token: anonToken},
	}
	return cfg
}

func subjectOf(t *testing.T, ctx context.Context) string {
	t.Helper()
	info := client.FromContext(ctx)
	require.NotNil(t, info.Auth)
	s, ok := info.Auth.GetAttribute("subject").(string)
	require.True(t, ok)
	return s
}

func TestAuthenticateMatches(t *testing.T) {
	ext := startExt(t, serverConfig(), testSettings(), nil)
	tests := []struct {
		name    string
		headers map[string][]string
		subject string
	}{
		{"http canonical", map[string][]string{"Authorization": {"Bearer " + aliceToken}}, "alice"},
		{"grpc lowercase", map[string][]string{"authorization": {"Bearer " + aliceToken}}, "alice"},
		{"scheme lowercase", map[string][]string{"Authorization": {"bearer " + bobToken}}, "bob"},
		{"scheme uppercase", map[string][]string{"Authorization": {"BEARER " + bobToken}}, "bob"},
		{"scheme mixed case", map[string][]string{"authorization": {"bEaReR " + bobToken}}, "bob"},
		{"unnamed token publishes no subject", map[string][]string{"Authorization": {"Bearer " + anonToken}}, ""},
		{"other headers ignored", map[string][]string{"Content-Type": {"x"}, "Authorization": {"Bearer " + aliceToken}}, "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := context.Background()
			ctx, err := ext.Authenticate(in, tt.headers)
			require.NoError(t, err)
			if tt.subject == "" {
				assert.Equal(t, in, ctx, "the context is returned unchanged")
				assert.Nil(t, client.FromContext(ctx).Auth)
				return
			}
			assert.Equal(t, tt.subject, subjectOf(t, ctx))
		})
	}
}

func TestUnnamedTokenPublishesNothing(t *testing.T) {
	ext := startExt(t, serverConfig(), testSettings(), nil)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4317}
	in := client.NewContext(context.Background(), client.Info{Addr: addr})
	unnamed := map[string][]string{"authorization": {"Bearer " + anonToken}}
	named := map[string][]string{"authorization": {"Bearer " + aliceToken}}

	ctx, err := ext.Authenticate(in, unnamed)
	require.NoError(t, err)
	assert.Equal(t, in, ctx, "the receiver's context is passed through as it is")
	assert.Equal(t, client.Info{Addr: addr}, client.FromContext(ctx))

	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ext.Authenticate(in, unnamed); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "an unnamed token is authenticated without allocating")
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := ext.Authenticate(in, named); err != nil {
			t.Fatal(err)
		}
	})
	assert.Positive(t, allocs, "publishing a subject needs a new context")
}

func TestAuthDataExposesOnlySubject(t *testing.T) {
	ext := startExt(t, serverConfig(), testSettings(), nil)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4318}
	in := client.NewContext(context.Background(), client.Info{Addr: addr, Metadata: client.NewMetadata(map[string][]string{"k": {"v"}})})
	ctx, err := ext.Authenticate(in, map[string][]string{"Authorization": {"Bearer " + aliceToken}})
	require.NoError(t, err)
	info := client.FromContext(ctx)
	assert.Equal(t, addr, info.Addr, "existing client.Info is kept")
	assert.Equal(t, []string{"v"}, info.Metadata.Get("k"))
	assert.Equal(t, []string{"subject"}, info.Auth.GetAttributeNames())
	assert.Equal(t, "alice", info.Auth.GetAttribute("subject"))
	for _, name := range []string{"raw", "token", "Authorization", "authorization", "scheme", ""} {
		assert.Nil(t, info.Auth.GetAttribute(name), name)
	}
	// The callers' slices cannot alter the extension's state.
	names := info.Auth.GetAttributeNames()
	names[0] = "mutated"
	assert.Equal(t, []string{"subject"}, info.Auth.GetAttributeNames())
}

func TestAuthenticateRefusals(t *testing.T) {
	const wrong = "wrong-token-0123456789"
	tests := []struct {
		name    string
		headers map[string][]string
		msg     string // substring of the error
		reason  string
	}{
		{"nil headers", nil, "missing Authorization header", reasonMissing},
		{"no header", map[string][]string{"Content-Type": {"application/json"}}, "missing Authorization header", reasonMissing},
		{"header without values", map[string][]string{"Authorization": {}}, "missing Authorization header", reasonMissing},
		{"empty value", map[string][]string{"Authorization": {""}}, "empty Authorization header", reasonMalformed},
		{"scheme only", map[string][]string{"Authorization": {"Bearer"}}, "no token", reasonMalformed},
		{"scheme and space", map[string][]string{"Authorization": {"Bearer "}}, "no token", reasonMalformed},
		{"two spaces", map[string][]string{"Authorization": {"Bearer  " + aliceToken}}, "exactly one space", reasonMalformed},
		{"trailing space", map[string][]string{"Authorization": {"Bearer " + aliceToken + " "}}, "exactly one space", reasonMalformed},
		{"leading space", map[string][]string{"Authorization": {" Bearer " + aliceToken}}, "does not use the Bearer scheme", reasonMalformed},
		{"tab separator", map[string][]string{"Authorization": {"Bearer\t" + aliceToken}}, "exactly one space", reasonMalformed},
		{"spaces only after scheme", map[string][]string{"Authorization": {"Bearer    "}}, "exactly one space", reasonMalformed},
		{"other scheme", map[string][]string{"Authorization": {"Basic " + aliceToken}}, "does not use the Bearer scheme", reasonMalformed},
		{"scheme glued to token", map[string][]string{"Authorization": {"Bearer" + aliceToken}}, "does not use the Bearer scheme", reasonMalformed},
		{"longer scheme", map[string][]string{"Authorization": {"Bearerx " + aliceToken}}, "does not use the Bearer scheme", reasonMalformed},
		{"raw token without scheme", map[string][]string{"Authorization": {aliceToken}}, "does not use the Bearer scheme", reasonMalformed},
		{"several values", map[string][]string{"Authorization": {"Bearer " + aliceToken, "Bearer " + bobToken}}, "more than one", reasonMalformed},
		{"canonical and lowercase keys", map[string][]string{"Authorization": {"Bearer " + aliceToken}, "authorization": {"Bearer " + bobToken}}, "more than one", reasonMalformed},
		{"non-ASCII", map[string][]string{"Authorization": {"Bearer tökén-" + wrong}}, "characters", reasonMalformed},
		{"non-ASCII scheme", map[string][]string{"Authorization": {"Béarer " + aliceToken}}, "does not use the Bearer scheme", reasonMalformed},
		{"control byte after scheme", map[string][]string{"Authorization": {"Bearer\x00" + aliceToken}}, "characters", reasonMalformed},
		{"NUL byte", map[string][]string{"Authorization": {"Bearer ab\x00" + wrong}}, "characters", reasonMalformed},
		{"CRLF injection", map[string][]string{"Authorization": {"Bearer " + aliceToken + "\r\nX-Evil: 1"}}, "characters", reasonMalformed},
		{"DEL byte", map[string][]string{"Authorization": {"Bearer " + wrong + "\x7f"}}, "characters", reasonMalformed},
		{"b64token punctuation", map[string][]string{"Authorization": {"Bearer " + wrong + "!"}}, "characters", reasonMalformed},
		{"padding in the middle", map[string][]string{"Authorization": {"Bearer ab==cd" + wrong}}, "characters", reasonMalformed},
		{"padding only", map[string][]string{"Authorization": {"Bearer ===="}}, "characters", reasonMalformed},
		{"1 MiB header", map[string][]string{"Authorization": {"Bearer " + strings.Repeat("A", 1<<20)}}, "longer than", reasonMalformed},
		{"wrong token", map[string][]string{"Authorization": {"Bearer " + wrong}}, "invalid bearer token", reasonUnknown},
		{"prefix of a token", map[string][]string{"Authorization": {"Bearer " + aliceToken[:len(aliceToken)-1]}}, "invalid bearer token", reasonUnknown},
		{"token plus a byte", map[string][]string{"Authorization": {"Bearer " + aliceToken + "x"}}, "invalid bearer token", reasonUnknown},
		{"token in another case", map[string][]string{"Authorization": {"Bearer " + strings.ToUpper(aliceToken)}}, "invalid bearer token", reasonUnknown},
		{"token under another header", map[string][]string{"X-Api-Key": {"Bearer " + aliceToken}}, "missing Authorization header", reasonMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel := componenttest.NewTelemetry()
			t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
			ext := startExt(t, serverConfig(), metadatatest.NewSettings(tel), nil)

			in := context.Background()
			ctx, err := ext.Authenticate(in, tt.headers)
			require.Error(t, err)
			assert.Equal(t, in, ctx, "a refused request keeps its context")
			assert.Contains(t, err.Error(), tt.msg)
			var ae *authError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.reason, ae.reason)
			for _, secret := range []string{aliceToken, bobToken, anonToken, wrong, "tökén"} {
				assert.NotContains(t, err.Error(), secret)
			}
			assert.Less(t, len(err.Error()), 200, "errors are short and never echo input")
			metadatatest.AssertEqualBearerauthServerRefusedRequests(t, tel, []metricdata.DataPoint[int64]{
				{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", tt.reason))},
			}, metricdatatest.IgnoreTimestamp())
		})
	}
}

func TestAuthenticateRawTokenCustomHeader(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Header = "x-api-key"
	cfg.Scheme = ""
	cfg.Tokens = []TokenConfig{{Name: "svc", Token: "raw!token:with=punct"}}
	ext := startExt(t, cfg, testSettings(), nil)

	for _, key := range []string{http.CanonicalHeaderKey("x-api-key"), "x-api-key"} {
		ctx, err := ext.Authenticate(context.Background(), map[string][]string{key: {"raw!token:with=punct"}})
		require.NoError(t, err, key)
		assert.Equal(t, "svc", subjectOf(t, ctx))
	}
	_, err := ext.Authenticate(context.Background(), map[string][]string{"X-Api-Key": {"Bearer raw!token:with=punct"}})
	require.ErrorContains(t, err, "without whitespace")
	_, err = ext.Authenticate(context.Background(), map[string][]string{"Authorization": {"raw!token:with=punct"}})
	require.ErrorContains(t, err, "missing x-api-key header")
}

func TestAuthenticateCustomScheme(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Scheme = "Token"
	cfg.Tokens = []TokenConfig{{Name: "n", Token: aliceToken}}
	ext := startExt(t, cfg, testSettings(), nil)
	_, err := ext.Authenticate(context.Background(), map[string][]string{"Authorization": {"token " + aliceToken}})
	require.NoError(t, err)
	_, err = ext.Authenticate(context.Background(), map[string][]string{"Authorization": {"Bearer " + aliceToken}})
	require.ErrorContains(t, err, "does not use the Token scheme")
}

func TestClientOnlyInstanceRefusesServerUse(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Token = aliceToken
	ext := startExt(t, cfg, testSettings(), nil)
	_, err := ext.Authenticate(context.Background(), map[string][]string{"Authorization": {"Bearer " + aliceToken}})
	require.ErrorContains(t, err, "no server tokens")
	var ae *authError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, reasonNotConfigured, ae.reason)
}

func TestServerOnlyInstanceRefusesClientUse(t *testing.T) {
	ext := startExt(t, serverConfig(), testSettings(), nil)
	_, err := ext.RoundTripper(http.DefaultTransport)
	require.ErrorContains(t, err, "token_file")
	_, err = ext.PerRPCCredentials()
	require.ErrorContains(t, err, "token_file")
}

func TestTokenSetLookupIsExact(t *testing.T) {
	list := []namedToken{{name: "a", token: "aaaa"}, {name: "b", token: "aaab"}, {name: "c", token: "aaaaa"}}
	set, err := newTokenSet(list)
	require.NoError(t, err)
	for _, nt := range list {
		e := set.lookup(nt.token)
		require.NotNil(t, e)
		assert.Equal(t, nt.name, e.auth.subject)
	}
	for _, miss := range []string{"", "a", "aaa", "aaac", "aaaaaa", "AAAA"} {
		assert.Nil(t, set.lookup(miss), miss)
	}
	_, err = newTokenSet(append(list, namedToken{name: "d", token: "aaaa", origin: "tokens_file line 9"}))
	require.ErrorContains(t, err, "tokens_file line 9: same token as")
}

func TestTokenSetNames(t *testing.T) {
	// Unnamed tokens have no name to collide; named ones must be unique.
	set, err := newTokenSet([]namedToken{
		{token: "t1", origin: "tokens[0]"}, {token: "t2", origin: "tokens[1]"}, {name: "n", token: "t3", origin: "tokens[2]"},
	})
	require.NoError(t, err)
	assert.Nil(t, set.lookup("t1").auth, "an unnamed token has no auth data")
	assert.Equal(t, "n", set.lookup("t3").auth.subject)

	_, err = newTokenSet([]namedToken{
		{name: "n", token: "t1", origin: "tokens[0]"}, {name: "n", token: "t2", origin: "tokens_file line 4"},
	})
	require.ErrorContains(t, err, `tokens_file line 4: name "n" is already used by tokens[0]`)
	assert.NotContains(t, err.Error(), "t2")
}

func TestTokenSetManyTokens(t *testing.T) {
	list := make([]namedToken, 5000)
	for i := range list {
		list[i] = namedToken{name: fmt.Sprint("n", i), token: fmt.Sprint("token-", i)}
	}
	set, err := newTokenSet(list)
	require.NoError(t, err)
	assert.Equal(t, 5000, set.size)
	for _, nt := range list {
		e := set.lookup(nt.token)
		require.NotNil(t, e, nt.token)
		require.Equal(t, nt.name, e.auth.subject)
	}
	for i := range 5000 {
		require.Nil(t, set.lookup(fmt.Sprint("token-x", i)))
	}
}

// A hash hit alone never accepts: the stored token is compared too. The
// entry is planted under the presented token's hash to force the compare.
func TestTokenSetLookupComparesOnHashHit(t *testing.T) {
	set, err := newTokenSet([]namedToken{{name: "a", token: "real-token"}})
	require.NoError(t, err)
	for _, presented := range []string{"real-tokex", "real-token-", "real-toke", "Real-token"} {
		set.byHash[maphash.String(set.seed, presented)] = set.lookup("real-token")
		assert.Nil(t, set.lookup(presented), presented)
	}
	assert.NotNil(t, set.lookup("real-token"))
}
