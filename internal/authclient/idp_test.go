package authclient

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configtls"
)

func TestIdPTransport(t *testing.T) {
	id := component.MustNewID("oidcauth")
	tr, err := IdPTransport(context.Background(), id, configtls.ClientConfig{ServerName: "idp.example.com"})
	require.NoError(t, err)
	t.Cleanup(tr.CloseIdleConnections)
	assert.Equal(t, "idp.example.com", tr.TLSClientConfig.ServerName)
	assert.NotNil(t, tr.Proxy, "the environment's proxy settings apply, as with http.DefaultTransport")

	_, err = IdPTransport(context.Background(), id, configtls.ClientConfig{Config: configtls.Config{CAFile: "/nonexistent/ca.pem"}})
	require.ErrorContains(t, err, "oidcauth: tls: ")
}
