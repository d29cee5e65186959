# creditd developer entry points; `make` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO ?= go
BIN := .bin
# Written by postgres-image: the image tests and the dev database use.
PG_IMAGE_FILE := $(BIN)/postgres-image
INTEGRATION_PKGS ?= ./test/...
# The dev PostgreSQL of make run (names as test/postgres/server.sh reads them).
DEV_PG_CONTAINER := $(or $(CREDITD_PG_NAME),creditd-dev-postgres)
DEV_PG_VOLUME := $(or $(CREDITD_PG_VOLUME),creditd-dev-postgres-data)
# make run's full-scope key for the tenant "demo", reused while it still works.
DEMO_KEY_FILE ?= $(BIN)/demo-api-key
# make run serves on 127.0.0.1:$(DEV_PORT) unless CREDITD_ADDR says otherwise.
DEV_PORT ?= 8080
# What creditd --version and /healthz report; when git cannot tell, creditd
# falls back to the revision Go recorded in the binary, else "devel".
VERSION ?= $(shell git describe --always --dirty 2>/dev/null)
LDFLAGS := -X github.com/creditd/creditd/cmd/creditd/app.version=$(VERSION)

.PHONY: help build run stop test test-unit test-integration lint fmt tidy migrate-new postgres-image clean bench bench-quick build-bench

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN { FS = ":.*## " } { printf "  %-18s %s\n", $$1, $$2 }'

build: ## Build .bin/creditd
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/creditd ./cmd/creditd

run: build ## Serve on 127.0.0.1:8080 with a dev PostgreSQL in Docker (or DATABASE_URL); Ctrl-C stops creditd only
	@set -euo pipefail; \
	started_pg=; \
	if [ -z "$${DATABASE_URL:-}" ]; then \
		$(MAKE) --no-print-directory postgres-image; \
		DATABASE_URL=$$(bash test/postgres/server.sh "$$(cat $(PG_IMAGE_FILE))"); \
		started_pg=1; \
	fi; \
	export DATABASE_URL CREDITD_ADDR=$${CREDITD_ADDR:-127.0.0.1:$(DEV_PORT)}; \
	$(BIN)/creditd migrate; \
	if [ -s "$(DEMO_KEY_FILE)" ] && $(BIN)/creditd apikey check <"$(DEMO_KEY_FILE)" >/dev/null 2>&1; then \
		key=$$(cat "$(DEMO_KEY_FILE)"); \
	else \
		if [ -s "$(DEMO_KEY_FILE)" ]; then echo "the demo API key in $(DEMO_KEY_FILE) no longer works (a new database?); making another"; fi; \
		key=$$($(BIN)/creditd apikey create --tenant demo); \
		(umask 077 && echo "$$key" >"$(DEMO_KEY_FILE)"); \
	fi; \
	host=$${CREDITD_ADDR%:*}; port=$${CREDITD_ADDR##*:}; \
	case "$$host" in \
		''|0.0.0.0|'[::]') url="http://localhost:$$port (listening on every interface)" ;; \
		*) url="http://$$CREDITD_ADDR" ;; \
	esac; \
	printf '\n  creditd API   %s\n  demo API key  %s  (kept in %s)\n  database      %s\n' \
		"$$url" "$$key" "$(DEMO_KEY_FILE)" "$$DATABASE_URL"; \
	if [ -n "$$started_pg" ]; then \
		printf '  Ctrl-C stops creditd; PostgreSQL (container %s) keeps running: make stop\n' "$(DEV_PG_CONTAINER)"; \
	fi; \
	echo; \
	exec $(BIN)/creditd serve

stop: ## Stop the dev PostgreSQL container of make run (keeps its data volume; make run starts it again)
	@if [ "$$(docker container inspect -f '{{.State.Running}}' $(DEV_PG_CONTAINER) 2>/dev/null)" = true ]; then \
		docker stop $(DEV_PG_CONTAINER) >/dev/null && echo "stopped $(DEV_PG_CONTAINER) (data kept in volume $(DEV_PG_VOLUME))"; \
	else \
		echo "$(DEV_PG_CONTAINER) is not running"; \
	fi

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

.PHONY: run-demo-shop
# The demo shop's PortOne browser SDK: the local sandbox's unless told otherwise.
DEMO_SHOP_SDK_URL ?= http://127.0.0.1:8090/v2/browser-sdk.js

run-demo-shop: ## Serve the demo shop (cmd/demo-shop) on 127.0.0.1:8081 against make run's creditd and demo key
	@test -s "$(DEMO_KEY_FILE)" || { echo "no demo API key in $(DEMO_KEY_FILE): start make run first" >&2; exit 1; }
	$(GO) build -o $(BIN)/demo-shop ./cmd/demo-shop
	CREDITD_API_KEY="$$(cat $(DEMO_KEY_FILE))" CREDITD_URL="$${CREDITD_URL:-http://127.0.0.1:$(DEV_PORT)}" \
		PORTONE_BROWSER_SDK_URL="$${PORTONE_BROWSER_SDK_URL:-$(DEMO_SHOP_SDK_URL)}" exec $(BIN)/demo-shop

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
