# MinQing: the commands in README live here. `make run` and `make test` set everything up.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app run.py
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test test-pg test-cluster lint fmt babel translations install serve init clean fuzz screenshots bench bench-load bench-registers

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# compiled catalogues (.mo) are build output, made from the tracked .po files
translations: install
	$(BIN)/pybabel compile -d translations -f --statistics 2>&1 | grep -v "^compiling" || true

init: translations
	$(FLASK) minqing init --demo-if-empty

# no gunicorn access log: the app logs each request with its request id (LOG_REQUESTS)
run: init
	@$(FLASK) minqing info --url http://$(HOST):$(PORT)/
	$(BIN)/gunicorn --workers 2 --threads 4 --bind $(HOST):$(PORT) "run:app"

# the suite on TEST_JOBS pytest-xdist workers, each with its own database (TEST_JOBS=0: in one
# process); the browser tests share one worker (tests/conftest.py, XDIST_TOGETHER)
TEST_JOBS ?= 2
test: translations
	$(BIN)/python -m pytest -n $(TEST_JOBS) $(PYTEST_ARGS)

# the same suite on PostgreSQL (the local server, database "test"; xdist workers use test_gw0, ...)
test-pg: translations
	MINQING_TEST_DATABASE_URL=$${MINQING_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
		$(BIN)/python -m pytest -n $(TEST_JOBS) --ignore=tests/e2e $(PYTEST_ARGS)

# several servers on loopback: nginx, 3 gunicorn app servers and 1 RQ worker on the local PostgreSQL
# (database minqing_cluster, made afresh) and Redis (db 9, flushed): tests/cluster/run_cluster.py
test-cluster: translations
	$(BIN)/python tests/cluster/run_cluster.py

# the browser tests, keeping their screenshots for the README
screenshots: translations
	MINQING_SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

# schemathesis against the served OpenAPI spec as the demo clerk; fails on any 5xx
fuzz: translations
	$(BIN)/python tests/fuzz/fuzz_api.py

# performance: load BENCH_SCALE (county|medium|small) into a dedicated database (reused when
# already loaded) and time our pages, stock FAB's and the raw SQL -> bench/results.md, .json
BENCH_SCALE ?= medium
BENCH_DB ?= both
BENCH_REPEAT ?= 20
bench: translations
	BENCH_SCALE=$(BENCH_SCALE) BENCH_DB=$(BENCH_DB) BENCH_REPEAT=$(BENCH_REPEAT) $(BIN)/python bench/bench.py

# registers at scale: one register with BENCH_REGISTER_ROWS entries (default 1M) on both databases
bench-registers: translations
	BENCH_DB=$(BENCH_DB) BENCH_REPEAT=$(BENCH_REPEAT) $(BIN)/python bench/registers.py

# a load run against gunicorn as the README deploys it (contrib/gunicorn.conf.py) on the PostgreSQL bench
# database: an open-loop clerk / grid worker / township and county leader mix with writes, at each of
# BENCH_RATES arrivals/s for BENCH_STEP_SECONDS -> bench/load.md (included in bench/results.md)
BENCH_RATES ?= 4,8,12,16,24,32
BENCH_STEP_SECONDS ?= 20
bench-load: translations
	BENCH_RATES=$(BENCH_RATES) BENCH_STEP_SECONDS=$(BENCH_STEP_SECONDS) $(BIN)/python bench/load.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# refresh the catalogues after changing user-visible strings, then translate the new entries
babel: install
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -k gettext --no-location --sort-output -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) translations/*/LC_MESSAGES/*.mo
