# healthwatch: every target sets up what it needs (the venv is created on first use).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TIER   ?= quick
ARGS   ?=

.PHONY: install run demo test lint bench build deploy invoke-local clean browser

$(STAMP): pyproject.toml layers/healthwatch/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## run every tier of checks.yaml once, with the local backend (results in ./.healthwatch)
run: $(STAMP)
	$(BIN)/healthwatch run --all $(ARGS)

## bundled demo services on 127.0.0.1: an incident triggered and resolved, chat posts printed
demo: $(STAMP)
	$(BIN)/python demo/demo.py

## headless Chromium for the status page's browser test (Debian's package, installed as root)
browser:
	@test -x /usr/bin/chromium || { if [ "$$(id -u)" = 0 ]; then \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "make browser: /usr/bin/chromium is missing; as root: apt-get install chromium" >&2; fi; }

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) .healthwatch .aws-sam .pytest_cache .mypy_cache .ruff_cache
