package rediskvext // import "github.com/otelcol-custom/otelcol-custom/extension/rediskvext"

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/redis/rueidis"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configtls"
)

// Modes of Config.Mode.
const (
	ModeStandalone = "standalone"
	ModeCluster    = "cluster"
	ModeSentinel   = "sentinel"
)

// Config configures the rediskv extension.
type Config struct {
	// Endpoints are host:port addresses. standalone: exactly one server.
	// cluster: one or more seed nodes (the topology is discovered from them).
	// sentinel: the sentinels (not the master).
	Endpoints []string `mapstructure:"endpoints"`

	// Mode is standalone (default), cluster or sentinel.
	Mode string `mapstructure:"mode"`

	// Sentinel holds the sentinel-only settings (mode: sentinel).
	Sentinel SentinelConfig `mapstructure:"sentinel"`

	// Username is the ACL user (Redis 6+). Empty with a password means the
	// default user (AUTH <password>).
	Username string `mapstructure:"username"`

	// Password of Username (or of the default user). Never logged.
	Password configopaque.String `mapstructure:"password"`

	// Auth authenticates with a bearer token from an auth extension (Azure
	// Cache for Redis with Entra ID) instead of username and password.
	Auth TokenAuthConfig `mapstructure:"auth"`

	// DB is the logical database (SELECT). Redis Cluster only has database 0.
	DB int `mapstructure:"db"`

	// TLS configures transport security. Plain TCP unless tls::insecure is false
	// (for example with tls::ca_file set).
	TLS configtls.ClientConfig `mapstructure:"tls"`

	// KeyPrefix is prepended to every key in Redis and is the prefix client
	// tracking watches: with it empty, every write to the database invalidates
	// in every collector.
	KeyPrefix string `mapstructure:"key_prefix"`

	// DialTimeout bounds connecting and the connection handshake (HELLO, AUTH,
	// CLIENT TRACKING, SELECT).
	DialTimeout time.Duration `mapstructure:"dial_timeout"`

	// ReadTimeout bounds one Get call when the caller's context has no earlier
	// deadline.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`

	// WriteTimeout bounds one Set or Delete call when the caller's context has no
	// earlier deadline.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`

	// PoolSize is rueidis' BlockingPoolSize: dedicated connections per node,
	// used only for pipelines of 2000+ commands. 0 means rueidis' default (1024).
	PoolSize int `mapstructure:"pool_size"`

	// PipelineMultiplex sets 2^n auto-pipelined connections per node (rueidis'
	// PipelineMultiplex). Default 0: one, opened at connect (docs/design.md,
	// "Configuration", says how n > 0 behaves while Redis stalls).
	PipelineMultiplex int `mapstructure:"pipeline_multiplex"`

	// ClientSideCaching turns on RESP3 client tracking (broadcast mode, for
	// KeyPrefix): keys changed in Redis reach the store's kvcache.Invalidator
	// subscribers within milliseconds. Needs Redis 6+. Default true.
	ClientSideCaching bool `mapstructure:"client_side_caching"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// TokenAuthConfig is the `auth` block: AUTH <username> <token>, with the
// token from a bearer-token provider (extension/bearertoken) and every
// connection re-authenticated before its token expires.
type TokenAuthConfig struct {
	// TokenProvider is the ID of the extension whose token is the AUTH
	// password (azureidentityauth, bearerauth, oauth2clientauth).
	TokenProvider *component.ID `mapstructure:"token_provider"`
	// Username is the ACL user. Empty means the token's `oid` claim (the
	// object ID Azure Cache for Redis names Entra ID users by).
	Username string `mapstructure:"username"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// SentinelConfig holds the settings used only in sentinel mode.
type SentinelConfig struct {
	// MasterSet is the name of the master set the sentinels monitor. Required
	// in sentinel mode.
	MasterSet string `mapstructure:"master_set"`

	// Username and Password authenticate to the sentinels themselves (the data
	// nodes use the top-level username and password).
	Username string              `mapstructure:"username"`
	Password configopaque.String `mapstructure:"password"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate checks the configuration. Errors name the offending key and never
// contain a secret. The tls block is validated by its own Validate.
func (cfg *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	switch cfg.Mode {
	case ModeStandalone:
		if len(cfg.Endpoints) != 1 {
			add("endpoints: standalone mode takes exactly one endpoint, got %d", len(cfg.Endpoints))
		}
	case ModeCluster, ModeSentinel:
		if len(cfg.Endpoints) == 0 {
			add("endpoints: %s mode needs at least one endpoint", cfg.Mode)
		}
	default:
		add("mode: %q is not one of standalone, cluster, sentinel", cfg.Mode)
	}
	for i, ep := range cfg.Endpoints {
		if err := checkEndpoint(ep); err != nil {
			add("endpoints[%d]: %w", i, err)
		}
	}
	if cfg.Mode == ModeSentinel && cfg.Sentinel.MasterSet == "" {
		add("sentinel::master_set: required in sentinel mode")
	}
	if cfg.Mode != ModeSentinel && (cfg.Sentinel.MasterSet != "" || cfg.Sentinel.Username != "" || cfg.Sentinel.Password != "") {
		add("sentinel: only used in sentinel mode (mode is %q)", cfg.Mode)
	}
	if cfg.DB < 0 {
		add("db: must not be negative")
	}
	if cfg.DB != 0 && cfg.Mode == ModeCluster {
		add("db: Redis Cluster only has database 0")
	}
	if cfg.DialTimeout <= 0 {
		add("dial_timeout: must be positive")
	}
	if cfg.ReadTimeout <= 0 {
		add("read_timeout: must be positive")
	}
	if cfg.WriteTimeout <= 0 {
		add("write_timeout: must be positive")
	}
	if cfg.PoolSize < 0 {
		add("pool_size: must not be negative")
	}
	if cfg.PipelineMultiplex < 0 || cfg.PipelineMultiplex > rueidis.MaxPipelineMultiplex {
		add("pipeline_multiplex: must be between 0 and %d", rueidis.MaxPipelineMultiplex)
	}
	if cfg.Auth.TokenProvider == nil {
		if cfg.Auth.Username != "" {
			add("auth::username: needs auth::token_provider (for a password user, set username and password instead)")
		}
	} else {
		if cfg.Password != "" {
			add("auth::token_provider and password are exclusive: the token is the AUTH password; remove password")
		}
		if cfg.Username != "" {
			add("auth::token_provider and username are exclusive: set auth::username (or leave it empty to use the token's oid claim)")
		}
	}
	return errors.Join(errs...)
}

func checkEndpoint(ep string) error {
	host, port, err := net.SplitHostPort(ep)
	if err != nil {
		return fmt.Errorf("%q is not host:port", ep)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", ep)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q has no valid port (1-65535)", ep)
	}
	return nil
}
