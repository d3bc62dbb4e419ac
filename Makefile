# Stockgate: `make run` serves the app with demo data; `make test` runs every suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := wsgi.py

# Dependency tools (pip-tools, pip-audit) live in their own venv, outside the app's.
TOOLS := .venv-tools
# Locks only: every package pinned with its hashes (pip refuses anything unpinned or
# unhashed, transitive ones included), and wheels only, so no unpinned build backend runs.
PIP_INSTALL = install -q --require-hashes --only-binary :all:

.PHONY: run test lint format bench lock audit clean

# No `pip install --upgrade pip`: the lock pins pip itself, so the first install replaces
# the bootstrap pip with the pinned one.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip $(PIP_INSTALL) -r requirements.txt
	touch $@

# requirements-dev.txt holds the runtime pins too (same versions), so it is the whole set.
$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip $(PIP_INSTALL) -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

$(TOOLS)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip $(PIP_INSTALL) -r requirements-tools.txt
	touch $@

## run: set up from nothing (venv, migrations, demo data, demo admin) and serve on $(HOST):$(PORT)
# waitress as it ships: one process (memory:// limits are per process), and it buffers slow
# clients itself, so no proxy is needed in front.
run: $(VENV)/.runtime-installed
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	$(BIN)/flask users demo-admin
	@echo "Serving Stockgate on http://$(HOST):$(PORT)  (Ctrl-C to stop)"
	$(BIN)/waitress-serve --listen=$(HOST):$(PORT) --call wsgi:served_app

## test: install test requirements and run the whole suite, on PYTEST_WORKERS processes
# Two pytest-xdist workers, one per core of the CI machine; each test file stays on one worker,
# so its module-scoped servers and browser start once. PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
test: $(VENV)/.dev-installed
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

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

## lock: recompile the lock files from the *.in files (LOCK_ARGS="--upgrade-package NAME" to move one)
# Runtime first: the dev and tools locks are constrained by it, so shared pins stay identical.
LOCK = CUSTOM_COMPILE_COMMAND="make lock" $(TOOLS)/bin/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
lock: $(TOOLS)/.installed
	$(LOCK) --output-file requirements.txt requirements.in
	$(LOCK) --output-file requirements-dev.txt requirements-dev.in
	$(LOCK) --output-file requirements-tools.txt requirements-tools.in

## audit: look up every locked package in an advisory database (needs PyPI's JSON API or OSV; not in CI)
# --disable-pip: the locks are complete and hashed, so pip-audit reads them as they are
# instead of resolving them in a scratch venv. AUDIT_ARGS="--vulnerability-service osv" to switch.
audit: $(TOOLS)/.installed
	$(TOOLS)/bin/pip-audit --strict --require-hashes --disable-pip $(AUDIT_ARGS) \
		-r requirements-dev.txt -r requirements-tools.txt

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache artifacts
