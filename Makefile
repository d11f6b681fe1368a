# The README's two commands: `make lab` (set up, open the lessons) and `make test` (set up, run every check).
# Both create .venv on first use; re-running them reinstalls nothing unless requirements changed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.jbert-installed

.PHONY: setup lab test lint clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name jbert --display-name "Python 3 (jbert)" >/dev/null
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/00_index.ipynb $(if $(DISPLAY),,--no-browser)

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV)
