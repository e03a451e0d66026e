# mfa-enforcer developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install demo test lint typecheck format check clean report-screenshot reliability-table reliability-deep bench

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt -e .
	touch $@

install: $(STAMP) ## create .venv with runtime + dev dependencies

demo: install ## run the bot's scan on a seeded moto account (report, enforce, enforce again)
	$(BIN)/python -m tests.support.demo

lint: install ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install ## mypy --strict on app.py and chalicelib (config in pyproject.toml)
	$(BIN)/mypy

format: install ## apply ruff formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint typecheck ## lint, type-check, then the whole test suite
	$(BIN)/pytest

check: test ## everything CI runs

reliability-table: install ## run tests/reliability and write its results table to tests/reliability/RESULTS.md
	RELIABILITY_TABLE=tests/reliability/RESULTS.md $(BIN)/pytest tests/reliability; status=$$?; cat tests/reliability/RESULTS.md; exit $$status

reliability-deep: install ## tests/reliability with the deep Hypothesis profile (2,000 examples per property; ~5 min)
	HYPOTHESIS_PROFILE=deep $(BIN)/pytest tests/reliability

report-screenshot: install ## render the HTML audit report in headless chromium (needs: apt-get install -y chromium)
	$(BIN)/python -m tests.support.report_screenshot

BENCH_VENV ?= bench/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_ARGS ?= --sizes 100,1000,5000 --runs 3 --latency-runs 3

$(BENCH_STAMP): bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --disable-pip-version-check --upgrade pip
	$(BENCH_VENV)/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt
	touch $@

bench: install $(BENCH_STAMP) ## mfa-enforcer vs Cloud Custodian on a seeded moto server (~8 min): bench/results/
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean: ## remove the virtualenvs and caches
	rm -rf $(VENV) $(BENCH_VENV) bench/results/tmp .pytest_cache .ruff_cache .hypothesis
