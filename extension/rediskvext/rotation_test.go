package rediskvext

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-custom/otelcol-custom/extension/azureidentityauthext"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache/kvcachetest"
	"github.com/otelcol-custom/otelcol-custom/processor/kvcacheprocessor"
)

var providerID = component.MustNewIDWithName("azureidentityauth", "redis")

// countingKV wraps the rediskv extension as the processor's store provider and
// counts the store calls and their failures.
type countingKV struct {
	*redisKV
	calls, failed atomic.Int64
	firstErr      atomic.Pointer[error]
}

func (c *countingKV) Store(ctx context.Context, owner component.ID) (kvcache.Store, error) {
	s, err := c.redisKV.Store(ctx, owner)
	if err != nil {
		return nil, err
	}
	return &countingStore{Store: s, c: c}, nil
}

type countingStore struct {
	kvcache.Store
	c *countingKV
}

func (s *countingStore) Get(ctx context.Context, keys []string) ([]kvcache.Result, error) {
	s.c.calls.Add(1)
	res, err := s.Store.Get(ctx, keys)
	if err != nil {
		s.c.failed.Add(1)
		s.c.firstErr.CompareAndSwap(nil, &err)
	}
	return res, err
}

func tokenAuthConfig(addr string) *Config {
	cfg := testConfig()
	cfg.Endpoints = []string{addr}
	cfg.Auth.TokenProvider = &providerID
	cfg.PipelineMultiplex = 1 // two pipelined connections, plus the pool
	return cfg
}

// TestTokenRotationUnderLoad runs 1,000 lookups/s through the kvcache
// processor (public factory) into rediskv authenticated by a token provider,
// against a redis-server emulating Azure Cache for Redis: the ACL user is the
// token's oid, its passwords follow the issued tokens, and a watchdog closes
// connections whose token expired. Tokens live 3 s and are refreshed at half
// their lifetime, so the run spans at least 5 rotations. Every store call must
// succeed and every record be enriched; no connection may be closed.
//
// The provider is a tokencache Refresher whose Source mints tokens with
// fakeentra (the emulator adds each to the ACL as it is issued).
func TestTokenRotationUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("12 s of traffic")
	}
	svc := newEntraRedis(t, rotationLifetime)
	prov := newEntraProvider(t, svc)
	require.NoError(t, prov.Start(context.Background(), kvcachetest.NewHost(nil))) // its own status events
	t.Cleanup(func() { require.NoError(t, prov.Shutdown(context.Background())) })
	runRotationLoad(t, svc, prov, svc.issued.Load)
}

// TestAzureIdentityAuthRotationUnderLoad is the same run with the real
// azureidentityauth extension (service principal) fetching tokens for
// https://redis.azure.com/.default from fakeentra's token endpoint; the
// emulator validates each new token (signature, audience, expiry, oid) when a
// connection first presents it, as the service does.
func TestAzureIdentityAuthRotationUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("12 s of traffic")
	}
	svc := newEntraRedis(t, rotationLifetime)
	const secret = "redis-test-client-secret"
	svc.entra.AddClientSecret(entraTenant, entraApp, secret)
	ca := filepath.Join(t.TempDir(), "entra-ca.pem")
	require.NoError(t, svc.entra.WriteCAFile(ca))
	f := azureidentityauthext.NewFactory()
	acfg := f.CreateDefaultConfig().(*azureidentityauthext.Config)
	acfg.AuthorityHost = svc.entra.AuthorityHost()
	acfg.DisableInstanceDiscovery = true
	acfg.TLS = configtls.ClientConfig{Config: configtls.Config{CAFile: ca}}
	acfg.Scopes = []string{"https://redis.azure.com/.default"}
	acfg.Refresh.InitialBackoff, acfg.Refresh.MaxBackoff = 50*time.Millisecond, 200*time.Millisecond
	acfg.ServicePrincipal = configoptional.Some(azureidentityauthext.ServicePrincipalConfig{TenantID: entraTenant, ClientID: entraApp, ClientSecret: secret})
	require.NoError(t, confmap.Validate(acfg))
	set := extensiontest.NewNopSettings(f.Type())
	set.ID = providerID
	prov, err := f.Create(context.Background(), set, acfg)
	require.NoError(t, err)
	require.NoError(t, prov.Start(context.Background(), kvcachetest.NewHost(nil)))
	t.Cleanup(func() { require.NoError(t, prov.Shutdown(context.Background())) })
	runRotationLoad(t, svc, prov, svc.learned.Load)
}

