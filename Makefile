# Learning to Learn — the two commands a newcomer needs are `make book` and `make test`.
# Every target sets up .venv first (idempotent; re-runs only when requirements change).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.course-installed
JB_FLAGS := -W -n --keep-going
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: help setup book test test-fast lab grade grade-all exercises bench browser lint clean weights

help:
	@echo "make book      set up .venv and build the HTML book into _build/html"
	@echo "make test      set up .venv, build the book and run every test"
	@echo "make lab       JupyterLab 4 on the course"
	@echo "make grade NB=exercises/<name>.ipynb   grade one notebook (table + JSON)"
	@echo "make grade-all DIR=submissions/        grade a folder of submissions into one CSV"
	@echo "make exercises regenerate exercises/ and solutions/ from solutions/masters/"
	@echo "make bench     run the benchmarks into benchmarks/results.{json,md}"
	@echo "make weights   retrain every checkpoint the chapters load"

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@# learn2learn 0.2.0 ships only an sdist whose Cython build needs the venv's own build tools.
	@# Its declared deps (gsutil, qpth, old gym) would pin numpy<2, so install it without them and
	@# add the one it imports (gym, pure Python; the course itself uses gymnasium).
	$(PY) -c "import learn2learn" >/dev/null 2>&1 || $(PY) -m pip install --quiet --no-deps \
	    --no-build-isolation --config-settings="--global-option=build_ext" learn2learn==0.2.0
	$(PY) -m pip install --quiet --no-deps gym==0.26.2 gym_notices==0.1.0
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)" >/dev/null
	@touch $@

book: $(STAMP)
	COURSE_STATIC_FIGURES=1 $(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "Open _build/html/index.html in a browser (works offline)."

# Debian's Chromium drives the tests of the built HTML; installed when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "WARNING: could not install chromium (needs root and Debian's apt); browser tests will skip (fail under CI)."; }

test: $(STAMP) browser book
	$(BIN)/ruff check course_pkg tests benchmarks
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not browser and not slow"

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=.

grade: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make grade NB=exercises/<name>.ipynb"; exit 2; }
	$(PY) -m course_pkg.grading grade "$(NB)"

grade-all: $(STAMP)
	@test -n "$(DIR)" || { echo "usage: make grade-all DIR=<folder of submissions> [OUT=grades.csv]"; exit 2; }
	$(PY) -m course_pkg.grading grade-all "$(DIR)" --csv "$(or $(OUT),grades.csv)"

exercises: $(STAMP)
	$(PY) -m course_pkg.grading assign-all

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

weights: $(STAMP)
	$(PY) -m course_pkg.train all

lint: $(STAMP)
	$(BIN)/ruff check course_pkg tests benchmarks

clean:
	rm -rf _build
