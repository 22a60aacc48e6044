# Remit's tasks. Each target calls one script in scripts/, which does the work and can be run on its own.
#
#   make demo   set up .venv, then start a local server with demo data (http://127.0.0.1:8400)
#   make test   set up .venv, then lint, type-check and run the test suite

SHELL := /bin/bash
VENV := .venv
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo test bench bench-audit bench-tokens bench-cli lint typecheck docs lock clean

help:
	@echo "make demo       install, then run a local server with demo data on http://127.0.0.1:8400"
	@echo "make test       install, then lint, type-check and run the tests"
	@echo "make bench      the decision benchmark: Remit beside bare cedarpy, in process and over HTTP"
	@echo "make bench-audit  the audit log benchmark: decisions with durable logging beside logging off; log capacity"
	@echo "make bench-tokens the token benchmark: issuing and verifying beside raw Ed25519, a cache hit beside a decision"
	@echo "make bench-cli  the CLI start-up benchmark: remit --help and a local read beside a bare Typer app"
	@echo "make lint       ruff check, ruff format --check, docs/configuration.md up to date"
	@echo "make typecheck  mypy --strict"
	@echo "make docs       regenerate docs/configuration.md from the settings models"
	@echo "make lock       regenerate requirements.lock from pyproject.toml"
	@echo "make clean      remove .venv and caches (keeps .remit, the local server's data)"

# The install step runs again only when pyproject.toml, the lock or the script change.
$(INSTALLED): pyproject.toml requirements.lock scripts/install
	scripts/install

install: $(INSTALLED)

demo: $(INSTALLED)
	$(VENV)/bin/remit demo

test: $(INSTALLED)
	scripts/test

bench: $(INSTALLED)
	$(VENV)/bin/python bench/pdp.py

# PostgreSQL too: make bench-audit REMIT_BENCH_POSTGRES=postgresql+psycopg://user@host:5432/db
bench-audit: $(INSTALLED)
	$(VENV)/bin/python bench/audit.py

bench-tokens: $(INSTALLED)
	$(VENV)/bin/python bench/tokens.py

bench-cli: $(INSTALLED)
	$(VENV)/bin/python bench/cli.py

lint: $(INSTALLED)
	scripts/lint

typecheck: $(INSTALLED)
	scripts/typecheck

docs: $(INSTALLED)
	$(VENV)/bin/python scripts/gen_config_docs.py

lock:
	scripts/lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .coverage htmlcov build dist src/*.egg-info
