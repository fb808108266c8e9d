# Forewarn: `make run` starts everything on embedded defaults; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
PORT ?= 8000

CHROMIUM ?= /usr/bin/chromium

.PHONY: help venv dev browser run lint format test test-fast test-slow test-embedded migrate seeds bench clean

help:
	@echo "make run        set up on embedded defaults (SQLite, filesystem broker) and start web + worker + beat"
	@echo "make test       lint, then the whole suite on PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL), then make test-embedded"
	@echo "make test-fast  the suite without tests/slow/ (real processes, browser, fuzzing, soak, faults), on both cores"
	@echo "make test-slow  only tests/slow/, one test at a time"
	@echo "make lint       ruff check and ruff format --check (make format rewrites)"
	@echo "make test-embedded  the fast suite on make run's embedded default (SQLite, filesystem broker)"
	@echo "make bench      benchmarks on PostgreSQL (DATABASE_URL) in a database of their own; BENCH_ARGS=\"--scale 0.1\""

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(RUNTIME_STAMP) $@

venv: $(RUNTIME_STAMP)

dev: $(DEV_STAMP)

migrate: venv
	$(PY) manage.py migrate --noinput

seeds: migrate
	$(PY) manage.py load_seeds

# Links in printed messages and emails follow the port (unless FOREWARN_SITE_URL is set).
# The web is gunicorn with WEB_CONCURRENCY workers (default 2), one database connection each.
run: export FOREWARN_SITE_URL ?= http://127.0.0.1:$(PORT)
run: seeds
	$(PY) manage.py demo_users
	$(PY) manage.py serve --port $(PORT)

# The browser tests drive Debian's chromium through Playwright; no browser is ever downloaded.
browser:
	@test -x $(CHROMIUM) || { echo "Installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "!! could not install chromium: the browser tests will skip (and fail under CI=true)"; }

lint: dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Lint, then two legs: everything on PostgreSQL and Redis (CI=true fails if they do not answer),
# the fast tests on both cores and the slow ones (real processes on fixed queues) one at a time;
# then the fast suite on the embedded default of `make run`.
test: lint browser
	$(MAKE) --no-print-directory test-fast
	$(MAKE) --no-print-directory test-slow
	$(MAKE) --no-print-directory test-embedded

# pytest-xdist: each of the two workers has its own test database (test_<name>_gw0, _gw1).
test-fast: dev
	$(PY) -m pytest -m "not slow" -n 2

test-slow: dev
	$(PY) -m pytest -m slow

# SQLite and kombu's filesystem broker under var/test/, even when PostgreSQL and Redis answer.
test-embedded: dev
	FOREWARN_TEST_EMBEDDED=1 $(PY) -m pytest -m "not slow" -n 2

# Needs DATABASE_URL=postgres://...; creates, loads and drops its own forewarn_bench databases.
# The bench app (bench/) is installed by config.settings.bench only, never in production.
bench: dev
	DJANGO_SETTINGS_MODULE=config.settings.bench $(PY) manage.py bench $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .hypothesis
