package bearerauthext // import "github.com/otelcol-custom/otelcol-custom/extension/bearerauthext"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/otelcol-custom/otelcol-custom/internal/tokencache"
)

// clientSide is the client half: a Source (static token or watched file)
// behind the shared refresher. Requests only read the refresher's Handle.
type clientSide struct {
	file      *fileSource // nil for a static token
	refresher *tokencache.Refresher
}

func newClientSide(cfg *Config, set extension.Settings) (*clientSide, error) {
	c := &clientSide{}
	var (
		src  tokencache.Source
		kind string
	)
	if cfg.TokenFile != "" {
		c.file = newFileSource(cfg.TokenFile, set.Logger)
		src, kind = c.file, "file"
	} else {
		src, kind = staticSource(string(cfg.Token)), "static"
	}
	r, err := tokencache.New(src, cfg.Refresh, tokencache.Settings{
		ID:        set.ID,
		Telemetry: set.TelemetrySettings,
		Kind:      kind,
		Header:    cfg.Header,
		Scheme:    cfg.Scheme,
	})
	if err != nil {
		return nil, err
	}
	c.refresher = r
	return c, nil
}

func (c *clientSide) handle() *tokencache.Handle { return c.refresher.Handle() }

// start watches the file (if any) before the refresher's first fetch, so no
// change between the two is missed.
func (c *clientSide) start(ctx context.Context, host component.Host) error {
	if c.file != nil {
		c.file.start()
	}
	return c.refresher.Start(ctx, host)
}

func (c *clientSide) shutdown(ctx context.Context) error {
	err := c.refresher.Shutdown(ctx)
	if c.file != nil {
		c.file.stop()
	}
	return err
}
