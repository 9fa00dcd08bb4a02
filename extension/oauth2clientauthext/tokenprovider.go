package oauth2clientauthext // import "github.com/otelcol-custom/otelcol-custom/extension/oauth2clientauthext"

import "github.com/otelcol-custom/otelcol-custom/extension/bearertoken"

var _ bearertoken.Extension = (*oauth2Client)(nil)

// TokenProvider implements bearertoken.Extension: the access token from the
// same cache the RoundTripper reads, with the expiry the token endpoint gave.
func (e *oauth2Client) TokenProvider() (bearertoken.Provider, error) {
	return e.handle.Provider(), nil
}
