# creditd developer entry points; `make` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO ?= go
BIN := .bin
# Written by postgres-image: the image tests and the dev database use.
PG_IMAGE_FILE := $(BIN)/postgres-image
INTEGRATION_PKGS ?= ./test/...
# Written by browser: the Chromium the browser tests drive.
BROWSER_FILE := $(BIN)/chromium
INTEGRATION_ENV = POSTGRES_IMAGE="$$(cat $(PG_IMAGE_FILE))" CREDITD_BROWSER="$$(cat $(BROWSER_FILE))"
# Tests save what they want kept (the browser tests' screenshots) here.
ARTIFACTS = -artifacts -outputdir $(CURDIR)/$(BIN)/test-artifacts
# The dev PostgreSQL of make run (names as test/postgres/server.sh reads them).
DEV_PG_CONTAINER := $(or $(CREDITD_PG_NAME),creditd-dev-postgres)
DEV_PG_VOLUME := $(or $(CREDITD_PG_VOLUME),creditd-dev-postgres-data)
# What creditd --version and /healthz report; when git cannot tell, creditd
# falls back to the revision Go recorded in the binary, else "devel".
VERSION ?= $(shell git describe --always --dirty 2>/dev/null)
LDFLAGS := -X github.com/creditd/creditd/cmd/creditd/app.version=$(VERSION)

.PHONY: help build run stop test browser test-unit test-integration lint fmt tidy migrate-new postgres-image clean bench bench-quick build-bench

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN { FS = ":.*## " } { printf "  %-18s %s\n", $$1, $$2 }'

build: ## Build .bin/creditd, .bin/portone-sandbox and .bin/demo-shop
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/creditd ./cmd/creditd
	$(GO) build -o $(BIN)/portone-sandbox ./cmd/portone-sandbox
	$(GO) build -o $(BIN)/demo-shop ./cmd/demo-shop

run: build postgres-image ## The product on this machine: PostgreSQL, creditd, the PortOne sandbox and the demo shop; prints the URL to open; Ctrl-C stops all
	@bash test/local/run.sh

stop: ## Stop the dev PostgreSQL container of make run (keeps its data volume; make run starts it again)
	@if [ "$$(docker container inspect -f '{{.State.Running}}' $(DEV_PG_CONTAINER) 2>/dev/null)" = true ]; then \
		docker stop $(DEV_PG_CONTAINER) >/dev/null && echo "stopped $(DEV_PG_CONTAINER) (data kept in volume $(DEV_PG_VOLUME))"; \
	else \
		echo "$(DEV_PG_CONTAINER) is not running"; \
	fi

test: postgres-image browser ## Unit tests, then integration and browser tests (needs Docker); screenshots land in .bin/test-artifacts
	POSTGRES_IMAGE="$$(cat $(PG_IMAGE_FILE))" $(GO) test -race -count=1 ./...
	@mkdir -p $(BIN)/test-artifacts
	$(INTEGRATION_ENV) $(GO) test -race -count=1 -tags integration $(ARTIFACTS) $(INTEGRATION_PKGS)

test-unit: ## Unit tests only (no Docker)
	$(GO) test -race -count=1 ./...

test-integration: postgres-image browser ## Integration and browser tests only (needs Docker)
	@mkdir -p $(BIN)/test-artifacts
	$(INTEGRATION_ENV) $(GO) test -race -count=1 -tags integration $(ARTIFACTS) $(INTEGRATION_PKGS)

browser: ## Ensure a Chromium for the browser tests (Debian's chromium, installed when missing)
	@mkdir -p $(BIN)
	@path=$$(bash test/browser/ensure-chromium.sh) && echo "$$path" >$(BROWSER_FILE) && echo "browser: $$path"

lint: ## go vet (with and without the integration tag) and staticcheck
	$(GO) vet ./... && $(GO) vet -tags integration ./... && $(GO) tool staticcheck ./...

fmt: ## gofmt all Go files
	gofmt -w .

tidy: ## go mod tidy
	$(GO) mod tidy

migrate-new: ## New empty migration pair: make migrate-new NAME=add_accounts
	@if ! [[ "$(NAME)" =~ ^[A-Za-z0-9_]+$$ ]]; then \
		echo "usage: make migrate-new NAME=short_name (letters, digits, _)" >&2; exit 1; \
	fi; \
	mkdir -p migrations; \
	ts=$$(date -u +%Y%m%d%H%M%S); \
	for dir in up down; do \
		f=migrations/$${ts}_$(NAME).tx.$$dir.sql; : >"$$f"; echo "$$f"; \
	done

build-bench: ## Build .bin/creditd-bench, the benchmark driver
	$(GO) build -o $(BIN)/creditd-bench ./cmd/creditd-bench

# Extra driver flags, e.g. make bench BENCH_FLAGS='-scenarios 1,2 -clients 8,64'
BENCH_FLAGS ?=

bench: build build-bench postgres-image ## Benchmark: pgbench baselines + creditd scenarios; writes test/bench/results/ and README
	$(BIN)/creditd-bench -pg-image "$$(cat $(PG_IMAGE_FILE))" -wait-idle 90s -out test/bench/results -readme README.md $(BENCH_FLAGS)

bench-quick: build build-bench postgres-image ## Short benchmark (one round of 2 s steps) into .bin/bench-quick; README untouched
	$(BIN)/creditd-bench -pg-image "$$(cat $(PG_IMAGE_FILE))" -duration 2s -rounds 1 -out $(BIN)/bench-quick $(BENCH_FLAGS)

postgres-image: ## Ensure a PostgreSQL image (postgres:16, else built from Debian packages)
	@mkdir -p $(BIN)
	@img=$$(bash test/postgres/ensure-image.sh) && echo "$$img" >$(PG_IMAGE_FILE) && echo "postgres image: $$img"

clean: ## Remove .bin/, the dev PostgreSQL container and its data volume (the image stays)
	rm -rf $(BIN)
	@if docker container inspect $(DEV_PG_CONTAINER) >/dev/null 2>&1; then \
		docker rm -f $(DEV_PG_CONTAINER) >/dev/null && echo "removed container $(DEV_PG_CONTAINER)"; \
	fi
	@if docker volume inspect $(DEV_PG_VOLUME) >/dev/null 2>&1; then \
		docker volume rm $(DEV_PG_VOLUME) >/dev/null && echo "removed volume $(DEV_PG_VOLUME)"; \
	fi
