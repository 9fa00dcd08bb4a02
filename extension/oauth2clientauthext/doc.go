// Package oauth2clientauthext implements the oauth2client extension: an
// OAuth2 client authenticator for the collector's HTTP and gRPC exporters,
// for any identity provider (Keycloak, Okta, Auth0, Dex, a cloud STS...).
//
// It obtains access tokens with the client_credentials grant (client secret,
// watched client secret file, or private_key_jwt client authentication), the
// token exchange grant (RFC 8693) or the JWT bearer grant (RFC 7523) from a
// watched subject token file, such as a Kubernetes projected service account
// token. Tokens are fetched and refreshed ahead of expiry in the background
// by the shared tokencache Refresher; requests only read the current token
// (internal/authclient) and never wait for the identity provider once the
// first token exists.
package oauth2clientauthext // import "github.com/otelcol-custom/otelcol-custom/extension/oauth2clientauthext"

//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml
