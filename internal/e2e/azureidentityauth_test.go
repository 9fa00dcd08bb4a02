//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/otelcol-custom/otelcol-custom/internal/e2e/harness"
	"github.com/otelcol-custom/otelcol-custom/internal/fakeentra"
	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
)

const (
	entraTenant   = "e2e0e2e0-0000-4000-8000-00000000e2e0"
	entraClient   = "e2e0c11e-0000-4000-8000-00000000c11e"
	entraAudience = "api://otelcol-custom-e2e"
)

// azureServerConfig is collector B: OTLP gRPC and HTTP receivers that accept
// only Entra tokens of the fake issuer for entraAudience with the
// Telemetry.Write role, and a file exporter.
func azureServerConfig(authority, caFile, outFile string) func(p *harness.Ports) string {
	return func(p *harness.Ports) string {
		return receiverConfig(p, "azureidentityauth/server", fmt.Sprintf(`
  azureidentityauth/server:
    authority_host: %[1]s
    tls:
      ca_file: %[2]q
    server:
      tenant_id: %[3]s
      audiences: [%[4]s]
      required_roles: [Telemetry.Write]`, authority, caFile, entraTenant, entraAudience), outFile)
	}
}

// azureClientConfig is collector A: it forwards to B over gRPC with a token
// from the fake Entra for a service principal with a client secret.
func azureClientConfig(authority, caFile, secret, serverGRPC string) func(p *harness.Ports) string {
	return func(p *harness.Ports) string {
		return forwarderConfig(p, "azureidentityauth/client", fmt.Sprintf(`
  azureidentityauth/client:
    service_principal:
      tenant_id: %[1]s
      client_id: %[2]s
      client_secret: %[3]q
    scopes: [%[4]s/.default]
    authority_host: %[5]s
    disable_instance_discovery: true
    tls:
      ca_file: %[6]q
    # plaintext gRPC is fine here: both ends are on loopback.
    require_transport_security: false`, entraTenant, entraClient, secret, entraAudience, authority, caFile), serverGRPC, "")
	}
}

// forgedToken has every claim B expects, signed by a key the issuer never
// published (with the issuer's current kid, and with an unknown one).
func forgedToken(t *testing.T, entra *fakeentra.Server, kid string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(t, err)
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(map[string]any{
		"iss": entra.Issuer(entraTenant), "aud": entraAudience, "tid": entraTenant,
		"oid": fakeentra.ObjectID(entraTenant, entraClient), "azp": entraClient, "roles": []string{"Telemetry.Write"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "ver": "2.0",
	}).Serialize()
	require.NoError(t, err)
	return tok
}

// TestAzureIdentityAuthEndToEnd: A exports with a service principal against
// the fake Entra ID, B validates the tokens against the same issuer;
// telemetrygen drives A and B receives exactly what was sent. Tokens signed
// by another key, for another audience, or none at all are refused by B.
func TestAzureIdentityAuthEndToEnd(t *testing.T) {
	harness.RequireComponents(t, "azureidentityauth")
	entra, caFile := fakeoidc.Start(t, fakeentra.New) // closes after the collectors stopped (registered first)
	secret := "e2e-secret-" + newToken(t)
	entra.AddClientSecret(entraTenant, entraClient, secret, "Telemetry.Write")
	dir := t.TempDir()
	outFile := filepath.Join(dir, "received.json")
	secrets := []string{secret}

	server := harness.Start(t, harness.Options{
		Name: "server-B", Config: azureServerConfig(entra.AuthorityHost(), caFile, outFile), Redact: secrets,
	})
	client := harness.Start(t, harness.Options{
		Name: "client-A", Config: azureClientConfig(entra.AuthorityHost(), caFile, secret, server.Endpoint(portGRPC)), Redact: secrets,
	})

	const spans = 200
	harness.RunTelemetrygen(t, 2*time.Minute, secrets, telemetrygenArgs(client.Endpoint(portGRPC), spans, 0)...)
	require.Eventually(t, func() bool { return harness.CountSpans(t, outFile) >= spans }, 60*time.Second, 50*time.Millisecond,
		"B did not receive the %d spans sent through A", spans)

	// Refusals: nothing they carry may reach the exporter.
	valid, err := entra.IssueToken(fakeentra.TokenClaims{
		Tenant: entraTenant, Audience: entraAudience, AppID: entraClient, Roles: []string{"Telemetry.Write"},
	})
	require.NoError(t, err)
	wrongAud, err := entra.IssueToken(fakeentra.TokenClaims{
		Tenant: entraTenant, Audience: "api://someone-else", AppID: entraClient, Roles: []string{"Telemetry.Write"},
	})
	require.NoError(t, err)
	noRole, err := entra.IssueToken(fakeentra.TokenClaims{Tenant: entraTenant, Audience: entraAudience, AppID: entraClient})
	require.NoError(t, err)
	refusals := map[string]struct{ authorization, reason string }{
		"signed by another key, known kid":   {"Bearer " + forgedToken(t, entra, entra.CurrentKeyID()), "signature is invalid"},
		"signed by another key, unknown kid": {"Bearer " + forgedToken(t, entra, "attacker-kid"), "unknown key"},
		"wrong audience":                     {"Bearer " + wrongAud, "audience"},
		"missing role":                       {"Bearer " + noRole, "required role"},
		"no token":                           {"", "missing Authorization header"},
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(oneSpanTraces()).MarshalProto()
	require.NoError(t, err)
	for name, r := range refusals {
		code, respBody, err := postTraces(t.Context(), server.Endpoint(portHTTP), "application/x-protobuf", body, r.authorization)
		require.NoError(t, err, "HTTP %s", name)
		assert.Equal(t, http.StatusUnauthorized, code, "HTTP %s must be refused", name)
		assert.Contains(t, respBody, r.reason, "HTTP %s: clear reason", name)
	}
	conn, err := grpc.NewClient(server.Endpoint(portGRPC), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	otlp := ptraceotlp.NewGRPCClient(conn)
	for name, r := range refusals {
		md := metadata.MD{}
		if r.authorization != "" {
			md = metadata.Pairs("authorization", r.authorization)
		}
		ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(t.Context(), md), 10*time.Second)
		_, err := otlp.Export(ctx, ptraceotlp.NewExportRequestFromTraces(oneSpanTraces()))
		cancel()
		assert.Equal(t, codes.Unauthenticated, status.Code(err), "gRPC %s must be refused: %v", name, err)
	}
	// The control: a valid token from the same issuer is accepted directly.
	code, respBody, err := postTraces(t.Context(), server.Endpoint(portHTTP), "application/json", []byte(emptyRequest), "Bearer "+valid)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, respBody)

	client.Stop()
	server.Stop()
	assert.Equal(t, spans, harness.CountSpans(t, outFile), "B must hold exactly the spans telemetrygen sent")
	counts := entra.Counts()
	assert.Positive(t, counts.TokenIssued, "A fetched its token from the fake Entra")
	assert.Zero(t, counts.TokenRejected)
	for _, c := range []*harness.Collector{client, server} {
		assert.NotContains(t, rawLog(t, c), secret, "no log may contain the client secret")
	}
	t.Logf("azureidentityauth e2e: %d spans sent through A, %d received by B; fake Entra: %d token(s) issued, %d discovery and %d JWKS requests; %d forged/invalid requests refused per protocol",
		spans, harness.CountSpans(t, outFile), counts.TokenIssued, counts.Discovery, counts.JWKS, len(refusals))
}
