# smart-finance: `make demo` and `make test` are the two set-up commands.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: venv demo serve test test-fast lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: venv
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py import_codes finance/data/codes
	$(PY) manage.py demo
	$(PY) manage.py verify_ledger
	$(PY) manage.py runserver $(HOST):$(PORT)

test: venv
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: venv
	$(PY) bench/posting.py
	$(PY) bench/payments_lifecycle.py
	$(PY) bench/payments_camt.py
	$(PY) bench/reports_disclosure.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
