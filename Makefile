# Two entry points: `make run` (install, train if needed, serve) and `make test`.
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

$(BIN)/desk: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.PHONY: install run test bench
install: $(BIN)/desk

run: install
	$(BIN)/desk run

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/nlu.py