const rotationLifetime = 3 * time.Second

// runRotationLoad is the load and the checks of the rotation tests; tokens
// counts the tokens the emulator has accepted so far.
func runRotationLoad(t *testing.T, svc *entraRedis, prov component.Component, tokens func() int64) {
	const (
		duration  = 12 * time.Second
		workers   = 4
		perBatch  = 10
		interval  = 40 * time.Millisecond // 4 workers x 10 records / 40 ms = 1,000 lookups/s
		keyspace  = 50_000
		rotations = 5
	)
	kv := make([]string, 0, 2*keyspace)
	for i := range keyspace {
		kv = append(kv, "rot:k"+strconv.Itoa(i), "v"+strconv.Itoa(i))
	}
	cmds := make(rueidis.Commands, 0, keyspace/1000)
	for i := 0; i < len(kv); i += 2000 {
		b := svc.admin.B().Mset().KeyValue()
		for j := i; j < min(i+2000, len(kv)); j += 2 {
			b = b.KeyValue(kv[j], kv[j+1])
		}
		cmds = append(cmds, b.Build())
	}
	for _, r := range svc.admin.DoMulti(context.Background(), cmds...) {
		require.NoError(t, r.Error())
	}

	host := kvcachetest.NewHost(map[component.ID]component.Component{providerID: prov})
	cfg := tokenAuthConfig(svc.Addr())
	cfg.KeyPrefix = "rot:"
	require.NoError(t, confmap.Validate(cfg))
	e := newTestExt(t, cfg)
	require.NoError(t, e.Start(context.Background(), host))
	ckv := &countingKV{redisKV: e}
	extID := component.MustNewID("rediskv")
	pHost := kvcachetest.NewHost(map[component.ID]component.Component{extID: ckv, providerID: prov})
	waitStatus(t, host, componentstatus.StatusOK, 10*time.Second)

	f := kvcacheprocessor.NewFactory()
	pcfg := f.CreateDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"store":         extID.String(),
		"timeout":       "5s",
		"fetch_timeout": "5s",
		"lookups": []any{map[string]any{
			"context": "span",
			"key":     map[string]any{"attributes": []any{"k"}},
			"target":  "v",
		}},
		// Every record is a store lookup: a one-entry local cache, and keys cycle
		// through a keyspace larger than the run's lookups.
		"cache": map[string]any{"max_entries": 1, "ttl": "1ms", "refresh_after": 0, "max_stale": 0},
	}).Unmarshal(pcfg))
	require.NoError(t, confmap.Validate(pcfg))
	sink := new(consumertest.TracesSink)
	p, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(f.Type()), pcfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), pHost))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

	tokensBefore, authBefore := tokens(), svc.authCmds.Load()
	var next atomic.Int64
	var records, unenriched, consumeErrs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for time.Since(start) < duration {
				<-tick.C
				td := ptrace.NewTraces()
				spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
				want := make([]string, perBatch)
				for i := range perBatch {
					n := next.Add(1) % keyspace
					spans.AppendEmpty().Attributes().PutStr("k", "k"+strconv.FormatInt(n, 10))
					want[i] = "v" + strconv.FormatInt(n, 10)
				}
				if err := p.ConsumeTraces(context.Background(), td); err != nil {
					consumeErrs.Add(1)
					continue
				}
				for i := range perBatch {
					records.Add(1)
					v, ok := spans.At(i).Attributes().Get("v")
					if !ok || v.Str() != want[i] {
						unenriched.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	newTokens := tokens() - tokensBefore
	var firstErr string
	if p := ckv.firstErr.Load(); p != nil {
		firstErr = (*p).Error()
	}
	t.Logf("%d records in %s (%.0f lookups/s), %d store calls, %d failed, %d un-enriched; %d new tokens (rotations), %d AUTH/HELLO AUTH commands seen, %d connections closed by the watchdog for an expired token, %d for never authenticating",
		records.Load(), elapsed.Round(time.Millisecond), float64(records.Load())/elapsed.Seconds(), ckv.calls.Load(), ckv.failed.Load(),
		unenriched.Load(), newTokens, svc.authCmds.Load()-authBefore, svc.kills.Load(), svc.unauthKills.Load())
	assert.GreaterOrEqual(t, newTokens, int64(rotations), "the run spans at least %d rotations", rotations)
	assert.GreaterOrEqual(t, records.Load(), int64(800*duration/time.Second), "about 1,000 lookups/s (a shared machine may lag the ticker a little)")
	assert.Zero(t, consumeErrs.Load())
	assert.Zero(t, ckv.failed.Load(), "failed store calls; first: %s", firstErr)
	assert.Zero(t, unenriched.Load(), "un-enriched records")
	assert.Zero(t, svc.kills.Load(), "connections kept an expired token")
	assert.Zero(t, svc.unauthKills.Load())
	assert.Greater(t, svc.authCmds.Load()-authBefore, newTokens, "connections re-AUTH in place")
}

// TestWatchdogEnforces is the control for the emulator: a client that
// authenticates once and never again (what rediskv did before re-AUTH) is
// closed when its token expires, and its next commands fail.
func TestWatchdogEnforces(t *testing.T) {
	svc := newEntraRedis(t, 2*time.Second)
	tok, err := svc.Fetch(context.Background())
	require.NoError(t, err)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{svc.Addr()}, Username: svc.oid, Password: tok.Value,
		DisableCache: true, ForceSingleClient: true, DisableRetry: true})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Do(context.Background(), c.B().Ping().Build()).Error())
	require.Eventually(t, func() bool { return svc.kills.Load() > 0 }, 5*time.Second, 10*time.Millisecond)
	err = c.Do(context.Background(), c.B().Ping().Build()).Error()
	require.Error(t, err, "the connection was closed")
	// Reconnecting with the expired token fails: it was removed from the ACL.
	_, err = rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{svc.Addr()}, Username: svc.oid, Password: tok.Value,
		DisableCache: true, ForceSingleClient: true, DisableRetry: true})
	require.ErrorContains(t, err, "WRONGPASS")
}

