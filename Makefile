# `make run` and `make test` set everything up from a fresh clone (Python 3.11+ and make only).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check install demo bench clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/gutaxis run

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The unit tests only (see README): tests marked slow (pipeline, CLI, Dagster) or realdata are deselected.
check: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not realdata"

demo: $(STAMP)
	$(BIN)/python -m gutaxis.demo data/demo

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py

clean:
	rm -rf $(VENV) data/warehouse.duckdb* .dagster
