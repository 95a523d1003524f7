# The two commands: `make demo` and `make test`. Both build .venv first (Python 3.11+ and a C
# compiler are all they need: PostgreSQL and Redis come embedded from PyPI packages).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: venv chromium demo test lint format bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,embedded]'
	touch $(STAMP)

venv: $(STAMP)

## Debian's Chromium for the browser tests: installed when missing (as root or with sudo -n),
## otherwise one line says what to run. Checked first, so nothing slow happens before it.
chromium:
	@tools/ensure-chromium

## Start everything (web :8000, OCPP bridge :9000, worker, beat, simulator) with demo data.
demo: venv
	$(PY) -m portal.embedded --var var/demo -- $(PY) -m portal.supervisor demo

## Run the whole suite against real (embedded unless DATABASE_URL/REDIS_URL are set) PostgreSQL and Redis.
test: chromium
	@$(MAKE) --no-print-directory venv
	$(PY) -m portal.embedded --var var/test -- $(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venv
	$(PY) -m bench.balancing

clean:
	rm -rf $(VENV) var/test
