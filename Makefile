# 5G Buildout Monitor. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CITY ?= karamay
AS_OF ?=
REPORT_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install report lint check test lab bench lock clean
LINTED := src tests benchmarks synth

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (5G monitor)" > /dev/null
	touch $@

install: $(VENV)/.installed ## Create .venv and install the pinned dependencies

report: $(VENV)/.installed ## Run the whole report on the bundled data into reports/
	$(PY) -m analysis report --city $(CITY) $(if $(AS_OF),--as-of $(AS_OF)) --out reports $(REPORT_ARGS)

lint: $(VENV)/.installed ## ruff: lint and format check (`$(VENV)/bin/ruff format $(LINTED)` to fix the format)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check --quiet $(LINTED)

check: lint ## Lint and the fast tests (no notebooks, no browser): under a minute
	$(PY) -m pytest -m "not slow" -n 2 --dist loadfile -q

test: lint ## Lint and the whole test suite (unit, notebooks, browser), on 2 processes
	$(PY) -m pytest -n 2 --dist loadfile

lab: $(VENV)/.installed ## Open JupyterLab on the notebooks with the project's kernel
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

bench: $(VENV)/.installed ## Run the benchmarks at small scales (SCALE=4250000 for national)
	$(PY) -m benchmarks $(if $(SCALE),--scale $(SCALE))

lock: ## Re-pin requirements.lock from pyproject.toml (needs the registry)
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[test]'
	{ echo '# Exact versions installed by `make report` / `make test` (pip install -r requirements.lock).'; \
	  echo '# Regenerate with `make lock` after changing dependencies in pyproject.toml.'; \
	  .lock-venv/bin/pip freeze --all --exclude-editable | grep -v "^pip==" | grep -v '^fiveg-buildout-monitor'; } > requirements.lock
	rm -rf .lock-venv

clean: ## Remove .venv, processed outputs and reports
	rm -rf $(VENV) reports .pytest_cache .hypothesis
	find data/processed -mindepth 1 ! -name .gitkeep -delete
	find . -name __pycache__ -prune -exec rm -rf {} +
