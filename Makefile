# FinSync: `make run` starts the whole system on the sample data, `make test` runs the checks.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

.PHONY: venv test lint pytest run bench clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(PY) -m black --check .
	$(PY) -m flake8

pytest: venv
	$(PY) -m pytest

test: lint pytest

run: venv
	$(PY) -m aggregator.launcher $(ARGS)

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache bench/.venv bench/out
