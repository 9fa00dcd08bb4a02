package authbench

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/goleak"

	"github.com/otelcol-custom/otelcol-custom/internal/authclient/authclienttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startExt creates and starts an extension through its factory, as the
// collector does, and shuts it down when b ends.
func startExt(b *testing.B, f extension.Factory, cfg component.Config) extension.Extension {
	b.Helper()
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(b, err)
	require.NoError(b, ext.Start(context.Background(), componenttest.NewNopHost()))
	b.Cleanup(func() { require.NoError(b, ext.Shutdown(context.Background())) })
	return ext
}

// acceptingServer starts the extension of fac configured from raw (its YAML
// keys) and waits until it accepts tok.
func acceptingServer(b *testing.B, fac extension.Factory, raw map[string]any, tok string) extensionauth.Server {
	cfg := fac.CreateDefaultConfig()
	require.NoError(b, confmap.NewFromStringMap(raw).Unmarshal(cfg))
	srv := startExt(b, fac, cfg).(extensionauth.Server)
	require.Eventually(b, func() bool {
		_, err := srv.Authenticate(context.Background(), map[string][]string{"Authorization": {"Bearer " + tok}})
		return err == nil
	}, 10*time.Second, 5*time.Millisecond, "%s never accepted the token", fac.Type())
	return srv
}

// base is one http.RoundTripper an auth RoundTripper is benchmarked over;
// neither touches the network.
type base struct {
	name string
	rt   http.RoundTripper
}

// benchBases: transport is what confighttp gives an auth RoundTripper, a real
// *http.Transport whose network part answers at once (its own header
// validation is in every row alike); middleware is the auth layer alone.
func benchBases() []base {
	r := authclienttest.Responder{Response: &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}}
	return []base{{"transport", authclienttest.NewTransport(r)}, {"middleware", r}}
}

// benchRoundTrip runs rt serially and under RunParallel (one request per
// goroutine, as exporters have) as sub-benchmarks of b named name/serial and
// name/parallel.
func benchRoundTrip(b *testing.B, name string, rt http.RoundTripper, newReq func() *http.Request) {
	b.Run(name+"/serial", func(b *testing.B) {
		req := newReq()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rt.RoundTrip(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(name+"/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			req := newReq()
			for pb.Next() {
				if _, err := rt.RoundTrip(req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
