# Ringback: `make run` (demo server), `make test` (the suite), `make check` (lint + types).
# Each recipe creates .venv if it is missing; a stamp per extra skips `pip install` until
# pyproject.toml changes (the install is editable, so source edits need no reinstall).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test check clean

help:
	@echo "make run    install, migrate, seed the demo restaurant, serve on 127.0.0.1:8000"
	@echo "make test   install the test extras and run the suite (TEST_DATABASE_URL or embedded)"
	@echo "make check  ruff check, ruff format --check, mypy --strict, lint-imports"

$(VENV)/pyvenv.cfg:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

.make-run.stamp: pyproject.toml $(VENV)/pyvenv.cfg
	$(PIP) install --quiet -e .
	@touch $@

.make-test.stamp: pyproject.toml $(VENV)/pyvenv.cfg
	$(PIP) install --quiet -e ".[test]"
	@touch $@

.make-dev.stamp: pyproject.toml $(VENV)/pyvenv.cfg
	$(PIP) install --quiet -e ".[test,dev]"
	@touch $@

# Without WHATSAPP_API_BASE_URL the server answers for the Graph API itself (--sandbox), so the
# printed curl sends on a machine with no internet. Without DATABASE_URL every step uses the
# embedded PostgreSQL in .ringback/pgdata.
run: .make-run.stamp
	$(BIN)/ringback migrate
	$(BIN)/ringback demo
	$(BIN)/ringback serve $(if $(WHATSAPP_API_BASE_URL),,--sandbox)

# The suite drives Debian's Chromium (dashboard) and wrk (load benchmark at smoke size); a fresh
# machine gets them from Debian's packages. Nothing downloads a browser of its own.
SYSTEM_TOOLS := /usr/bin/chromium /usr/bin/chromedriver /usr/bin/wrk
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(SYSTEM_TOOLS):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium chromium-driver wrk

test: .make-test.stamp $(SYSTEM_TOOLS)
	$(BIN)/pytest $(PYTEST_ARGS)

check: .make-dev.stamp
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict
	$(BIN)/lint-imports

clean:
	rm -f .make-*.stamp
