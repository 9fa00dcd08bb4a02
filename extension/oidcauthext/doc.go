// Package oidcauthext implements the oidcauth extension: a server
// authenticator for receivers that validates JWT access tokens of any OIDC
// issuer (Keycloak, Okta, Auth0, Dex, Google, a cloud STS...) on
// internal/jwtauth, and maps their claims into client.Info.Auth so
// processors can route by tenant, subject or group.
package oidcauthext // import "github.com/otelcol-custom/otelcol-custom/extension/oidcauthext"

//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml
