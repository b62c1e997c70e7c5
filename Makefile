# biasflow: two commands on a fresh machine with Python 3.11 — `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: run test test-all bench lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

## The main job: reproduce Moroshko et al. 2020 (quick) on built-in data, write results + report to out/.
run: $(STAMP)
	$(VENV)/bin/biasflow reproduce moroshko2020 --quick --out out/moroshko2020
	@echo "report: out/moroshko2020/report.html"

## The fast suite (< 10 min on 2 cores); slow and browser tests excluded.
test: $(STAMP)
	$(VENV)/bin/ruff check -q src tests benchmarks
	$(PY) -m pytest -q -n 2 -m "not slow and not browser"

## Everything: the documentation site (strict, tutorials executed), then all tests incl. slow and browser.
test-all: docs
	$(PY) -m pytest -q -n 2

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

## The documentation site, built strictly (broken links and failing tutorials fail) into site/.
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install -q -e ".[dev,docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir site

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) out build dist site
