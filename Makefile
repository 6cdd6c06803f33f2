# Two commands on a fresh clone: `make run` and `make test`. Both build .venv from the pinned lock.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= db/newsflow.db

# Offline, quiet Prefect: no telemetry, no version checks.
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_LOGGING_LEVEL ?= WARNING

.PHONY: run test test-fast lint bench ui serve lock clean

$(BIN)/newsflow: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/python -m pip install -qq --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

run: $(BIN)/newsflow
	$(BIN)/newsflow run --seeds seeds --db $(DB)

test: $(BIN)/newsflow
	$(BIN)/python -m pytest

test-fast: $(BIN)/newsflow
	$(BIN)/python -m pytest -m "not slow"

lint: $(BIN)/newsflow
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy flows tasks db

bench: $(BIN)/newsflow
	$(BIN)/python -m benchmarks.run

lock:
	$(PYTHON) -m venv /tmp/newsflow-lock && /tmp/newsflow-lock/bin/pip install -q -e '.[dev,datasette]'
	/tmp/newsflow-lock/bin/pip freeze --exclude-editable | grep -v '^newsflow' > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) db/newsflow.db db/newsflow.db-wal db/newsflow.db-shm
