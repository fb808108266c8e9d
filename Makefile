# Forewarn: `make run` starts everything on embedded defaults; `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: help venv dev run test test-fast bench migrate seeds lint clean

help:
	@echo "make run        set up on embedded defaults (SQLite, filesystem broker) and start web + worker + beat"
	@echo "make test       run the whole test suite (PostgreSQL and Redis on localhost when they answer)"
	@echo "make test-fast  the suite without the slow real-worker, browser and fuzzing tests"
	@echo "make bench      benchmarks on PostgreSQL (DATABASE_URL)"

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

run: seeds
	$(PY) manage.py demo_users
	$(PY) manage.py serve

test: dev
	$(PY) -m pytest

test-fast: dev
	$(PY) -m pytest -m "not slow"

bench: dev
	$(PY) manage.py bench

clean:
	rm -rf var .pytest_cache .hypothesis
