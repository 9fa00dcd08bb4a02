//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-custom/otelcol-custom/internal/e2e/harness"
	"github.com/otelcol-custom/otelcol-custom/internal/fakeoidc"
)

const oauth2ClientID = "otelcol-e2e"

// oauth2ClientConfig is collector A: it forwards to B over gRPC with an access
// token from the fake provider (client_credentials, secret from a watched
// file), refreshed in the background.
func oauth2ClientConfig(tokenURL, caFile, secretFile, serverGRPC string) func(p *harness.Ports) string {
	return func(p *harness.Ports) string {
		return forwarderConfig(p, "oauth2client", fmt.Sprintf(`
  oauth2client:
    token_url: %[1]s
    client_id: %[2]s
    client_secret_file: %[3]q
    scopes: [telemetry.write]
    audience: otelcol-e2e-gateway
    tls:
      ca_file: %[4]q
    timeout: 2s
    # plaintext gRPC is fine here: both ends are on loopback.
    require_transport_security: false
    refresh:
      initial_backoff: 100ms
      max_backoff: 500ms`, tokenURL, oauth2ClientID, secretFile, caFile), serverGRPC, "")
	}
}

// oauth2Receiver starts collector B, which validates A's access tokens from
// idp and writes what it receives to outFile.
type oauth2Receiver func(t *testing.T, idp *fakeoidc.Server, dir, caFile, outFile string, secrets []string) *harness.Collector

// TestOAuth2ClientEndToEnd: telemetrygen sends through A, which exports with
// tokens from the fake provider (8s lifetime, refreshed every 4s), to B,
// whose bearerauth server accepts exactly the tokens the provider issued.
// Mid-stream the client secret file is rotated (and the old secret revoked),
// then the provider is down for 6s, shorter than a token's life. B must
// receive every span sent.
func TestOAuth2ClientEndToEnd(t *testing.T) {
	harness.RequireComponents(t, "oauth2client", "bearerauth")
	runOAuth2ClientEndToEnd(t, "bearerauth", bearerAuthReceiver)
}

// TestOAuth2ClientToOIDCAuth: the same with B validating the tokens as JWTs
// of the provider with the oidcauth server (discovery, JWKS, audience): the
// outage takes down the provider's JWKS too, and B keeps validating with the
// keys it holds.
func TestOAuth2ClientToOIDCAuth(t *testing.T) {
	harness.RequireComponents(t, "oauth2client", "oidcauth")
	runOAuth2ClientEndToEnd(t, "oidcauth", func(t *testing.T, idp *fakeoidc.Server, _, caFile, outFile string, secrets []string) *harness.Collector {
		return harness.Start(t, harness.Options{Name: "server-B", Config: oidcServerConfig(idp.Issuer(), caFile, outFile), Redact: secrets})
	})
}

// bearerAuthReceiver is B with bearerauth: every token the provider issues
// is added to B's tokens_file, and the token response waits until B accepts
// it: B knows a token before A can send it, as with a real validating
// receiver.
func bearerAuthReceiver(t *testing.T, idp *fakeoidc.Server, dir, _, outFile string, secrets []string) *harness.Collector {
	tokensFile := filepath.Join(dir, "accepted-tokens")
	placeholder := newToken(t) // B needs a token set before the first issue
	harness.WriteFile(t, tokensFile, []byte(placeholder+"\n"))
	server := harness.Start(t, harness.Options{Name: "server-B", Config: serverConfig(tokensFile, outFile), Redact: secrets})
	var mu sync.Mutex
	accepted := []string{placeholder}
	idp.OnIssue(func(tok string) {
		mu.Lock()
		defer mu.Unlock()
		accepted = append(accepted, tok)
		// Not harness.WriteFile: this runs on the provider's goroutine, where
		// t.Fatal must not be called; a failed write shows up as lost spans.
		tmp := tokensFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(strings.Join(accepted, "\n")+"\n"), 0o600); err != nil || os.Rename(tmp, tokensFile) != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = harness.Poll(ctx, 10*time.Second, func(ctx context.Context) error {
			code, _, err := postTraces(ctx, server.Endpoint(portHTTP), "application/json", []byte(emptyRequest), "Bearer "+tok)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("HTTP %d", code)
			}
			return err
		})
	})
	return server
}

