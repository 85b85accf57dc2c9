# Metalayer Devnet. `make devnet` and `make test` set up whatever is missing first.
# Setup is idempotent: stamps make a second run a no-op unless a manifest changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := contracts/node_modules/.installed
PYTEST_ARGS ?=

.PHONY: setup devnet devnet-docker test lint bench down status clean

setup: $(PY_STAMP) $(NPM_STAMP)

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# `npm ci`: installs exactly the committed lockfile (which lists every platform's anvil
# package) and never rewrites it, so `make` leaves the git tree clean.
$(NPM_STAMP): contracts/package.json contracts/package-lock.json
	cd contracts && npm ci --no-audit --no-fund --loglevel=error
	touch $@

devnet: setup
	$(BIN)/devnet up

devnet-docker: setup
	$(BIN)/devnet up --docker

down:
	$(BIN)/devnet down

status:
	$(BIN)/devnet status

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python scripts/bench.py all

clean:
	rm -rf .devnet contracts/out

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd contracts && npx --no-install solhint --max-warnings 0 'src/**/*.sol'
