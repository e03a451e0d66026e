# mfa-enforcer developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install demo cli-sandbox test lint typecheck docs format check clean report-screenshot notice-screenshot reliability-table reliability-deep bench mutation

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' \
		'{ name[NR] = $$1; text[NR] = $$2; if (length($$1) > width) width = length($$1) } \
		 END { for (i = 1; i <= NR; i++) printf "  %-" width "s  %s\n", name[i], text[i] }'

# setuptools prints an information notice ("Editable installation ... be careful with folders") for
# every editable install, whatever the project. The filter hides only warnings raised in setuptools'
# editable-wheel module: a warning about the project's own metadata still shows, and
# tests/install/test_wheel.py fails on any setuptools warning in a real wheel build.
EDITABLE_NOTICE := ignore:::setuptools.command.editable_wheel

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	PYTHONWARNINGS="$(EDITABLE_NOTICE)" $(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt -e .
	touch $@

install: $(STAMP) ## create .venv with runtime + dev dependencies

demo: install ## the bot on a simulated AWS account: every path, and what SNS and Slack received
	$(BIN)/python -m tests.support.demo

cli-sandbox: install ## a seeded, simulated AWS account on 127.0.0.1 for the CLI; prints the environment to use
	$(BIN)/python -m tests.support.sandbox

lint: install ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install ## mypy --strict on app.py and chalicelib (config in pyproject.toml)
	$(BIN)/mypy

docs: install ## build the documentation site into site/ (mkdocs --strict: a broken link fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

format: install ## apply ruff formatting and safe fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint typecheck docs ## lint, type-check, build the docs, then the whole test suite
	$(BIN)/pytest

check: test ## everything CI runs

reliability-table: install ## run tests/reliability and write its results table to tests/reliability/RESULTS.md
	RELIABILITY_TABLE=tests/reliability/RESULTS.md $(BIN)/pytest tests/reliability; status=$$?; cat tests/reliability/RESULTS.md; exit $$status

reliability-deep: install ## tests/reliability with the deep Hypothesis profile (2,000 examples per property; ~5 min)
	HYPOTHESIS_PROFILE=deep $(BIN)/pytest tests/reliability

report-screenshot: install ## render the HTML audit report in headless chromium (needs: apt-get install -y chromium)
	$(BIN)/python -m tests.support.report_screenshot

notice-screenshot: install ## render the owner-notice e-mail in headless chromium into docs/images/ (needs chromium)
	$(BIN)/python -m tests.support.notice_screenshot

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

# Mutation testing: mutmut mutates the pure decision modules ([tool.mutmut] in pyproject.toml) in a copy
# under mutants/ and runs the unit tests that reach each mutant, two at a time (the machine has two
# cores). Every run starts from scratch, so the score is never an old cache's. docs/testing.md has the
# score and why the remaining survivors live. Not part of `make test`: it takes 4 to 8 minutes.
MUTATION_JOBS ?= 2
MUTATION_FLOOR ?= 97

mutation: install ## mutmut over decide, exemptions, events, credential_report with tests/unit (minutes; not in make test)
	rm -rf mutants
	$(BIN)/mutmut run --max-children $(MUTATION_JOBS)
	$(BIN)/mutmut results
	$(BIN)/mutmut results --all true > mutants/results.txt
	$(BIN)/mutmut export-cicd-stats
	$(BIN)/python -m tests.support.mutation_score mutants/mutmut-cicd-stats.json --results mutants/results.txt \
		--floor $(MUTATION_FLOOR)

clean: ## remove what the build made: venvs, caches, site/, build/, dist/, egg-info, node_modules, bench tmp, mutants/
	rm -rf $(VENV) $(BENCH_VENV) bench/results/tmp .pytest_cache .ruff_cache .mypy_cache .hypothesis \
		site build dist *.egg-info tests/policy_sim/node_modules mutants
	find . -name __pycache__ -type d -not -path './.git/*' -prune -exec rm -rf {} +
