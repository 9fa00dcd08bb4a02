// Package azureidentityauthext implements the azureidentityauth extension: a
// Microsoft Entra ID authenticator for the collector.
//
// As a client it sends an access token obtained through azidentity (managed
// identity, workload identity, service principal with a secret or a
// certificate, the default credential chain or the Azure CLI). The token is
// fetched and refreshed in the background by the shared tokencache
// Refresher; the request path only reads the current value, for HTTP
// (extensionauth.HTTPClient), gRPC (extensionauth.GRPCClient) and Azure SDK
// clients (azcore.TokenCredential).
//
// As a server (extensionauth.Server) it validates Entra-issued JWTs: RS256
// signatures against the issuer's signing keys (OIDC discovery and JWKS,
// refreshed in the background), issuer, audience, lifetime, tenant, and
// optionally roles and scopes.
package azureidentityauthext // import "github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"

//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml
