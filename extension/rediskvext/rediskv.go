package rediskvext // import "github.com/otelcol-custom/otelcol-custom/extension/rediskvext"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.uber.org/zap"

	"github.com/otelcol-custom/otelcol-custom/extension/bearertoken"
	"github.com/otelcol-custom/otelcol-custom/extension/kvcache"
	"github.com/otelcol-custom/otelcol-custom/extension/rediskvext/internal/metadata"
)

const (
	clientName = "otelcol-rediskv"

	connectInitialBackoff = 100 * time.Millisecond
	connectMaxBackoff     = 5 * time.Second
)

var errShutdown = errors.New("rediskv: extension is shut down")

// redisKV is the rediskv extension. It owns one rueidis client shared by all the
// stores it hands out, and the invalidation subscribers of those stores.
type redisKV struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	metrics   metricAttrs
	subs      subscribers

	client  atomic.Pointer[rueidis.Client]
	lastErr atomic.Pointer[error] // why there is no client (nil once connected)
	health  kvcache.Health
	closed  atomic.Bool

	mu      sync.Mutex // guards cancel and done
	cancel  context.CancelFunc
	done    chan struct{}
	tlsUsed bool

	clears *clearer   // nil without client_side_caching, or before Start
	auth   *tokenAuth // nil without auth::token_provider
}

var (
	_ extension.Extension = (*redisKV)(nil)
	_ kvcache.Provider    = (*redisKV)(nil)
)

func newRedisKV(cfg *Config, set extension.Settings) (*redisKV, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	e := &redisKV{cfg: cfg, logger: set.Logger, telemetry: tb, metrics: newMetricAttrs(),
		health: kvcache.Health{
			Logger:    set.Logger,
			Failing:   "Redis is unavailable; store calls fail until it is back",
			Recovered: "Redis calls succeed again",
		}}
	e.setLastErr(errors.New("rediskv: not started"))
	return e, nil
}

// Start connects to Redis. When Redis cannot be reached (or refuses the
// credentials) Start still succeeds: the extension reports a recoverable error,
// keeps trying in the background, and stores return errors until it connects.
// Only a configuration that cannot work (unreadable TLS files, an
// auth::token_provider that is not a bearer-token provider) fails Start; a
// provider without a token yet is waited for in the background.
func (e *redisKV) Start(ctx context.Context, host component.Host) error {
	e.health.Start(host)
	if id := e.cfg.Auth.TokenProvider; id != nil {
		p, err := bearertoken.GetProvider(host, *id)
		if err != nil {
			return fmt.Errorf("auth::token_provider: %w", err)
		}
		e.auth = newTokenAuth(*id, p, e.cfg.Auth.Username)
	}
	opt, err := e.clientOption(ctx)
	if err != nil {
		return err
	}
	if !e.tlsUsed && (e.cfg.Password != "" || e.cfg.Sentinel.Password != "" || e.auth != nil) {
		// Issue 9 case 9: AUTH sends the password as is.
		e.logger.Warn("A Redis password is configured without TLS: it crosses the network in plaintext, and so does every cached value; set tls (for example tls::ca_file) unless Redis runs on this host",
			zap.Strings("endpoints", e.cfg.Endpoints))
	}
	if e.cfg.ClientSideCaching {
		e.clears = startClearer(&e.subs)
	}
	wake := e.tokenChanged() // taken before the attempt, so a token published during it is not missed
	if e.connect(opt) {
		return nil
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	e.mu.Lock()
	e.cancel, e.done = cancel, done
	e.mu.Unlock()
	go e.connectLoop(loopCtx, opt, done, wake)
	return nil
}

// clientOption maps the configuration onto rueidis.
func (e *redisKV) clientOption(ctx context.Context) (rueidis.ClientOption, error) {
	cfg := e.cfg
	tlsCfg, err := cfg.TLS.LoadTLSConfig(ctx)
	if err != nil {
		return rueidis.ClientOption{}, fmt.Errorf("tls: %w", err)
	}
	e.tlsUsed = tlsCfg != nil
	opt := rueidis.ClientOption{
		InitAddress:       append([]string(nil), cfg.Endpoints...),
		Username:          cfg.Username,
		Password:          string(cfg.Password),
		ClientName:        clientName,
		SelectDB:          cfg.DB,
		TLSConfig:         tlsCfg,
		Dialer:            net.Dialer{Timeout: cfg.DialTimeout},
		BlockingPoolSize:  cfg.PoolSize,
		PipelineMultiplex: pipelineMultiplex(cfg.PipelineMultiplex),
		// Errors go straight back to the caller: the processor fails open and
		// backs off a failing store itself, so a read must not spend its whole
		// deadline in rueidis' retry loop. MOVED/ASK redirections are still
		// followed in cluster mode.
		DisableRetry:      true,
		ForceSingleClient: cfg.Mode == ModeStandalone,
		DisableCache:      !cfg.ClientSideCaching,
	}
	if e.auth != nil {
		// Called for every new connection and, on each connection, again at
		// the RefreshAfter it returns (re-AUTH in place; see tokenAuth).
		opt.Username, opt.Password = "", ""
		opt.AuthCredentialsFn = e.auth.credentials
	}
	if cfg.ClientSideCaching {
		// Broadcast tracking: Redis reports every change of a key under the prefix,
		// whether or not this connection read it. rueidis sends CLIENT TRACKING ON
		// with these options on every connection it opens and hands the "invalidate"
		// pushes to OnInvalidations. The read path never uses DoCache; rueidis'
		// own per-connection cache stays empty.
		//
		// NOLOOP: Redis does not report a change to the connection that made it.
		// Without it every SET a processor writes comes back as an invalidation of
		// the entry it just cached, so the next batch writes the key again (one SET
		// per active key per flush interval instead of one per TTL). The other
		// stores of this extension still hear of those writes: trackingStore
		// publishes them locally (see notifyOthers).
		opt.ClientTrackingOptions = []string{"BCAST", "NOLOOP"}
		if cfg.KeyPrefix != "" {
			opt.ClientTrackingOptions = append(opt.ClientTrackingOptions, "PREFIX", cfg.KeyPrefix)
		}
		opt.OnInvalidations = e.onInvalidations
	}
	if cfg.Mode == ModeSentinel {
		opt.Sentinel = rueidis.SentinelOption{
			MasterSet: cfg.Sentinel.MasterSet,
			Username:  cfg.Sentinel.Username,
			Password:  string(cfg.Sentinel.Password),
			TLSConfig: tlsCfg,
			Dialer:    net.Dialer{Timeout: cfg.DialTimeout},
		}
	}
	return opt, nil
}

// pipelineMultiplex maps pipeline_multiplex onto rueidis. rueidis reads 0 as
// "by GOMAXPROCS" (up to 4 connections) in standalone and sentinel mode and any
// negative value as one connection, in every mode; ours is literally 2^n, so 0
// becomes -1.
//
// One connection is the default because rueidis dials the connections of a
// node lazily: NewClient opens the first one only, and each other one is dialed
// by the first command that lands on it (commands pick one at random), bounded
// by dial_timeout. rueidis has no option to dial them all eagerly and no public
// way to address one of them, so they cannot be warmed reliably either, at
// Start or after a reconnect. With one connection, the one NewClient (or the
// first successful call after a reconnect) opened carries every command, and a
// stall makes calls wait up to read_timeout instead of failing at dial_timeout.
func pipelineMultiplex(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// connect makes one attempt to create the client. It reports the outcome as the
// component status and returns whether the client is ready.
func (e *redisKV) connect(opt rueidis.ClientOption) bool {
	c, err := rueidis.NewClient(opt)
	if err != nil {
		err = describeConnectError(err, e.cfg)
		e.setLastErr(err)
		e.health.Failed(err)
		return false
	}
	if e.cfg.Mode == ModeCluster {
		warmNodes(c, e.cfg.DialTimeout)
	}
	e.client.Store(&c)
	e.lastErr.Store(nil)
	e.health.OK()
	e.logger.Info("Connected to Redis", zap.String("mode", e.cfg.Mode), zap.Strings("endpoints", e.cfg.Endpoints),
		zap.Bool("tls", e.tlsUsed), zap.Bool("client_side_caching", e.cfg.ClientSideCaching))
	return true
}

// warmNodes opens the connection to every cluster node now instead of on the
// first command routed to it: with client_side_caching every master then sends
// invalidations from the start, and a call that reaches a node while it is
// stalled waits up to read_timeout on an open connection instead of failing at
// dial_timeout. rueidis sends PING (a command without a key) on a node's first
// pipelined connection, which is its only one unless pipeline_multiplex > 0.
func warmNodes(c rueidis.Client, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, n := range c.Nodes() {
		_ = n.Do(ctx, n.B().Ping().Build()).Error()
	}
}

// tokenChanged is the token provider's Changed channel (nil without one): a
// connect attempt that failed for want of a token is retried as soon as one
// is published instead of after the backoff.
func (e *redisKV) tokenChanged() <-chan struct{} {
	if e.auth == nil {
		return nil
	}
	return e.auth.provider.Changed()
}

func (e *redisKV) connectLoop(ctx context.Context, opt rueidis.ClientOption, done chan struct{}, wake <-chan struct{}) {
	defer close(done)
	backoff := connectInitialBackoff
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		case <-wake:
		}
		wake = e.tokenChanged()
		if e.connect(opt) {
			return // Shutdown waits for this goroutine, then closes the client.
		}
		backoff = min(2*backoff, connectMaxBackoff)
	}
}

// describeConnectError makes a connection error say what to check. rueidis'
// errors never contain the password, and neither does this.
func describeConnectError(err error, cfg *Config) error {
	msg := "rediskv: cannot connect to Redis (mode " + cfg.Mode + ")"
	if errors.Is(err, rueidis.ErrNoCache) {
		return fmt.Errorf("%s: client_side_caching needs Redis 6 or later with RESP3; upgrade Redis or set client_side_caching: false: %w", msg, err)
	}
	var re *rueidis.RedisError
	if errors.As(err, &re) && cfg.Auth.TokenProvider != nil {
		return fmt.Errorf("%s: the server refused the connection setup (check that the token's principal is a Redis user with an access policy, and that auth::username, if set, is its object ID): %w", msg, err)
	}
	if errors.As(err, &re) {
		return fmt.Errorf("%s: the server refused the connection setup (check username/password and the user's ACL permissions): %w", msg, err)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

func (e *redisKV) setLastErr(err error) { e.lastErr.Store(&err) }

// current returns the client, or an error saying why there is none.
func (e *redisKV) current() (rueidis.Client, error) {
	if c := e.client.Load(); c != nil {
		return *c, nil
	}
	if e.closed.Load() {
		return nil, errShutdown
	}
	if p := e.lastErr.Load(); p != nil {
		return nil, &notConnectedError{err: *p}
	}
	return nil, &notConnectedError{err: errors.New("connecting")}
}

type notConnectedError struct{ err error }

func (e *notConnectedError) Error() string {
	return "rediskv: not connected to Redis: " + e.err.Error()
}
func (e *notConnectedError) Unwrap() error { return e.err }

// Shutdown stops connecting, closes the client (waiting for calls in flight)
// and drops all invalidation subscribers.
func (e *redisKV) Shutdown(ctx context.Context) error {
	e.closed.Store(true)
	e.health.Shutdown()
	e.mu.Lock()
	cancel, done := e.cancel, e.done
	e.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	if c := e.client.Swap(nil); c != nil {
		(*c).Close()
	}
	var err error
	if e.clears != nil {
		err = e.clears.stop(ctx)
	}
	e.subs.clear()
	e.telemetry.Shutdown()
	return err
}

// Store returns a store over the shared client. All owners share one keyspace
// (key_prefix); the processor composes its own keys.
func (e *redisKV) Store(_ context.Context, _ component.ID) (kvcache.Store, error) {
	if e.closed.Load() {
		return nil, errShutdown
	}
	s := &store{ext: e, tracking: e.cfg.ClientSideCaching}
	if e.cfg.ClientSideCaching {
		return &trackingStore{store: s}, nil
	}
	return s, nil
}

// onInvalidations receives rueidis' "invalidate" pushes. nil means everything
// (FLUSHALL/FLUSHDB, or a tracking connection was lost and changes may have been
// missed). It runs on rueidis' reading goroutine, so it only strips the prefix
// and hands the keys on; "everything" goes to the clearer's goroutine, since a
// subscriber may clear a large cache on it.
func (e *redisKV) onInvalidations(msgs []rueidis.RedisMessage) {
	if e.closed.Load() {
		return
	}
	if msgs == nil {
		e.telemetry.RediskvInvalidations.Add(context.Background(), 1, e.metrics.scopeAll)
		if e.clears != nil {
			e.clears.request()
		}
		return
	}
	keys := make([]string, 0, len(msgs))
	prefix := e.cfg.KeyPrefix
	for i := range msgs {
		k, err := msgs[i].ToString()
		if err != nil || len(k) < len(prefix) || k[:len(prefix)] != prefix {
			continue
		}
		keys = append(keys, k[len(prefix):])
	}
	if len(keys) == 0 {
		return
	}
	e.telemetry.RediskvInvalidations.Add(context.Background(), int64(len(keys)), e.metrics.scopeKey)
	e.subs.publish(keys)
}
