package enrichfloor // import "github.com/otelcol-custom/otelcol-custom/bench/enrichfloor"

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
)

// Type is the processor's component type.
var Type = component.MustNewType("enrichfloor")

// Config of the enrichfloor processor.
type Config struct {
	// Key is the span attribute holding the key.
	Key string `mapstructure:"key"`
	// Prefix goes before every attribute name.
	Prefix string `mapstructure:"prefix"`
	// File is a JSON object of objects: key -> attributes (memkv's file form).
	File string `mapstructure:"file"`
}

// Validate checks that key and file are set.
func (c *Config) Validate() error {
	var errs []error
	if c.Key == "" {
		errs = append(errs, errors.New("key: must be set"))
	}
	if c.File == "" {
		errs = append(errs, errors.New("file: must be set"))
	}
	return errors.Join(errs...)
}

// NewFactory returns the factory of the enrichfloor processor (traces only).
func NewFactory() processor.Factory {
	return processor.NewFactory(Type, func() component.Config { return &Config{} },
		processor.WithTraces(createTraces, component.StabilityLevelDevelopment))
}

func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	c := cfg.(*Config)
	data, err := os.ReadFile(c.File)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	f, err := NewFromJSON(c.Key, c.Prefix, data)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", c.File, err)
	}
	return processorhelper.NewTraces(ctx, set, cfg, next,
		func(_ context.Context, td ptrace.Traces) (ptrace.Traces, error) {
			f.Traces(td)
			return td, nil
		},
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}))
}
