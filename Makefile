# spot-handler — the two commands a new machine needs are `make demo` and `make test`.
# Everything else they need is built from pinned Go modules into the tool cache:
#   $(TOOLS_CACHE)/bin/<tool>-<version>   (see hack/tools.sh)

GO          ?= go
TOOLS_CACHE ?= $(or $(SPOT_HANDLER_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/spot-handler)
export SPOT_HANDLER_CACHE := $(TOOLS_CACHE)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
PKG     := github.com/spot-handler/spot-handler
LDFLAGS := -s -w -X $(PKG)/internal/version.Version=$(VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT)

# Test timeout covers the slowest real-plane package on a busy 2-core machine.
TEST_TIMEOUT ?= 40m
TEST_FLAGS   ?=

.PHONY: all build image-binary test test-unit bench lint tools demo demo-queue soak clean help

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s '	'

build: ## build bin/spot-handler
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/spot-handler ./cmd/spot-handler

image-binary: ## build exactly what the Dockerfile builds (static, trimmed, linux), into bin/image/
	CGO_ENABLED=0 GOOS=$${TARGETOS:-linux} GOARCH=$${TARGETARCH:-$$($(GO) env GOARCH)} \
		$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/image/spot-handler ./cmd/spot-handler

tools: ## build the real test peers (etcd, kube-apiserver, controller-manager, scheduler, kwok, AEMM, helm) into the cache
	@hack/tools.sh

test: tools ## run every test: units, fuzz seeds, and the real control plane / AEMM suites
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...

test-unit: ## only the tests that need no peer
	$(GO) test -count=1 -short ./...

# make soak: waves of random interruptions on one real plane (see test/soak).
# SEED=n replays a run (default: a new seed, printed); MINUTES=n runs waves
# for that long (default 10), WAVES=n that many instead; NODES=n per wave
# (default 6); ONLY=wave:node runs just that scenario, as a failure's
# replay line prints it. `make test` runs the CI slice (fixed seed, 3 waves).
SEED    ?=
MINUTES ?=
WAVES   ?=
NODES   ?=
ONLY    ?=
soak: tools ## random interruptions, faults, restarts, both modes: 0 pods left, 0 crashes (SEED= MINUTES= WAVES= NODES= ONLY=w:n)
	SOAK_SEED=$(SEED) SOAK_RANDOM=$(if $(SEED),,1) SOAK_MINUTES=$(if $(MINUTES)$(WAVES)$(ONLY),$(MINUTES),10) \
	SOAK_WAVES=$(WAVES) SOAK_NODES=$(NODES) SOAK_ONLY=$(ONLY) \
		$(GO) test -count=1 -run 'TestSoak$$' -v -timeout $$(( $(or $(MINUTES),10) + $(or $(WAVES),0) * 4 + 30 ))m ./test/soak

# A benchmark that fails fails make bench too (not only grep and tee after it).
bench: SHELL := /bin/bash
bench: .SHELLFLAGS := -o pipefail -c
bench: tools ## print the performance table (real plane, AEMM, agent binary; the controller at 1000 and 5000 nodes, in a 100- and a BENCH_STORM_NODES=500-node storm and on a busy API server without and with the chart's flow control; BENCH_AGENTS=200 agents at once); about 75 minutes on 2 cores
	$(GO) test -run '^$$' -bench 'PollCycle|LoadAndRankRegion' -benchmem ./pkg/imds ./pkg/advisor | tee bench.out
	$(GO) test -p 1 -run '^$$' -bench . -benchtime 1x -timeout 120m ./internal/testenv ./pkg/imds ./pkg/drain ./internal/lifecycle ./internal/controller ./test/bench ./test/controller | grep -v PollCycle | tee -a bench.out
	$(GO) run ./test/benchtable < bench.out | tee bench.md

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	@hack/tools.sh staticcheck && $(TOOLS_CACHE)/bin/staticcheck-v0.7.0 ./...

demo: tools build ## rehearse a Spot interruption on a local control plane with kwok nodes
	$(GO) run ./test/demo

demo-queue: tools build ## queue mode: the controller drains two nodes on a Spot warning and an ASG scale-in from SQS (moto)
	$(GO) run ./test/demo --queue

clean: ## remove build output (the tool cache stays; rm -rf $(TOOLS_CACHE) to drop it)
	rm -rf bin bench.out bench.md
