# otelcol-custom: build, run and test the distribution.
# Every target installs what it needs (Go tools from the module proxy, redis-server from apt).
#
#   make run        build dist/otelcol-custom and run it on config/config.yaml (foreground)
#   make build      build dist/otelcol-custom with OCB (regenerates dist/ sources first)
#   make test       everything CI runs: lint, generate and dist checks, unit + integration tests (-race),
#                   every benchmark once, e2e tests against the real binary
#   make bench      benchmarks with -count, raw output in $(BENCH_OUT), benchstat table
#   make bench-e2e  the built collector under load (ours and a contrib peer), pinned to one CPU
#   make bench-e2e-pair  two rows at once, one CPU each (ratios the machine's swings do not tilt)
#   make lint       gofmt + go vet
#   make generate   go generate (mdatagen for every metadata.yaml), then OCB sources in dist/
#   make release    static binaries for every platform, archives, deb/rpm, SHA256SUMS in dist/release/
#   make image      the container image (podman, or docker) from dist/release/image
#   make package-test  (root) release build for linux/amd64+arm64, then checks the archives, .deb, .rpm, image

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# The steps of `make test` must run in order (check-dist before build, build before e2e).
.NOTPARALLEL:

GO    ?= go
# No VCS stamping: the version comes from builder-config.yaml, and stamping fails when git
# refuses the checkout (e.g. "dubious ownership" when CI runs as root on another user's clone).
export GOFLAGS ?= -buildvcs=false
GOBIN := $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)

# Tool versions: one collector release for everything (core v0.165.0 / contrib v0.161.0 telemetrygen).
OCB_VERSION          := v0.165.0
TELEMETRYGEN_VERSION := v0.161.0
BENCHSTAT_VERSION    := v0.0.0-20260908200009-22c9c6c9d4da

BUILDER      := $(GOBIN)/builder
TELEMETRYGEN := $(GOBIN)/telemetrygen
BENCHSTAT    := $(GOBIN)/benchstat

BINARY := dist/otelcol-custom
CONFIG ?= config/config.yaml

TEST_TIMEOUT ?= 15m
E2E_TIMEOUT  ?= 10m
# make bench BENCH=RoundTripper BENCH_PKGS=./extension/bearerauthext/... BENCH_COUNT=10
BENCH           ?= .
BENCH_PKGS      ?= ./...
# packages of the bench/ module (side-by-side peer benchmarks), relative to bench/
BENCH_PEER_PKGS ?= ./...
BENCH_COUNT     ?= 6
BENCH_OUT       ?= bench.out
BENCHSTAT_FLAGS ?=
# make bench-e2e E2E_ROUNDS=7 E2E_ROWS=plain,contrib (bench/cmd/benche2e -h lists the rows)
E2E_ROUNDS    ?= 5
E2E_DURATION  ?= 5s
E2E_WARMUP    ?= 2s
E2E_ROWS      ?= plain,bearerauth,bearerauth+kvcache,contrib,floor
E2E_FLAGS     ?=
# bench-e2e-pair: each pair runs both rows at once, one CPU each
E2E_PAIRS     ?= bearerauth+kvcache,contrib floor,contrib bearerauth+kvcache,floor
COLLECTOR_CPU ?= 0
LOAD_CPU      ?= 1
# build output of bench-e2e (the peer distribution, the driver), ignored by git and by ./...
E2E_DIR       := bench/_e2e
PEER_BINARY   := $(E2E_DIR)/peerdist/otelcol-peer

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# Go files we own (dist/ is OCB output, marked DO NOT EDIT, and not gofmt-clean).
FIND_GO_FILES := find . -name '*.go' -not -path './dist/*' -not -path './$(E2E_DIR)/*' -not -path './.git/*' -not -path './.dist-check.*' -print0

# $(call go-install,<binary>,<package>,<version>): install unless <binary> was built from <version>.
define go-install
	@if [[ "$$($(GO) version -m $(1) 2>/dev/null | awk '$$1 == "mod" {print $$3}')" != "$(3)" ]]; then \
		echo "installing $(2)@$(3)"; \
		$(GO) install $(2)@$(3); \
	fi
endef

# $(call timed,<label>,<command>): run a command and print how long it took (also when it fails).
define timed
	@start=$$(date +%s); status=0; $(2) || status=$$?; \
	echo "$(1) took $$(( $$(date +%s) - start ))s"; exit $$status
endef

.PHONY: help
help:
	@sed -n '/^#   make /,/^$$/p' $(firstword $(MAKEFILE_LIST)) | sed 's/^# *//'

## --- tools -------------------------------------------------------------------------------

.PHONY: install-builder install-telemetrygen install-benchstat install-redis install-taskset install-test-tools
install-builder:
	$(call go-install,$(BUILDER),go.opentelemetry.io/collector/cmd/builder,$(OCB_VERSION))

