package azureidentityauthext

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/internal/fakeentra"
)

// checkServes asserts the client extension sends a token the fake issued for
// the configured audience and app, through HTTP, gRPC and TokenCredential,
// and that a server extension accepts it.
func checkServes(t *testing.T, f *fakeentra.Server, ca string, ext *azureIdentityAuth, tenant, appID string) {
	t.Helper()
	ctx := context.Background()

	md, err := mustPerRPC(t, ext).GetRequestMetadata(ctx)
	require.NoError(t, err)
	hv := md["authorization"]
	require.True(t, strings.HasPrefix(hv, "Bearer "), "gRPC metadata: %v", md)
	c := claimsOf(t, hv)
	assert.Equal(t, monitorAud, c["aud"])
	assert.Equal(t, tenant, c["tid"])
	assert.Contains(t, []any{c["azp"], c["appid"]}, appID)

	// The TokenCredential face returns the same token for the configured scope.
	at, err := ext.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{defaultScope}})
	require.NoError(t, err)
	assert.Equal(t, strings.TrimPrefix(hv, "Bearer "), at.Token)
	assert.True(t, at.ExpiresOn.After(time.Now()))

	// A server for that tenant and audience accepts it over HTTP.
	scfg := serverConfig(f, ca, monitorAud)
	scfg.Server.Get().TenantID = tenant
	srv, _, _ := started(t, scfg)
	b := newBackend(t, srv)
	rt, err := ext.RoundTripper(http.DefaultTransport)
	require.NoError(t, err)
	code, err := get(t, rt, b.srv.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, code, b.lastErr)
}

func mustPerRPC(t testing.TB, ext *azureIdentityAuth) interface {
	GetRequestMetadata(context.Context, ...string) (map[string]string, error)
} {
	p, err := ext.PerRPCCredentials()
	require.NoError(t, err)
	require.True(t, p.RequireTransportSecurity())
	return p
}

func TestServicePrincipalSecret(t *testing.T) {
	f, ca := testEntra(t)
	f.AddClientSecret(tenantA, clientA, secretA)
	cfg := clientConfig(f, ca)
	cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{TenantID: tenantA, ClientID: clientA, ClientSecret: secretA})
	ext, _, logs := started(t, cfg)
	checkServes(t, f, ca, ext, tenantA, clientA)
	assert.Equal(t, int64(1), f.Counts().TokenIssued, "one token fetched in the background, every request served from it")
	assertNoSecret(t, logs, secretA)
}

func TestServicePrincipalCertificatePEM(t *testing.T) {
	f, ca := testEntra(t)
	cert, path := newClientCert(t)
	f.AddClientCertificate(tenantA, clientA, cert)
	cfg := clientConfig(f, ca)
	cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{TenantID: tenantA, ClientID: clientA, ClientCertificatePath: path})
	ext, _, _ := started(t, cfg)
	checkServes(t, f, ca, ext, tenantA, clientA)
}

func TestServicePrincipalCertificatePKCS12(t *testing.T) {
	const password = "test-p12-password"
	path := filepath.Join("testdata", "client.p12")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	certs, _, err := azidentity.ParseCertificates(data, []byte(password))
	require.NoError(t, err)

	f, ca := testEntra(t)
	f.AddClientCertificate(tenantA, clientA, certs[0])
	cfg := clientConfig(f, ca)
	cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{
		TenantID: tenantA, ClientID: clientA, ClientCertificatePath: path, ClientCertificatePassword: password,
	})
	ext, _, logs := started(t, cfg)
	checkServes(t, f, ca, ext, tenantA, clientA)
	assertNoSecret(t, logs, password)
}

func TestServicePrincipalCertificateErrors(t *testing.T) {
	f, ca := testEntra(t)
	for _, tc := range []struct {
		name, path, password string
		want                 []string
	}{
		{"missing file", filepath.Join(t.TempDir(), "nope.pem"), "", []string{"service_principal::client_certificate_path", "no such file"}},
		{"wrong password", filepath.Join("testdata", "client.p12"), "wrong-password-value", []string{"service_principal::client_certificate_path", "tenant_id=" + tenantA}},
		{"modern PKCS#12", filepath.Join("testdata", "client_aes.p12"), "test-p12-password", []string{"PKCS#12 needs legacy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := clientConfig(f, ca)
			cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{
				TenantID: tenantA, ClientID: clientA, ClientCertificatePath: tc.path,
				ClientCertificatePassword: configopaque.String(tc.password),
			})
			_, _, _, err := start(t, cfg)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			if tc.password != "" {
				assert.NotContains(t, err.Error(), tc.password)
			}
		})
	}
}

