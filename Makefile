# Metalayer Devnet. `make devnet` and `make test` set up whatever is missing first.
# Setup is idempotent: stamps make a second run a no-op unless a manifest changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := contracts/node_modules/.installed
PYTEST_ARGS ?=

.PHONY: setup devnet devnet-docker test bench down status clean

setup: $(PY_STAMP) $(NPM_STAMP)

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# `npm install` rather than `npm ci`: the registry mirror here lacks anvil's other-platform
# optional packages, so npm 11 considers the lock incomplete and `npm ci` refuses.
# Versions are pinned exactly in package.json either way.
$(NPM_STAMP): contracts/package.json contracts/package-lock.json
	cd contracts && npm install --no-audit --no-fund --loglevel=error
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
