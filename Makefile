# Two entry points do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench install install-test browser clean
CHROMIUM ?= /usr/bin/chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-test: $(VENV)/.test

## Install, then run the main job on the embedded defaults and exit.
demo: install
	$(BIN)/knotlog demo

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/knotlog openapi --check

## tests/browser opens the report in Debian's Chromium (never a downloaded browser).
browser:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium for tests/browser"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

## Install, lint, then run the whole test suite (pytest's exit 5, "no tests", is a failure).
test: lint browser
	$(BIN)/pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; \
	exit $$status

## Benchmarks (minutes; not part of CI): each prints ratios against its limit.
bench: install-test
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.pull
	$(BIN)/python -m bench.weekly

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache
