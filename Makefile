# creditd developer entry points; `make` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO ?= go
BIN := .bin
# Written by postgres-image: the image tests and the dev database use.
PG_IMAGE_FILE := $(BIN)/postgres-image
INTEGRATION_PKGS ?= ./test/...
DEV_PG_CONTAINER := creditd-dev-postgres
# What creditd --version and /healthz report; when git cannot tell, creditd
# falls back to the revision Go recorded in the binary, else "devel".
VERSION ?= $(shell git describe --always --dirty 2>/dev/null)
LDFLAGS := -X github.com/creditd/creditd/cmd/creditd/app.version=$(VERSION)

.PHONY: help build run test test-unit test-integration lint fmt tidy migrate-new postgres-image clean bench bench-quick build-bench

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN { FS = ":.*## " } { printf "  %-18s %s\n", $$1, $$2 }'

build: ## Build .bin/creditd
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/creditd ./cmd/creditd

run: build ## Run creditd (migrate, demo API key, serve) on DATABASE_URL or a dev container
	@set -euo pipefail; \
	if [ -z "$${DATABASE_URL:-}" ]; then \
		$(MAKE) --no-print-directory postgres-image; \
		DATABASE_URL=$$(bash test/postgres/server.sh "$$(cat $(PG_IMAGE_FILE))"); \
	fi; \
	export DATABASE_URL; \
	$(BIN)/creditd migrate; \
	key=$$($(BIN)/creditd apikey create --tenant demo); \
	addr=$${CREDITD_ADDR:-:8080}; \
	if [[ $$addr == :* ]]; then addr=localhost$$addr; fi; \
	printf '\n  creditd API   http://%s\n  demo API key  %s\n  database      %s\n\n' "$$addr" "$$key" "$$DATABASE_URL"; \
	exec $(BIN)/creditd serve

test: postgres-image ## Unit tests, then integration tests (needs Docker)
	POSTGRES_IMAGE="$$(cat $(PG_IMAGE_FILE))" $(GO) test -race -count=1 ./...
	POSTGRES_IMAGE="$$(cat $(PG_IMAGE_FILE))" $(GO) test -race -count=1 -tags integration $(INTEGRATION_PKGS)

test-unit: ## Unit tests only (no Docker)
	$(GO) test -race -count=1 ./...

test-integration: postgres-image ## Integration tests only (needs Docker)
	POSTGRES_IMAGE="$$(cat $(PG_IMAGE_FILE))" $(GO) test -race -count=1 -tags integration $(INTEGRATION_PKGS)

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

bench-quick: build build-bench postgres-image ## Short benchmark (2 s steps) into .bin/bench-quick; README untouched
	$(BIN)/creditd-bench -pg-image "$$(cat $(PG_IMAGE_FILE))" -duration 2s -out $(BIN)/bench-quick $(BENCH_FLAGS)

postgres-image: ## Ensure a PostgreSQL image (postgres:16, else built from Debian packages)
	@mkdir -p $(BIN)
	@img=$$(bash test/postgres/ensure-image.sh) && echo "$$img" >$(PG_IMAGE_FILE) && echo "postgres image: $$img"

clean: ## Remove .bin/ and the dev PostgreSQL container (keeps images and its data volume)
	rm -rf $(BIN)
	@if docker container inspect $(DEV_PG_CONTAINER) >/dev/null 2>&1; then \
		docker stop $(DEV_PG_CONTAINER) >/dev/null && docker rm $(DEV_PG_CONTAINER) >/dev/null && echo "removed $(DEV_PG_CONTAINER)"; \
	fi
