# fa_lessons: build the book and run the tests. Needs only Python 3.10+ and make.
#
#   make book     build the site into _build/html (creates .venv first if needed)
#   make test     build the book, then run every test (unit tests, nbval, browser check)
#   make refresh  re-execute the chapters and store their outputs (NB=book/xx.ipynb for some)
#   make bench    run the benchmarks (benchmarks/run.py)
#   make student  write the student edition (chapters without solutions) into _build/student
#   make clean    remove build output and caches (keeps .venv)
#
# The numba cache stays where numba puts it by default (fa_lessons/__pycache__, git-ignored):
# it is invalidated when a source file changes, and results never depend on it (stored
# outputs must be the same whether the cache is cold, as in CI, or warm).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

NOTEBOOKS := $(sort $(wildcard book/*.ipynb))
NB        ?= $(NOTEBOOKS)
# Per-cell time limit of nbval (seconds); the slowest chapter cell must stay well below it.
NB_CELL_TIMEOUT ?= 600

# Same kernel environment as tools/refresh_outputs.py: fixed hash seed, inline figures.
TEST_ENV := env -u MPLBACKEND PYTHONHASHSEED=0
PYTEST_NBVAL := --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg \
                --nbval-cell-timeout=$(NB_CELL_TIMEOUT)

.PHONY: all venv book test refresh bench student clean

all: book

venv: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "error: Python 3.10+ is needed, $(PYTHON) is " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

# Reinstall only when requirements.txt or pyproject.toml is newer than the stamp.
$(STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

# --all: re-read every page, so that -W also sees warnings of pages that did not change.
book: venv
	$(BIN)/jupyter-book build -W -n --keep-going --all .

# Under CI=true the browser test must run: install Chromium first if it is missing.
# The site is built before pytest starts, so no xdist worker races to build it.
test: venv
	@if [ "$${CI:-}" = "true" ]; then bash tools/ensure_chromium.sh; fi
	$(MAKE) book
	$(TEST_ENV) $(BIN)/python -m pytest -ra -n 2 --dist loadfile tests \
	    $(if $(NOTEBOOKS),$(PYTEST_NBVAL) $(NOTEBOOKS))

refresh: venv
	$(if $(strip $(NB)),$(TEST_ENV) $(BIN)/python tools/refresh_outputs.py $(NB),@echo "no notebooks in book/")

bench: venv
	$(BIN)/python benchmarks/run.py

student: venv
	$(BIN)/fa-lessons student-edition _build/student

clean:
	rm -rf _build .pytest_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
