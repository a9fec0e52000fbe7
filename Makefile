# One command each on a fresh machine: `make test`, `make demo`. Both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install node-deps test lint typecheck unit demo bench bench-profile bench-startup bench-sync bench-failover bench-compose fed-audit clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check portal stitcher tests bench
	$(BIN)/ruff format --check portal stitcher tests bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

# Apollo's composition and Hive's loader (npm, in bench/) check our supergraphs in the tests, and are the benchmark's peers.
NODE_STAMP := bench/node_modules/.installed-stamp
node-deps: $(NODE_STAMP)

$(NODE_STAMP): bench/package.json bench/package-lock.json
	cd bench && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# The suite runs on every core (pytest-xdist: each test has its own database schema, ports and files); the tests
# marked serial measure a stream of requests through real Envoys, so they run alone afterwards.
PYTEST_WORKERS ?= auto
unit: install node-deps
	$(BIN)/python scripts/check_services.py
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not serial"
	$(BIN)/pytest -m serial

# `make test` runs every test: lint, strict typing, then pytest against SQLite and the real PostgreSQL.
test: lint typecheck unit

demo: install
	$(BIN)/loom up

# Every peer (Grafbase, Hive Gateway JS and Rust planner, Apollo Gateway) and Loom, both query shapes, one run; a
# full run rewrites the results section of bench/README.md.
bench: install node-deps
	$(BIN)/python -m bench.run

# Where one request's CPU goes, per stage (py-spy under the bench's load): `make bench-profile [SHAPE=top]`.
bench-profile: install node-deps
	$(BIN)/python -m bench.profile --shape $(or $(SHAPE),top)

# loom gateway's start-up time and resident memory on the largest generated supergraph, 1 and 2 workers.
bench-startup: install
	$(BIN)/python -m bench.startup

# The sync worker at scale: render and diff 100 .. 1,000 products x 10 clusters (no peers: nothing else does this).
bench-sync: install
	$(BIN)/python -m bench.sync_scale

# Failover under a steady stream through real Envoys and gateways: failed requests, recovery, p99, fail-back.
bench-failover: install
	$(BIN)/python -m bench.failover

# Composing big generated schemas (200 .. 3,200 GraphQL types, 0.2 .. 3.6 MB OpenAPI): CPU time and its growth.
bench-compose: install
	$(BIN)/python -m bench.compose_scale

# The Federation gateway audit (issue 8): `make fed-audit [SUITE=name]`. It lives beside the checkout in ../shared,
# which a clone of this repository does not have (then there is nothing to install or run).
fed-audit: $(if $(wildcard ../shared/federation-audit/run.sh),install)
	@if [ -x ../shared/federation-audit/run.sh ]; then \
		../shared/federation-audit/run.sh $(BIN)/loom $(SUITE); \
	else \
		echo "fed-audit: nothing to run: the Federation audit lives in ../shared/federation-audit, which a clone does not have"; \
	fi

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# The web UI (frontend/, served by portal/web.py): `npm ci`, then the build (typed operations generated from
# frontend/schema.graphql, tsc, vite) whenever a source changed; Vitest for its logic; Debian's Chromium for the
# browser tests in tests/ui (Playwright drives it; no browser is ever downloaded).
.PHONY: frontend frontend-test chromium
FRONTEND_STAMP := frontend/node_modules/.installed-stamp
FRONTEND_BUILD := frontend/dist/index.html
install: frontend
frontend: $(FRONTEND_BUILD)
$(FRONTEND_STAMP): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $(FRONTEND_STAMP)
$(FRONTEND_BUILD): $(FRONTEND_STAMP) frontend/schema.graphql frontend/index.html frontend/vite.config.ts frontend/codegen.ts frontend/tsconfig.json $(shell find frontend/src -type f -not -path 'frontend/src/gql/*' 2>/dev/null)
	cd frontend && npm run build
frontend-test: $(FRONTEND_STAMP)
	cd frontend && npm test
chromium:
	test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)
unit: chromium frontend-test
