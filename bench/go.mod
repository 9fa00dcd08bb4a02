module github.com/otelcol-custom/otelcol-custom/bench

go 1.26.0

require github.com/otelcol-custom/otelcol-custom v0.0.0

replace github.com/otelcol-custom/otelcol-custom => ../