install-telemetrygen:
	$(call go-install,$(TELEMETRYGEN),github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen,$(TELEMETRYGEN_VERSION))

install-benchstat:
	$(call go-install,$(BENCHSTAT),golang.org/x/perf/cmd/benchstat,$(BENCHSTAT_VERSION))

# $(call apt-install,<command>:<package> ...): apt-get install the packages whose command is missing.
define apt-install
	@missing=; for t in $(1); do command -v $${t%%:*} >/dev/null || missing+=" $${t#*:}"; done; \
	if [[ -n "$$missing" ]]; then \
		echo "installing$$missing (apt)"; \
		$(SUDO) apt-get update -q; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

# The kvcache integration tests start their own redis-server on a random loopback port.
install-redis:
	$(call apt-install,redis-server:redis-server)

# bench-e2e pins the collector and the load generator to separate CPUs.
install-taskset:
	$(call apt-install,taskset:util-linux)

install-test-tools: install-builder install-telemetrygen install-redis

## --- build and run -----------------------------------------------------------------------

.PHONY: build run generate check-generate check-dist
build: install-builder
	$(call timed,build,$(BUILDER) --config builder-config.yaml)

run: build
	$(BINARY) --config $(CONFIG)

# Each metadata.yaml has a doc.go beside it with
# //go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml
generate: install-builder
	$(GO) generate ./...
	$(BUILDER) --config builder-config.yaml --skip-compilation

# Fails when the committed mdatagen output differs from what `go generate` makes now.
check-generate:
	GO=$(GO) ./scripts/check-generate.sh

# Fails when the committed dist/ sources differ from what OCB generates now.
check-dist: install-builder
	BUILDER=$(BUILDER) ./scripts/check-dist.sh

## --- checks ------------------------------------------------------------------------------

.PHONY: lint test unit bench-smoke e2e bench bench-e2e bench-e2e-pair bench-e2e-smoke e2e-tools
lint:
	@unformatted=$$($(FIND_GO_FILES) | xargs -0 gofmt -l); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./internal/e2e/...
	cd bench && $(GO) vet ./...

# check-dist runs before build: build regenerates dist/ and would hide stale sources.
test: install-test-tools lint check-generate check-dist build unit bench-smoke e2e bench-e2e-smoke
test: package-test

unit:
	$(call timed,unit tests,$(GO) test -race -timeout $(TEST_TIMEOUT) ./... \
		&& (cd bench && $(GO) test -race -timeout $(TEST_TIMEOUT) ./...))

# Both modules: the product's own benchmarks and the side-by-side peer benchmarks in bench/.
bench-smoke:
	$(call timed,benchmarks (1x),$(GO) test -run '^$$' -bench . -benchtime 1x -timeout $(TEST_TIMEOUT) ./... \
		&& (cd bench && $(GO) test -run '^$$' -bench . -benchtime 1x -timeout $(TEST_TIMEOUT) ./...))

e2e: build install-telemetrygen
	$(call timed,e2e tests,OTELCOL_CUSTOM_BINARY=$(CURDIR)/$(BINARY) TELEMETRYGEN=$(TELEMETRYGEN) \
		$(GO) test -race -tags e2e -count=1 -timeout $(E2E_TIMEOUT) -v ./internal/e2e/...)

bench: install-benchstat
	{ $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCH_COUNT) -timeout 60m $(BENCH_PKGS); \
	  cd bench && $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCH_COUNT) -timeout 60m $(BENCH_PEER_PKGS); } | tee $(BENCH_OUT)
	@echo; echo "raw output: $(BENCH_OUT)"; echo
	$(BENCHSTAT) $(BENCHSTAT_FLAGS) $(BENCH_OUT)

# The whole collector under load: rows interleaved (a b c d a b c d ...), medians, see
# docs/benchmarks.md. Not part of `make test` (minutes); bench-e2e-smoke is.
bench-e2e: build install-taskset e2e-tools
	$(call timed,bench-e2e,taskset -c $(LOAD_CPU) $(E2E_DIR)/benche2e -collector $(BINARY) -peer $(PEER_BINARY) \
		-collector-cpu $(COLLECTOR_CPU) -rows '$(E2E_ROWS)' -rounds $(E2E_ROUNDS) -duration $(E2E_DURATION) \
		-warmup $(E2E_WARMUP) $(E2E_FLAGS))

# Two rows at the same time, one collector per CPU, the CPUs swapped every other window: a slow
# moment of the machine falls on both sides of the ratio (see docs/benchmarks.md).
bench-e2e-pair: build install-taskset e2e-tools
	@for p in $(E2E_PAIRS); do \
	  $(E2E_DIR)/benche2e -collector $(BINARY) -peer $(PEER_BINARY) -pair $$p -rounds $(E2E_ROUNDS) \
	    -duration $(E2E_DURATION) -warmup $(E2E_WARMUP) $(E2E_FLAGS) || exit 1; \
	done

# The peer distribution (OCB, bench/peerdist/builder-config.yaml) and the benchmark driver.
e2e-tools: install-builder
	mkdir -p $(E2E_DIR)
	$(call timed,peer build,$(BUILDER) --config bench/peerdist/builder-config.yaml)
	cd bench && $(GO) build -o _e2e/benche2e ./cmd/benche2e

# Our rows' configs checked by `otelcol-custom validate`, then one short (2s) unpinned run of the
# row with the most parts (bearerauth + kvcache): the driver and its configs keep working. It fails
# on any refused export or when the generator's count and the collector's metric disagree.
# Measures nothing. (The peer rows are checked by every bench-e2e run, which builds the peer.)
bench-e2e-smoke: build
	cd bench && $(GO) build -o _e2e/benche2e ./cmd/benche2e
	$(E2E_DIR)/benche2e -collector $(BINARY) -rows plain,bearerauth,bearerauth+kvcache -validate-only
	$(call timed,bench-e2e smoke,$(E2E_DIR)/benche2e -collector $(BINARY) -rows bearerauth+kvcache -rounds 1 \
		-warmup 500ms -duration 2s)

## --- release: archives, deb/rpm, container image (packaging/, scripts/release.sh) -----------
# make release RELEASE_PLATFORMS="linux/amd64 windows/amd64"; make image IMAGE_PLATFORM=linux/arm64

NFPM_VERSION := v2.45.2
NFPM         := $(GOBIN)/nfpm

RELEASE_DIR       := dist/release
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64 darwin/arm64 windows/amd64
# make test builds the native packages and one cross-compiled binary, not every platform.
PACKAGE_TEST_PLATFORMS := $(sort linux/$(shell $(GO) env GOARCH) linux/arm64)
IMAGE          ?= otelcol-custom
IMAGE_PLATFORM ?= linux/$(shell $(GO) env GOARCH)
CONTAINER_TOOL ?= $(shell command -v podman || command -v docker || echo podman)
RELEASE_VERSION = $(shell awk '/^[^[:space:]\#]/ {d = ($$1 == "dist:")} d && $$1 == "version:" {print $$2; exit}' builder-config.yaml)

.PHONY: install-nfpm install-release-tools install-package-test-tools release image package-test
install-nfpm:
	$(call go-install,$(NFPM),github.com/goreleaser/nfpm/v2/cmd/nfpm,$(NFPM_VERSION))

# zip for the windows archive, file for the cross-compile check, ca-certificates for the image.
install-release-tools:
	$(call apt-install,zip:zip file:file)
	@[[ -s /etc/ssl/certs/ca-certificates.crt ]] || { \
		echo "installing ca-certificates (apt)"; \
		$(SUDO) apt-get update -q; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ca-certificates; \
	}

# rpm to inspect the .rpm, curl for the health check and metrics; podman for the image checks
# (skipped, saying so, if not installable).
install-package-test-tools: install-release-tools
	$(call apt-install,rpm:rpm curl:curl)
	@command -v podman >/dev/null || { \
		echo "installing podman (apt)"; \
		$(SUDO) apt-get update -q || true; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends podman \
			|| echo "podman is not installable: make package-test will skip the image checks"; \
	}

release: install-builder install-nfpm install-release-tools
	$(call timed,release,BUILDER=$(BUILDER) NFPM=$(NFPM) PLATFORMS="$(RELEASE_PLATFORMS)" OUT=$(RELEASE_DIR) ./scripts/release.sh)

# Builds from what `make release` staged (run it first); no registry is needed (FROM scratch).
image:
	@[[ -d $(RELEASE_DIR)/image/$(IMAGE_PLATFORM) ]] || { echo "no $(IMAGE_PLATFORM) binary in $(RELEASE_DIR)/image: run make release"; exit 1; }
	$(CONTAINER_TOOL) build -f packaging/Containerfile --platform $(IMAGE_PLATFORM) \
		--build-arg VERSION=$(RELEASE_VERSION) -t $(IMAGE):$(RELEASE_VERSION) $(RELEASE_DIR)/image

# Part of make test: release build for PACKAGE_TEST_PLATFORMS, then scripts/package-test.sh.
package-test: install-builder install-nfpm install-telemetrygen install-package-test-tools
	$(call timed,package tests,BUILDER=$(BUILDER) NFPM=$(NFPM) PLATFORMS="$(PACKAGE_TEST_PLATFORMS)" OUT=$(RELEASE_DIR) ./scripts/release.sh \
		&& OUT=$(RELEASE_DIR) TELEMETRYGEN=$(TELEMETRYGEN) CONTAINER_TOOL=podman ./scripts/package-test.sh)