func runOAuth2ClientEndToEnd(t *testing.T, name string, startReceiver oauth2Receiver) {
	idp, caFile := fakeoidc.Start(t, fakeoidc.New) // closes after the collectors stopped (registered first)
	const lifetime = 8 * time.Second
	idp.SetTokenLifetime(lifetime)
	oldSecret, newSecret := "e2e-old-"+newToken(t), "e2e-new-"+newToken(t)
	idp.SetClient(fakeoidc.Client{ID: oauth2ClientID, Secrets: []string{oldSecret}})

	dir := t.TempDir()
	secretFile := filepath.Join(dir, "client-secret")
	harness.WriteFile(t, secretFile, []byte(oldSecret+"\n"))
	outFile := filepath.Join(dir, "received.json")
	secrets := []string{oldSecret, newSecret}

	server := startReceiver(t, idp, dir, caFile, outFile, secrets)
	client := harness.Start(t, harness.Options{
		Name: "client-A", Config: oauth2ClientConfig(idp.TokenURL(), caFile, secretFile, server.Endpoint(portGRPC)), Redact: secrets,
	})

	// About 24s of traffic at 50 spans/s; the rotation and the outage take ~15s.
	const spans, rate = 1200, 50
	gen := harness.StartTelemetrygen(t, secrets, telemetrygenArgs(client.Endpoint(portGRPC), spans, rate)...)
	require.Eventually(t, func() bool { return harness.CountSpans(t, outFile) > 0 }, 30*time.Second, 20*time.Millisecond,
		"no traffic reached B")

	// 1. Rotate the client secret: the provider accepts both, the file
	// changes, the next token request uses the new one, the old is revoked.
	idp.SetClient(fakeoidc.Client{ID: oauth2ClientID, Secrets: []string{oldSecret, newSecret}})
	harness.WriteFile(t, secretFile, []byte(newSecret+"\n"))
	before := len(idp.Requests())
	require.Eventually(t, func() bool {
		reqs := idp.Requests()
		return len(reqs) > before && reqs[len(reqs)-1].SecretIndex == 1
	}, 3*lifetime, 20*time.Millisecond, "A never requested a token with the new secret")
	idp.SetClient(fakeoidc.Client{ID: oauth2ClientID, Secrets: []string{newSecret}})

	// 2. Right after a refresh, take the provider down for 6s: the next
	// refresh (due after 4s) fails, the token (valid 8s) is still served.
	issued := len(idp.Issued())
	require.Eventually(t, func() bool { return len(idp.Issued()) > issued }, 2*lifetime, 10*time.Millisecond, "no refresh")
	failedBefore := idp.Counts().Failed
	require.NoError(t, idp.SetFailure(fakeoidc.Fail500, fakeoidc.EndpointAll))
	outageStart := harness.CountSpans(t, outFile)
	time.Sleep(6 * time.Second)
	require.NoError(t, idp.SetFailure(fakeoidc.FailNone, 0))
	duringOutage := harness.CountSpans(t, outFile) - outageStart
	require.False(t, gen.Exited(), "telemetrygen finished before the outage ended; the outage was not under load")

	gen.Wait(2 * time.Minute)
	require.Eventually(t, func() bool { return harness.CountSpans(t, outFile) >= spans }, 60*time.Second, 50*time.Millisecond,
		"B did not receive the %d spans sent through A", spans)
	client.Stop()
	server.Stop()

	got := harness.CountSpans(t, outFile)
	assert.Equal(t, spans, got, "B must hold exactly the spans telemetrygen sent")
	counts := idp.Counts()
	assert.Greater(t, counts.Failed, failedBefore, "A attempted a refresh during the outage")
	assert.Zero(t, counts.TokenRejected, "no token request used a revoked secret")
	assert.Positive(t, duringOutage, "spans kept flowing during the outage")
	for _, c := range []*harness.Collector{client, server} {
		log := rawLog(t, c)
		for _, s := range secrets {
			assert.NotContains(t, log, s, "no log may contain a client secret")
		}
	}
	t.Logf("oauth2client -> %s e2e: %d spans sent through A, %d received by B (%d during the 6s outage); provider: %d token requests, %d issued, %d failed by the outage, %d rejected",
		name, spans, got, duringOutage, counts.Token, counts.TokenIssued, counts.Failed-failedBefore, counts.TokenRejected)
}

// oidcServerConfig is collector B validating the provider's JWTs with
// oidcauth (the audience A requests).
func oidcServerConfig(issuer, caFile, outFile string) func(p *harness.Ports) string {
	return func(p *harness.Ports) string {
		return receiverConfig(p, "oidcauth", fmt.Sprintf(`
  oidcauth:
    issuers:
      - issuer_url: %[1]s
        audiences: [otelcol-e2e-gateway]
        required_claims:
          client_id: %[2]s
    tls:
      ca_file: %[3]q
    timeout: 2s`, issuer, oauth2ClientID, caFile), outFile)
	}
}
