# Stockgate: `make run` serves the app with demo data; `make test` runs every suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := wsgi.py

.PHONY: run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

## run: set up from nothing (venv, migrations, demo data, demo admin) and serve on $(HOST):$(PORT)
# waitress as it ships: one process (memory:// limits are per process), and it buffers slow
# clients itself, so no proxy is needed in front.
run: $(VENV)/.runtime-installed
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	$(BIN)/flask users demo-admin
	@echo "Serving Stockgate on http://$(HOST):$(PORT)  (Ctrl-C to stop)"
	$(BIN)/waitress-serve --listen=$(HOST):$(PORT) wsgi:app

## test: install test requirements and run the whole suite
test: $(VENV)/.dev-installed
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: measure throughput, latency and memory (see bench/README.md)
bench: $(VENV)/.dev-installed
	@command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts
