package authclient // import "github.com/otelcol-custom/otelcol-custom/internal/authclient"

import (
	"context"
	"fmt"
	"net/http"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configtls"
)

// IdPTransport returns the transport an extension reaches its identity
// provider with: a clone of http.DefaultTransport (proxy from the
// environment, HTTP/2, pooled connections) using tls. An invalid CA or
// certificate fails with an error naming id and tls.
func IdPTransport(ctx context.Context, id component.ID, tls configtls.ClientConfig) (*http.Transport, error) {
	tlsCfg, err := tls.LoadTLSConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: tls: %w", id, err)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsCfg
	return t, nil
}
