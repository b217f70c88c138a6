# repoversion: `make run` serves, `make test` tests. Both set everything up first.
SYSPY  ?= /usr/bin/python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOME_DIR ?= ./var

.PHONY: venv run test test-online lint bench bench-history soak clean services

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml docker/install-system-deps.sh
	sh docker/install-system-deps.sh
	test -x $(BIN)/python || $(SYSPY) -m venv --system-site-packages $(VENV)
	$(BIN)/python -c "import apt_pkg" || { echo "python3-apt is not importable from $(VENV)" >&2; exit 1; }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

run: venv
	$(BIN)/repoversion --home $(HOME_DIR) run

services:
	sh .ci/services.sh

test: venv services
	$(BIN)/pytest -n 2 -q

test-online: venv services
	$(BIN)/pytest -q -m online tests/online

lint: venv
	$(BIN)/ruff check server tests
	$(BIN)/ruff format --check server tests
	$(BIN)/mypy

bench: venv services
	$(BIN)/python -m tests.bench

# 1,000 versions on PostgreSQL, then reads and serving (docs/benchmarks.md); not in `make bench`.
bench-history: venv services
	$(BIN)/python -m tests.bench history

# Load and faults on loopback, about 2 minutes (docs/deployment.md); not part of `make test`.
soak: venv
	$(BIN)/python -m tests.soak

clean:
	rm -rf $(VENV) build *.egg-info
