# The two commands of the README: `make run` and `make test`. Everything else is theirs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

## make run: migrate SQLite, create the demo account (keys printed once), serve on 127.0.0.1:8000
run: $(VENV)/.runtime
	$(BIN)/taskforce migrate
	$(BIN)/taskforce demo
	TASKFORCE_CALLBACK_ALLOWED_NETWORKS='["127.0.0.0/8"]' $(BIN)/taskforce serve

## make test: install what the tests need, then run the whole suite
test: $(VENV)/.dev
	scripts/test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var