// A certificate the app does not have registered is refused by Entra: the
// error is surfaced once with the kind and ids, and requests fail clearly.
func TestServicePrincipalUnregisteredCertificate(t *testing.T) {
	f, ca := testEntra(t)
	registered, _ := newClientCert(t)
	f.AddClientCertificate(tenantA, clientA, registered)
	_, otherPath := newClientCert(t)
	cfg := clientConfig(f, ca)
	cfg.Refresh.InitialWait = 300 * time.Millisecond
	cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{TenantID: tenantA, ClientID: clientA, ClientCertificatePath: otherPath})
	ext, host, _ := started(t, cfg)
	_, err := mustPerRPC(t, ext).GetRequestMetadata(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AADSTS700027")
	assert.Contains(t, err.Error(), "service_principal (tenant_id="+tenantA+", client_id="+clientA+")")
	require.Eventually(t, func() bool { return len(host.Errors()) > 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestWorkloadIdentity(t *testing.T) {
	const subject = "system:serviceaccount:observability:otel-collector"
	for _, fromEnv := range []bool{false, true} {
		t.Run(fmt.Sprintf("from_env=%v", fromEnv), func(t *testing.T) {
			f, ca := testEntra(t)
			f.AddFederatedCredential(tenantA, clientA, subject)
			assertion, err := f.FederatedAssertion(subject, time.Hour)
			require.NoError(t, err)
			tokenFile := filepath.Join(t.TempDir(), "azure-identity-token")
			require.NoError(t, os.WriteFile(tokenFile, []byte(assertion), 0o600))

			cfg := clientConfig(f, ca)
			cfg.WorkloadIdentity = configoptional.Some(WorkloadIdentityConfig{})
			if fromEnv {
				t.Setenv(envTenantID, tenantA)
				t.Setenv(envClientID, clientA)
				t.Setenv(envFederatedTokenFile, tokenFile)
			} else {
				t.Setenv(envTenantID, "")
				t.Setenv(envClientID, "")
				t.Setenv(envFederatedTokenFile, "")
				cfg.WorkloadIdentity = configoptional.Some(WorkloadIdentityConfig{TenantID: tenantA, ClientID: clientA, TokenFile: tokenFile})
			}
			ext, _, logs := started(t, cfg)
			checkServes(t, f, ca, ext, tenantA, clientA)
			assertNoSecret(t, logs, assertion)
		})
	}
}

func TestWorkloadIdentityMissingEnvironment(t *testing.T) {
	f, ca := testEntra(t)
	t.Setenv(envTenantID, "")
	t.Setenv(envClientID, clientA)
	t.Setenv(envFederatedTokenFile, "")
	cfg := clientConfig(f, ca)
	cfg.WorkloadIdentity = configoptional.Some(WorkloadIdentityConfig{})
	_, _, _, err := start(t, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "workload_identity::tenant_id (or $AZURE_TENANT_ID)")
	assert.Contains(t, err.Error(), "workload_identity::token_file (or $AZURE_FEDERATED_TOKEN_FILE)")
	assert.NotContains(t, err.Error(), "workload_identity::client_id (or")
	assert.Contains(t, err.Error(), "client_id="+clientA)
}

// A federated assertion for another subject is refused by the fake Entra.
func TestWorkloadIdentityWrongSubject(t *testing.T) {
	f, ca := testEntra(t)
	f.AddFederatedCredential(tenantA, clientA, "system:serviceaccount:ns:right")
	assertion, err := f.FederatedAssertion("system:serviceaccount:ns:wrong", time.Hour)
	require.NoError(t, err)
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(assertion), 0o600))
	cfg := clientConfig(f, ca)
	cfg.Refresh.InitialWait = 300 * time.Millisecond
	cfg.WorkloadIdentity = configoptional.Some(WorkloadIdentityConfig{TenantID: tenantA, ClientID: clientA, TokenFile: tokenFile})
	ext, _, _ := started(t, cfg)
	_, err = mustPerRPC(t, ext).GetRequestMetadata(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "AADSTS70021")
	assert.Contains(t, err.Error(), "workload_identity (tenant_id="+tenantA)
}

// Managed identity through the App Service endpoint (IDENTITY_ENDPOINT and
// IDENTITY_HEADER; t.Setenv, so not parallel).
func TestManagedIdentity(t *testing.T) {
	f, ca := testEntra(t)
	mi, err := f.NewManagedIdentity(tenantA)
	require.NoError(t, err)
	t.Cleanup(mi.Close)
	for k, v := range mi.Env() {
		t.Setenv(k, v)
	}
	for _, tc := range []struct {
		name  string
		cfg   ManagedIdentityConfig
		want  fakeentra.Identity
		appID string
	}{
		{"system", ManagedIdentityConfig{}, fakeentra.Identity{Kind: "system"}, fakeentra.SystemAssignedClientID},
		{"client_id", ManagedIdentityConfig{ClientID: clientA}, fakeentra.Identity{Kind: "client_id", Value: clientA}, clientA},
		{"resource_id", ManagedIdentityConfig{ResourceID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/otel"},
			fakeentra.Identity{Kind: "mi_res_id", Value: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/otel"},
			fakeentra.ObjectID(tenantA, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/otel")},
		{"object_id", ManagedIdentityConfig{ObjectID: "0b1ec700-0000-4000-8000-000000000001"},
			fakeentra.Identity{Kind: "object_id", Value: "0b1ec700-0000-4000-8000-000000000001"},
			fakeentra.ObjectID(tenantA, "0b1ec700-0000-4000-8000-000000000001")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := mi.Issued()
			cfg := clientConfig(f, ca)
			mic := tc.cfg
			cfg.ManagedIdentity = configoptional.Some(mic)
			ext, _, _ := started(t, cfg)
			checkServes(t, f, ca, ext, tenantA, tc.appID)
			assert.Equal(t, tc.want, mi.Last())
			assert.Equal(t, before+1, mi.Issued())
		})
	}
}

func TestManagedIdentityUnreachable(t *testing.T) {
	f, ca := testEntra(t)
	mi, err := f.NewManagedIdentity(tenantA)
	require.NoError(t, err)
	for k, v := range mi.Env() {
		t.Setenv(k, v)
	}
	mi.Close() // nothing listens any more: connection refused
	cfg := clientConfig(f, ca)
	cfg.Refresh.InitialWait = 300 * time.Millisecond
	cfg.ManagedIdentity = configoptional.Some(ManagedIdentityConfig{ClientID: clientA})
	// MSAL caches managed identity tokens process-wide: a scope no other test
	// uses makes sure this one is not served from that cache.
	cfg.Scopes = []string{"https://unreachable.example/.default"}
	ext, host, logs := started(t, cfg)
	_, err = mustPerRPC(t, ext).GetRequestMetadata(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "managed_identity (client_id="+clientA+")")
	assert.Contains(t, err.Error(), "connection refused")
	require.Eventually(t, func() bool {
		return len(host.Errors()) > 0 && logs.FilterMessageSnippet("Credential fetch failed;").Len() == 1
	}, 5*time.Second, 10*time.Millisecond)
	// Surfaced once: many failed attempts, one warning and one status event.
	require.Eventually(t, func() bool { return logs.FilterMessageSnippet("Credential fetch failed again").Len() >= 3 },
		10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, logs.FilterMessageSnippet("Credential fetch failed;").Len())
	assert.Len(t, host.Errors(), 1)
	assert.Equal(t, componentstatus.StatusRecoverableError, host.Statuses()[0])
}

func TestDefaultCredential(t *testing.T) {
	f, ca := testEntra(t)
	f.AddClientSecret(tenantA, clientA, secretA)
	// The environment credential of the chain, and only it (no IMDS probe).
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
	t.Setenv("AZURE_TENANT_ID", tenantA)
	t.Setenv("AZURE_CLIENT_ID", clientA)
	t.Setenv("AZURE_CLIENT_SECRET", secretA)
	cfg := clientConfig(f, ca)
	cfg.Default = configoptional.Some(DefaultCredentialConfig{})
	ext, _, logs := started(t, cfg)
	checkServes(t, f, ca, ext, tenantA, clientA)
	assertNoSecret(t, logs, secretA)
}

// The Azure CLI credential runs `az account get-access-token`; a fake az on
// PATH prints a token the fake Entra minted.
func TestAzureCLI(t *testing.T) {
	f, ca := testEntra(t)
	exp := time.Now().Add(time.Hour)
	tok, err := f.IssueToken(fakeentra.TokenClaims{Tenant: tenantA, Audience: monitorAud, AppID: clientA, Expiry: exp})
	require.NoError(t, err)
	dir := t.TempDir()
	out := fmt.Sprintf(`{"accessToken":%q,"expires_on":%d,"tenant":%q,"tokenType":"Bearer"}`, tok, exp.Unix(), tenantA)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "az.json"), []byte(out), 0o600))
	script := "#!/bin/sh\necho \"$@\" >> " + filepath.Join(dir, "calls") + "\ncat " + filepath.Join(dir, "az.json") + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "az"), []byte(script), 0o700)) //nolint:gosec // test executable
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))

	cfg := clientConfig(f, ca)
	cfg.AzureCLI = configoptional.Some(AzureCLIConfig{TenantID: tenantA})
	ext, _, _ := started(t, cfg)
	checkServes(t, f, ca, ext, tenantA, clientA)
	calls, err := os.ReadFile(filepath.Join(dir, "calls"))
	require.NoError(t, err)
	assert.Equal(t, "account get-access-token -o json --resource "+monitorAud+" --tenant "+tenantA+"\n", string(calls))
}

