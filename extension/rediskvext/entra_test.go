package rediskvext

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/otelcol-custom/otelcol-custom/extension/bearertoken"
	"github.com/otelcol-custom/otelcol-custom/internal/fakeentra"
	"github.com/otelcol-custom/otelcol-custom/internal/redistest"
	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// entraRedis emulates Azure Cache for Redis with Entra ID authentication in
// front of a real redis-server:
//   - the ACL user is the `oid` of the tokens fakeentra issues; its passwords
//     follow the issued tokens (each is added when issued and removed once it
//     expires), so AUTH/HELLO with an expired or unknown token fails;
//   - a watchdog closes every connection whose last successful-looking AUTH
//     carried a token that has expired (the service does the same), and every
//     connection that has not authenticated within a second. It sees the AUTH
//     commands because clients reach redis-server through a TCP proxy that
//     parses the RESP requests (redis-server cannot tell which password a
//     connection used: CLIENT LIST and ACL LOG do not record it).
type entraRedis struct {
	t     testing.TB
	srv   *redistest.Server
	admin rueidis.Client
	entra *fakeentra.Server
	oid   string
	ln    net.Listener
	life  time.Duration // of each token

	mu     sync.Mutex
	tokens map[string]time.Time // issued token -> expiry (removed from the ACL after it)
	conns  map[*proxiedConn]struct{}

	issued, learned, authCmds, kills, unauthKills atomic.Int64
	down                                          atomic.Bool // the token endpoint fails
	wg                                            sync.WaitGroup
	stop                                          chan struct{}
}

type proxiedConn struct {
	client, server net.Conn
	opened         time.Time
	expiry         atomic.Int64 // unix nanos of the expiry of the token it authenticated with; 0: none
}

const (
	adminUser, adminPassword = "admin", "admin-password-for-tests"
	entraTenant, entraApp    = "aaaaaaaa-0000-4000-8000-00000000000a", "c11e0000-0000-4000-8000-0000000000c1"
)

func newEntraRedis(t testing.TB, lifetime time.Duration) *entraRedis {
	t.Helper()
	srv := redistest.Start(t, redistest.WithPassword(adminUser, adminPassword))
	admin, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, Username: adminUser, Password: adminPassword, DisableCache: true, ForceSingleClient: true})
	require.NoError(t, err)
	entra, err := fakeentra.New()
	require.NoError(t, err)
	entra.SetTokenLifetime(lifetime)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &entraRedis{t: t, srv: srv, admin: admin, entra: entra, ln: ln, life: lifetime, oid: fakeentra.ObjectID(entraTenant, entraApp),
		tokens: map[string]time.Time{}, conns: map[*proxiedConn]struct{}{}, stop: make(chan struct{})}
	s.wg.Add(2)
	go s.accept()
	go s.watchdog()
	t.Cleanup(s.close)
	return s
}

func (s *entraRedis) close() {
	close(s.stop)
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.client.Close()
		_ = c.server.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.admin.Close()
	s.entra.Close()
}

// Addr is where clients connect (the proxy).
func (s *entraRedis) Addr() string { return s.ln.Addr().String() }

// Fetch is the fake managed identity: it issues a token for the Redis
// audience and, as the service learns of it, adds it to the ACL user.
func (s *entraRedis) Fetch(ctx context.Context) (tokencache.Token, error) {
	if s.down.Load() {
		return tokencache.Token{}, errors.New("fake Entra ID is down")
	}
	expiry := time.Now().Add(s.life)
	tok, err := s.entra.IssueToken(fakeentra.TokenClaims{Tenant: entraTenant, AppID: entraApp, Audience: "https://redis.azure.com", Expiry: expiry})
	if err != nil {
		return tokencache.Token{}, err
	}
	if err := s.admin.Do(ctx, s.admin.B().AclSetuser().Username(s.oid).Rule("on", ">"+tok, "~*", "&*", "+@all").Build()).Error(); err != nil {
		return tokencache.Token{}, fmt.Errorf("ACL SETUSER: %w", err)
	}
	s.mu.Lock()
	s.tokens[tok] = time.Unix(expiry.Unix(), 0) // the service enforces the exp claim (whole seconds)
	s.mu.Unlock()
	s.issued.Add(1)
	return tokencache.Token{Value: tok, Expiry: expiry}, nil
}

func (s *entraRedis) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", s.srv.Addr())
		if err != nil {
			_ = c.Close()
			continue
		}
		pc := &proxiedConn{client: c, server: up, opened: time.Now()}
		s.mu.Lock()
		s.conns[pc] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(2)
		go func() { defer s.wg.Done(); _, _ = io.Copy(c, up); _ = c.Close() }()
		go func() { defer s.wg.Done(); s.forward(pc) }()
	}
}

