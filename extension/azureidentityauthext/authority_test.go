package azureidentityauthext

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
)

// Issue 9 case 10: the AKS workload identity webhook injects
// AZURE_AUTHORITY_HOST in sovereign clouds; with neither cloud nor
// authority_host configured, the credential asks that authority (here the
// fake Entra) for its token.
func TestWorkloadIdentityAuthorityFromEnvironment(t *testing.T) {
	const subject = "system:serviceaccount:observability:otel-collector"
	f, ca := testEntra(t)
	f.AddFederatedCredential(tenantA, clientA, subject)
	assertion, err := f.FederatedAssertion(subject, time.Hour)
	require.NoError(t, err)
	tokenFile := filepath.Join(t.TempDir(), "azure-identity-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(assertion), 0o600))
	t.Setenv(envTenantID, tenantA)
	t.Setenv(envClientID, clientA)
	t.Setenv(envFederatedTokenFile, tokenFile)
	t.Setenv(envAuthorityHost, f.AuthorityHost())

	cfg := clientConfig(f, ca)
	cfg.AuthorityHost = "" // as the webhook's users configure it: nothing
	cfg.Refresh.InitialWait = 5 * time.Second
	cfg.WorkloadIdentity = configoptional.Some(WorkloadIdentityConfig{})
	before := f.Counts().TokenIssued
	ext, _, _ := started(t, cfg)
	_, err = ext.handle.Wait(context.Background())
	require.NoError(t, err, "the token comes from $AZURE_AUTHORITY_HOST")
	assert.Equal(t, before+1, f.Counts().TokenIssued)
	checkServes(t, f, ca, ext, tenantA, clientA)
}

// cloud or authority_host, when configured, win over AZURE_AUTHORITY_HOST; a
// malformed variable fails Start naming it.
func TestAuthorityHostPrecedence(t *testing.T) {
	t.Setenv(envAuthorityHost, "https://login.microsoftonline.us")
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, "https://login.microsoftonline.us/", cfg.authorityHost())
	cfg.Cloud = cloudPublic
	assert.Equal(t, "https://login.microsoftonline.com/", cfg.authorityHost())
	cfg.Cloud, cfg.AuthorityHost = "", "https://login.example.internal"
	assert.Equal(t, "https://login.example.internal/", cfg.authorityHost())

	t.Setenv(envAuthorityHost, "http://login.example.internal/")
	cfg = createDefaultConfig().(*Config)
	cfg.ManagedIdentity = configoptional.Some(ManagedIdentityConfig{})
	_, _, _, err := start(t, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "$AZURE_AUTHORITY_HOST")
}
