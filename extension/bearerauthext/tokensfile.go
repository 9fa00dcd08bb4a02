package bearerauthext // import "github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-custom/otelcol-custom/extension/bearerauthext/internal/metadata"
	"github.com/otelcol-custom/otelcol-custom/internal/filewatch"
)

// maxTokensFileSize bounds a tokens_file read (10,000 JWT-sized tokens fit).
const maxTokensFileSize = 32 << 20

var (
	reloadSuccess = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "success")))
	reloadFailure = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "failure")))
)

// parseTokensFile reads "token" (unnamed) or "name:token" lines. Blank lines
// and lines starting with '#' are skipped; surrounding whitespace is trimmed.
// Errors cite line numbers ("tokens_file line 7", also each token's origin
// label), never content.
func parseTokensFile(content []byte, scheme string) ([]namedToken, error) {
	var (
		out  []namedToken
		errs []error
	)
	for i, line := range bytes.Split(content, []byte{'\n'}) {
		n := i + 1
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		origin := "tokens_file line " + strconv.Itoa(n)
		name, tok := "", line
		if k := bytes.IndexByte(line, ':'); k >= 0 {
			name = string(bytes.TrimSpace(line[:k]))
			tok = bytes.TrimSpace(line[k+1:])
			if name == "" {
				errs = append(errs, fmt.Errorf("%s: empty name before ':'", origin))
				continue
			}
			if err := checkName(name); err != nil {
				errs = append(errs, fmt.Errorf("%s: name %w", origin, err))
				continue
			}
		}
		if err := checkServerToken(string(tok), scheme); err != nil {
			errs = append(errs, fmt.Errorf("%s: token %w", origin, err))
			continue
		}
		out = append(out, namedToken{name: name, token: string(tok), origin: origin})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, errors.New("tokens_file has no tokens (an empty file is treated as a failed write)")
	}
	return out, nil
}

// serverSide owns the accepted token set: the static tokens from the config
// plus tokens_file, reloaded on change.
type serverSide struct {
	auth     *authenticator
	static   []namedToken
	path     string
	interval time.Duration
	delay    time.Duration
	scheme   string
	logger   *zap.Logger
	tb       *metadata.TelemetryBuilder

	watcher    *filewatch.Watcher
	host       component.Host
	lastSum    [sha256.Size]byte // content in force
	lastBadSum [sha256.Size]byte // content whose failure was reported
	failing    bool              // a reload failed and no success was reported since

	stopCh chan struct{}
	wg     sync.WaitGroup
}

func newServerSide(cfg *Config, logger *zap.Logger, tb *metadata.TelemetryBuilder) (*serverSide, error) {
	static, err := buildConfigTokens(cfg.Tokens, cfg.Scheme)
	if err != nil {
		return nil, err
	}
	s := &serverSide{
		auth:     newAuthenticator(cfg.Header, cfg.Scheme, tb),
		static:   static,
		path:     cfg.TokensFile,
		interval: cfg.TokensFileReloadInterval,
		delay:    cfg.TokensFileReloadDelay,
		scheme:   cfg.Scheme,
		logger:   logger,
		tb:       tb,
		stopCh:   make(chan struct{}),
	}
	if s.path == "" {
		set, err := newTokenSet(static)
		if err != nil {
			return nil, err
		}
		s.publish(set)
	}
	return s, nil
}

// start loads tokens_file (failing start if it cannot be loaded: a server
// that cannot read its token list is misconfigured) and starts watching it.
func (s *serverSide) start(host component.Host) error {
	if s.path == "" {
		return nil
	}
	s.host = host
	// Watch before the first read so no change in between is missed. The
	// watcher signals after tokens_file_reload_delay of quiet, so a file written
	// in place in several steps is read once, complete, and also every
	// tokens_file_reload_interval (held back the same way while the file is
	// changing), for file systems without change notification.
	s.watcher = filewatch.New(s.path, s.logger, filewatch.Options{Delay: s.delay, Interval: s.interval})
	startWatcher(s.watcher, s.path, s.logger)
	content, err := filewatch.ReadBounded(s.path, maxTokensFileSize)
	if err == nil {
		err = s.load(content)
	}
	if err != nil {
		s.watcher.Stop()
		return fmt.Errorf("tokens_file: %w", err)
	}
	s.wg.Add(1)
	go s.loop()
	return nil
}

// loop reloads on the watcher's signals: changes (debounced by
// tokens_file_reload_delay) and the periodic re-read.
func (s *serverSide) loop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stopCh:
			return
		case <-s.watcher.C():
		}
		content, sum, err := s.read()
		s.apply(content, sum, err)
	}
}

// read re-reads tokens_file, re-establishing a missing watch first.
func (s *serverSide) read() ([]byte, [sha256.Size]byte, error) {
	_ = s.watcher.Sync() // failure leaves the periodic re-read
	content, err := filewatch.ReadBounded(s.path, maxTokensFileSize)
	if err != nil {
		return nil, [sha256.Size]byte{}, err
	}
	return content, sha256.Sum256(content), nil
}

// apply loads what read returned; on failure the previous set stays in force.
func (s *serverSide) apply(content []byte, sum [sha256.Size]byte, err error) {
	if err == nil {
		switch sum {
		case s.lastSum: // unchanged, or back to what is in force
			s.recovered()
			return
		case s.lastBadSum: // this bad content was already reported
			return
		default:
			if err = s.load(content); err != nil {
				s.lastBadSum = sum
			}
		}
	}
	ctx := context.Background()
	if err != nil {
		s.tb.BearerauthServerTokensFileReloads.Add(ctx, 1, reloadFailure)
		s.logger.Warn("reloading tokens_file failed; keeping the previous tokens",
			zap.String("tokens_file", s.path), zap.Error(err))
		s.failing = true
		componentstatus.ReportStatus(s.host, componentstatus.NewRecoverableErrorEvent(fmt.Errorf("tokens_file: %w", err)))
		return
	}
	s.tb.BearerauthServerTokensFileReloads.Add(ctx, 1, reloadSuccess)
	s.logger.Info("reloaded tokens_file", zap.String("tokens_file", s.path), zap.Int("tokens", s.auth.set.Load().size))
	s.recovered()
}

// recovered reports StatusOK once after a failed reload.
func (s *serverSide) recovered() {
	if s.failing {
		s.failing = false
		s.lastBadSum = [sha256.Size]byte{}
		componentstatus.ReportStatus(s.host, componentstatus.NewEvent(componentstatus.StatusOK))
	}
}

// load parses content, merges it with the static tokens and publishes the set.
func (s *serverSide) load(content []byte) error {
	fromFile, err := parseTokensFile(content, s.scheme)
	if err != nil {
		return err
	}
	all := make([]namedToken, 0, len(s.static)+len(fromFile))
	all = append(append(all, s.static...), fromFile...)
	set, err := newTokenSet(all)
	if err != nil {
		return err
	}
	s.lastSum = sha256.Sum256(content)
	s.publish(set)
	return nil
}

func (s *serverSide) publish(set *tokenSet) {
	s.auth.set.Store(set)
	s.tb.BearerauthServerTokens.Record(context.Background(), int64(set.size))
}

func (s *serverSide) shutdown() {
	select {
	case <-s.stopCh:
	default:
		close(s.stopCh)
	}
	s.wg.Wait()
	if s.watcher != nil {
		s.watcher.Stop()
	}
}