// forward parses the client's RESP requests (arrays of bulk strings, all
// rueidis sends) and passes them on, noting the token of AUTH and HELLO AUTH.
func (s *entraRedis) forward(pc *proxiedConn) {
	defer func() {
		_ = pc.server.Close()
		_ = pc.client.Close()
		s.mu.Lock()
		delete(s.conns, pc)
		s.mu.Unlock()
	}()
	r := bufio.NewReader(pc.client)
	for {
		raw, args, err := readCommand(r)
		if err != nil {
			return
		}
		if tok, ok := authToken(args); ok {
			s.authCmds.Add(1)
			s.mu.Lock()
			exp, known := s.tokens[tok]
			s.mu.Unlock()
			if !known {
				exp, known = s.learn(tok)
			}
			if known && time.Now().Before(exp) {
				pc.expiry.Store(exp.UnixNano())
			}
		}
		if _, err := pc.server.Write(raw); err != nil {
			return
		}
	}
}

// learn is the service validating an Entra ID token it has not seen (one the
// real azureidentityauth fetched from fakeentra's token endpoint): signature
// against fakeentra's keys, audience, expiry and oid; a valid one becomes a
// password of the oid's ACL user before the AUTH reaches redis-server.
func (s *entraRedis) learn(raw string) (time.Time, bool) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(tok.Headers) != 1 {
		return time.Time{}, false
	}
	jwks := s.entra.JWKS()
	keys := jwks.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		return time.Time{}, false
	}
	var claims jwt.Claims
	var extra struct {
		OID string `json:"oid"`
	}
	if tok.Claims(keys[0].Key, &claims, &extra) != nil || extra.OID != s.oid || claims.Expiry == nil ||
		claims.ValidateWithLeeway(jwt.Expected{AnyAudience: jwt.Audience{"https://redis.azure.com"}, Time: time.Now()}, 0) != nil {
		return time.Time{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.admin.Do(ctx, s.admin.B().AclSetuser().Username(s.oid).Rule("on", ">"+raw, "~*", "&*", "+@all").Build()).Error() != nil {
		return time.Time{}, false
	}
	exp := claims.Expiry.Time()
	s.mu.Lock()
	s.tokens[raw] = exp
	s.mu.Unlock()
	s.learned.Add(1)
	return exp, true
}

func authToken(args []string) (string, bool) {
	switch {
	case len(args) == 3 && strings.EqualFold(args[0], "AUTH"):
		return args[2], true
	case len(args) >= 5 && strings.EqualFold(args[0], "HELLO") && strings.EqualFold(args[2], "AUTH"):
		return args[4], true
	}
	return "", false
}

func readCommand(r *bufio.Reader) (raw []byte, args []string, err error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, nil, fmt.Errorf("not a RESP array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, nil, err
	}
	raw = append(raw, line...)
	for range n {
		hdr, err := r.ReadString('\n')
		if err != nil {
			return nil, nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(hdr, "$")))
		if err != nil {
			return nil, nil, err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, nil, err
		}
		raw = append(append(raw, hdr...), buf...)
		args = append(args, string(buf[:size]))
	}
	return raw, args, nil
}

// watchdog enforces token expiry on connections and removes expired tokens
// from the ACL user.
func (s *entraRedis) watchdog() {
	defer s.wg.Done()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		var expired []string
		s.mu.Lock()
		for tok, exp := range s.tokens {
			if !now.Before(exp) {
				expired = append(expired, tok)
				delete(s.tokens, tok)
			}
		}
		for pc := range s.conns {
			exp := pc.expiry.Load()
			switch {
			case exp != 0 && now.UnixNano() >= exp:
				s.kills.Add(1)
			case exp == 0 && now.Sub(pc.opened) > time.Second:
				s.unauthKills.Add(1)
			default:
				continue
			}
			_ = pc.client.Close()
			_ = pc.server.Close()
			delete(s.conns, pc)
		}
		s.mu.Unlock()
		for _, tok := range expired {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.admin.Do(ctx, s.admin.B().AclSetuser().Username(s.oid).Rule("<"+tok).Build()).Error()
			cancel()
		}
	}
}

// entraProvider is an azureidentityauth-like extension over the fake: a real
// tokencache Refresher whose Source is the fake managed identity.
type entraProvider struct {
	r *tokencache.Refresher
}

func newEntraProvider(t testing.TB, s *entraRedis) *entraProvider {
	cfg := tokencache.NewDefaultConfig()
	cfg.InitialBackoff, cfg.MaxBackoff = 50*time.Millisecond, 200*time.Millisecond
	r, err := tokencache.New(tokencache.SourceFunc(s.Fetch), cfg, tokencache.Settings{
		ID: component.MustNewIDWithName("azureidentityauth", "redis"), Telemetry: componenttest.NewNopTelemetrySettings(),
		Kind: "managed_identity", Scheme: "Bearer",
	})
	require.NoError(t, err)
	return &entraProvider{r: r}
}

func (p *entraProvider) Start(ctx context.Context, host component.Host) error {
	return p.r.Start(ctx, host)
}
func (p *entraProvider) Shutdown(ctx context.Context) error { return p.r.Shutdown(ctx) }
func (p *entraProvider) TokenProvider() (bearertoken.Provider, error) {
	return p.r.Handle().Provider(), nil
}
