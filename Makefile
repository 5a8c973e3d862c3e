# Two commands on a fresh machine: `make demo` and `make test`. Each builds .venv on first run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,spark]"
	touch $(STAMP)

# A synthetic city in the browser: built into demo/ on first run (about a minute), reused after.
demo: $(STAMP)
	$(BIN)/credo demo --folder demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scenarios
	$(BIN)/ruff format --check src tests bench scenarios
	$(BIN)/mypy src

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/reference.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/service.py
	$(BIN)/python bench/population.py
	$(BIN)/python bench/simulate.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/lint.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