func TestServicePrincipalErrorsSurfaceOnce(t *testing.T) {
	for _, tc := range []struct {
		name, tenant, secret, want string
	}{
		{"bad secret", tenantA, "wrong-secret-value", "AADSTS7000215"},
		{"unknown tenant", tenantB, secretA, "AADSTS90002"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, ca := testEntra(t)
			f.AddClientSecret(tenantA, clientA, secretA)
			cfg := clientConfig(f, ca)
			cfg.Refresh.InitialWait = 200 * time.Millisecond
			cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{TenantID: tc.tenant, ClientID: clientA, ClientSecret: configopaque.String(tc.secret)})
			ext, host, logs := started(t, cfg)
			rt, err := ext.RoundTripper(http.DefaultTransport)
			require.NoError(t, err)
			_, err = get(t, rt, "http://127.0.0.1:1/never-reached")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "service_principal (tenant_id="+tc.tenant+", client_id="+clientA+")")
			assert.NotContains(t, err.Error(), tc.secret)
			require.Eventually(t, func() bool { return f.Counts().TokenRejected >= 3 }, 5*time.Second, 10*time.Millisecond)
			assert.Equal(t, 1, logs.FilterMessageSnippet("Credential fetch failed;").Len(), "one warning for many failures")
			assert.Len(t, host.Errors(), 1, "one status event for many failures")
			assertNoSecret(t, logs, tc.secret)
			for _, e := range host.Errors() {
				assert.NotContains(t, e.Error(), tc.secret)
			}
		})
	}
}

