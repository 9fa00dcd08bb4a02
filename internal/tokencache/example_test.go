package tokencache_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

func Example() {
	src := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
		return tokencache.Token{Value: "example-token"}, nil
	})
	r, err := tokencache.New(src, tokencache.NewDefaultConfig(), tokencache.Settings{
		ID:        component.MustNewID("bearerauth"),
		Telemetry: componenttest.NewNopTelemetrySettings(),
		Kind:      "static",
		Scheme:    "Bearer",
	})
	if err != nil {
		panic(err)
	}
	if err = r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		panic(err)
	}
	defer func() { _ = r.Shutdown(context.Background()) }()

	// The request path: Current() is an atomic load; Wait only before the first token.
	e, err := r.Handle().Wait(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println(e.HeaderName, len(e.HeaderValues), e.Metadata["authorization"] != "")
	// Output: Authorization 1 true
}
