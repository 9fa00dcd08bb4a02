package bearerauthext // import "github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"

import (
	"fmt"

	"github.com/otelcol-custom/otelcol-custom/extension/bearertoken"
)

var _ bearertoken.Extension = (*bearerAuth)(nil)

// TokenProvider implements bearertoken.Extension: the client token (token or
// token_file) from the same cache the RoundTripper reads. Its expiry is
// unknown.
func (b *bearerAuth) TokenProvider() (bearertoken.Provider, error) {
	if b.client == nil {
		return nil, fmt.Errorf("%s %w", b.id, errNoClientToken)
	}
	return b.client.handle().Provider(), nil
}
