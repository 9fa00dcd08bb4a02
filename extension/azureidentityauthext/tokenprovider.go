package azureidentityauthext // import "github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"

import "github.com/otelcol-custom/otelcol-custom/extension/bearertoken"

var _ bearertoken.Extension = (*azureIdentityAuth)(nil)

// TokenProvider implements bearertoken.Extension: the access token for the
// configured scopes, from the same cache the RoundTripper reads, with the
// expiry Entra ID gave it. A component that needs another scope uses its own
// instance of this extension.
func (e *azureIdentityAuth) TokenProvider() (bearertoken.Provider, error) {
	if e.handle == nil {
		return nil, e.errNoClient()
	}
	return e.handle.Provider(), nil
}
