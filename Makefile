# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format bench clean postgres browser screenshots

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

## Start the terminal self-review on the embedded SQLite database.
demo: $(STAMP)
	$(BIN)/careers-bot chat

## Lint and run the whole test suite (PostgreSQL tests use a local server if one can be found or installed).
## The tests run in TEST_WORKERS processes (pytest-xdist), each with its own PostgreSQL server;
## a group of tests marked xdist_group runs in one of them. TEST_WORKERS=0: all in this process.
TEST_WORKERS ?= 2
test: $(STAMP) postgres browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

## Make sure a PostgreSQL server binary (pg_ctl) is available for the storage suite.
postgres:
	@bash .ci/ensure-postgres

## Make sure headless Chromium, chromedriver and axe-core are there for the dashboard's browser tests.
browser:
	@bash .ci/ensure-browser

## Redraw the dashboard's screenshots in docs/images (headless Chromium, as the tests drive it).
screenshots: $(STAMP) browser
	DASHBOARD_SCREENSHOTS=docs/images $(BIN)/python -m pytest -q tests/test_dashboard_browser.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
