package rediskvext

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
	"github.com/otelcol-custom/otelcol-custom/extension/rediskvext/internal/metadata"
)

// Issue 9 case 9: Start warns once when a password would be sent without TLS,
// and not when TLS is on or there is no password. No Redis is needed: Start
// does not wait for the connection.
func TestPasswordWithoutTLSWarns(t *testing.T) {
	const password = "redis-password-never-logged"
	for _, tc := range []struct {
		name     string
		password string
		sentinel string
		tls      bool
		warn     bool
	}{
		{"password, no tls", password, "", false, true},
		{"sentinel password, no tls", "", password, false, true},
		{"password and tls", password, "", true, false},
		{"no password", "", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.WarnLevel)
			set := extensiontest.NewNopSettings(metadata.Type)
			set.Logger = zap.New(core)
			cfg := testConfig()
			cfg.Endpoints = []string{"127.0.0.1:1"} // nothing listens
			cfg.DialTimeout = 50 * time.Millisecond
			cfg.Password = configopaque.String(tc.password)
			cfg.Sentinel.Password = configopaque.String(tc.sentinel)
			if tc.tls {
				cfg.TLS = configtls.ClientConfig{Insecure: false}
			}
			e, err := newRedisKV(cfg, set)
			require.NoError(t, err)
			require.NoError(t, e.Start(context.Background(), kvcachetest.NewHost(nil)))
			t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
			n := logs.FilterMessageSnippet("without TLS").Len()
			if tc.warn {
				assert.Equal(t, 1, n)
			} else {
				assert.Zero(t, n)
			}
			for _, l := range logs.All() {
				assert.NotContains(t, l.Message, password)
				for _, v := range l.ContextMap() {
					assert.NotContains(t, v, password)
				}
			}
		})
	}
}
