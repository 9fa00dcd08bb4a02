package tokencache // import "github.com/otelcol-custom/otelcol-custom/internal/tokencache"

//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml
