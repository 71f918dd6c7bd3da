# smart-finance: `make demo` and `make test` are the two set-up commands.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
UNITS  ?= 120
# payment requests per unit per month in the demo (city_year's default is a city's 20;
# the demo keeps its wait short)
DEMO_PAYMENTS ?= 2
# the demo's two years: last year closed and published, this year open through last month
THIS_YEAR    ?= $(shell date +%Y)
LAST_YEAR    ?= $(shell expr $(THIS_YEAR) - 1)
OPEN_THROUGH ?= $(shell expr $$(date +%-m) - 1)

# The demo serves as production does (DEBUG=0: the site's own error pages, never Django's
# debug page; static files by whitenoise after collectstatic), over plain HTTP on this
# machine: a demo-only key, no HTTPS redirect, cookies not marked Secure.
DEMO_HOSTS ?= 127.0.0.1,localhost,$(HOST)
DEMO_ENV   := DEBUG=0 SECRET_KEY=demo-only-key-not-for-production ALLOWED_HOSTS=$(DEMO_HOSTS) \
              SECURE_SSL_REDIRECT=0 SECURE_HSTS_SECONDS=0 SECURE_COOKIES=0

.PHONY: venv demo test lint bench bench-quick bench-city bench-province clean

venv: $(STAMP)

# requirements.lock pins the exact version of every installed package (constraints).
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]' -c requirements.lock
	touch $(STAMP)

# After a change of dependencies in pyproject.toml: install, then pin what is installed.
lock:
	$(PY) -m pip install -q -e '.[dev]'
	{ sed -n '1,2p' requirements.lock; $(PY) -m pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

# pip-audit of requirements.lock; prints NOT CHECKED when no vulnerability service answers.
audit: venv
	sh bench/reliability_pip_audit.sh

demo: venv
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py import_codes finance/data/codes
	$(PY) manage.py city_year --units $(UNITS) --year $(LAST_YEAR) --payments $(DEMO_PAYMENTS) \
		--out var/city_year
	$(PY) manage.py city_year --units $(UNITS) --year $(THIS_YEAR) --open-through $(OPEN_THROUGH) \
		--payments $(DEMO_PAYMENTS) --out var/city_year
	$(PY) manage.py verify_ledger
	@echo "Outputs in var/city_year; log in with one of the users printed above (what waits for each is listed under it)."
	$(DEMO_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(DEMO_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

test: venv
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# Benchmarks print figures; they need the local PostgreSQL. `make bench` runs the sizes
# the issues ask for (about an hour on 2 cores); `make bench-quick` runs small sizes.
# The province data set (issue 23) is its own target, `make bench-province`: not in either.
bench: venv
	$(PY) bench/posting.py
	$(PY) bench/peer_hordak.py
	$(PY) bench/budgets_approve.py --units 3000
	$(PY) bench/payments_lifecycle.py
	$(PY) bench/payments_camt.py --lines 100000
	$(PY) bench/payments_formats.py
	$(PY) bench/reports_disclosure.py --lines 1000000 --units 3000
	$(PY) bench/render_xlsx.py
	$(PY) bench/audit_verify.py --lines 1000000
	$(PY) bench/city_year.py --units 300 3000 --workers 2

bench-quick: venv
	$(PY) bench/posting.py --seconds 5
	$(PY) bench/peer_hordak.py --seconds 5
	$(PY) bench/budgets_approve.py --units 100
	$(PY) bench/payments_lifecycle.py --seconds 5
	$(PY) bench/payments_camt.py --lines 10000
	$(PY) bench/payments_formats.py --quick
	$(PY) bench/reports_disclosure.py --lines 100000 --units 300
	$(PY) bench/render_xlsx.py --rows 500
	$(PY) bench/audit_verify.py --lines 50000
	$(PY) bench/city_year.py --units 30 --months 3 --workers 2

# The whole city-year at 3,000 units × 12 months on PostgreSQL, 2 worker processes: one
# request per unit per month (the 15-minute / 2 GiB figure of docs/PERFORMANCE.md), then
# a city's real count, 20 per unit per month (issue 19's 60-minute goal). Run it on a
# quiet machine.
bench-city: venv
	uptime
	$(PY) bench/city_year.py --units 3000 --months 12 --workers 2
	$(PY) bench/city_year.py --units 3000 --months 12 --workers 2 --payments 20
	uptime

# Issue 23: a province-shaped ledger (30,000 units, 5 years, 10 million lines, by COPY)
# built twice, without and with partitions (LEDGER_PARTITIONS=0/1 at migrate), and the
# trial balance, execution report, one disclosure set and a trace timed beside a plain
# SELECT sum() (about 20 minutes on 2 cores, ~6 GB of disk per arm kept). Small size:
# make bench-province PROVINCE_ARGS="--lines 200000 --units 3000"
PROVINCE_ARGS ?=
bench-province: venv
	uptime
	$(PY) bench/province.py $(PROVINCE_ARGS)
	uptime

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