// TestTokenProviderDownAtStart: rediskv starts while the provider has no
// token, reports a recoverable error naming the provider, and connects as soon
// as a token exists.
func TestTokenProviderDownAtStart(t *testing.T) {
	svc := newEntraRedis(t, time.Minute)
	svc.down.Store(true)
	prov := newEntraProvider(t, svc)
	host := kvcachetest.NewHost(map[component.ID]component.Component{providerID: prov})
	require.NoError(t, prov.Start(context.Background(), kvcachetest.NewHost(nil))) // its own status events
	t.Cleanup(func() { require.NoError(t, prov.Shutdown(context.Background())) })

	e := newTestExt(t, tokenAuthConfig(svc.Addr()))
	require.NoError(t, e.Start(context.Background(), host), "Start never waits for a token")
	ev := waitStatus(t, host, componentstatus.StatusRecoverableError, 5*time.Second)
	require.ErrorContains(t, ev.Err(), "no token from azureidentityauth/redis yet")
	require.ErrorContains(t, ev.Err(), "fake Entra ID is down")
	s := storeOf(t, e)
	_, err := s.Get(ctxT(t), []string{"k"})
	require.Error(t, err)

	svc.down.Store(false)
	waitStatus(t, host, componentstatus.StatusOK, 5*time.Second)
	res, err := s.Get(ctxT(t), []string{"k"})
	require.NoError(t, err)
	assert.False(t, res[0].Found)
	assert.Equal(t, int64(1), svc.issued.Load())
}