// GetToken for other scopes goes through azidentity once and is cached; the
// configured scope never leaves the handle; claims bypass the cache.
func TestTokenCredentialOtherScopes(t *testing.T) {
	f, ca := testEntra(t)
	f.AddClientSecret(tenantA, clientA, secretA)
	f.SetTokenLifetime(time.Hour)
	cfg := clientConfig(f, ca)
	cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{TenantID: tenantA, ClientID: clientA, ClientSecret: secretA})
	ext, _, _ := started(t, cfg)
	ctx := context.Background()
	_, err := ext.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{defaultScope}})
	require.NoError(t, err)
	issued := f.Counts().TokenIssued

	other := policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}}
	at1, err := ext.GetToken(ctx, other)
	require.NoError(t, err)
	assert.Equal(t, "https://vault.azure.net", claimsOf(t, at1.Token)["aud"])
	for range 10 {
		at2, err := ext.GetToken(ctx, other)
		require.NoError(t, err)
		assert.Equal(t, at1.Token, at2.Token)
	}
	assert.Equal(t, issued+1, f.Counts().TokenIssued)

	// Same scope, own tenant named explicitly: still the handle.
	at3, err := ext.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{defaultScope}, TenantID: tenantA})
	require.NoError(t, err)
	assert.Equal(t, monitorAud, claimsOf(t, at3.Token)["aud"])
	assert.Equal(t, issued+1, f.Counts().TokenIssued)

	// Another tenant not allowed: azidentity refuses, the error names the credential.
	_, err = ext.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{defaultScope}, TenantID: tenantB})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "service_principal (tenant_id="+tenantA)
}

func TestServerOnlyHasNoClient(t *testing.T) {
	f, ca := testEntra(t)
	ext, _, _ := started(t, serverConfig(f, ca, apiAudience))
	_, err := ext.RoundTripper(http.DefaultTransport)
	require.ErrorContains(t, err, "no credential kind is configured")
	_, err = ext.PerRPCCredentials()
	require.ErrorContains(t, err, "no credential kind is configured")
	_, err = ext.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{defaultScope}})
	require.ErrorContains(t, err, "no credential kind is configured")
}

func TestClientOnlyRefusesAsServer(t *testing.T) {
	f, ca := testEntra(t)
	f.AddClientSecret(tenantA, clientA, secretA)
	cfg := clientConfig(f, ca)
	cfg.ServicePrincipal = configoptional.Some(ServicePrincipalConfig{TenantID: tenantA, ClientID: clientA, ClientSecret: secretA})
	ext, _, _ := started(t, cfg)
	_, err := ext.Authenticate(context.Background(), map[string][]string{"Authorization": {"Bearer x"}})
	require.ErrorContains(t, err, "no server block")
}

func assertNoSecret(t *testing.T, logs *observer.ObservedLogs, secret string) {
	t.Helper()
	for _, e := range logs.All() {
		assert.NotContains(t, e.Message, secret)
		for k, v := range e.ContextMap() {
			assert.NotContains(t, fmt.Sprint(v), secret, "log field %s", k)
		}
	}
}
