package bearertoken_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/goleak"

	"github.com/otelcol-custom/otelcol-custom/extension/bearertoken"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type host struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h host) GetExtensions() map[component.ID]component.Component { return h.exts }

type plainExt struct {
	component.StartFunc
	component.ShutdownFunc
}

type staticProvider struct{ ch chan struct{} }

func (p staticProvider) Token() (bearertoken.Token, error) { return bearertoken.Token{Value: "t"}, nil }
func (p staticProvider) Changed() <-chan struct{}          { return p.ch }

type providerExt struct {
	plainExt
	p   bearertoken.Provider
	err error
}

func (e providerExt) TokenProvider() (bearertoken.Provider, error) { return e.p, e.err }

func TestGetProvider(t *testing.T) {
	var (
		missing   = component.MustNewIDWithName("azureidentityauth", "missing")
		plain     = component.MustNewIDWithName("memkv", "plain")
		server    = component.MustNewIDWithName("bearerauth", "server")
		client    = component.MustNewIDWithName("bearerauth", "client")
		want      = staticProvider{ch: make(chan struct{})}
		errServer = errors.New("has no client token")
	)
	h := host{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{
		plain:  plainExt{},
		server: providerExt{err: errServer},
		client: providerExt{p: want},
	}}
	_, err := bearertoken.GetProvider(h, missing)
	require.EqualError(t, err, `bearer token provider "azureidentityauth/missing" not found: add it to the service's extensions`)
	_, err = bearertoken.GetProvider(h, plain)
	require.EqualError(t, err, `extension "memkv/plain" is not a bearer token provider (use bearerauth, azureidentityauth or oauth2clientauth)`)
	_, err = bearertoken.GetProvider(h, server)
	require.ErrorIs(t, err, errServer)
	assert.Contains(t, err.Error(), `"bearerauth/server"`)

	p, err := bearertoken.GetProvider(h, client)
	require.NoError(t, err)
	tok, err := p.Token()
	require.NoError(t, err)
	assert.Equal(t, "t", tok.Value)
	require.NoError(t, providerExt{}.Start(context.Background(), h))
}
