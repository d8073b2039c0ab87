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

.PHONY: help setup book pdf test test-fast lab workspace grade grade-all exercises autograder sandbox bench browser axe lint clean weights release hub binder-tools book-online gradescope

help:
	@echo "make book      set up .venv and build the HTML book into _build/html"
	@echo "make pdf       print the built book to _build/pdf/<page>.pdf (A4, offline, via Chromium)"
	@echo "make test      set up .venv, build the book and run every test"
	@echo "make lab       JupyterLab 4 on your copies in workspace/, opened on the start page"
	@echo "make workspace copy chapters and exercises into workspace/ (never overwrites your work)"
	@echo "make grade NB=exercises/<name>.ipynb   grade one notebook (table + JSON)"
	@echo "make grade-all DIR=submissions/ [JOBS=N] grade a folder of submissions into one CSV"
	@echo "make autograder EX=ex01_supervised_learning  otter autograder zip for Gradescope"
	@echo "make exercises regenerate exercises/ and solutions/ from solutions/masters/"
	@echo "make release DEST=../l2l-student  student release (git repository, no solutions/)"
	@echo "make bench     run the benchmarks into benchmarks/results.{json,md}"
	@echo "make weights   retrain every checkpoint the chapters load"

setup: $(STAMP)

# The stamp also depends on its own recipe: $(INSTALL_RECIPE) holds a checksum of the rule below
# (from its first line to the next empty line) and is rewritten only when that checksum changes,
# so editing the install recipe reinstalls on the next make, like editing requirements.txt.
INSTALL_RECIPE := $(VENV)/.install-recipe
$(INSTALL_RECIPE): FORCE
	@mkdir -p $(@D); sum="$$(sed -n '/^\$$(STAMP):/,/^$$/p' $(firstword $(MAKEFILE_LIST)) | cksum)"; \
	  [ "$$(cat $@ 2>/dev/null)" = "$$sum" ] || echo "$$sum" > $@

.PHONY: FORCE
FORCE:

$(STAMP): requirements.txt pyproject.toml $(INSTALL_RECIPE)
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

# Executes EVERY chapter on every build (static figures, no progress bars) and fails on any
# warning or error. Sphinx would otherwise re-read only notebooks whose own file changed, so an
# edit in course_pkg/ would leave old numbers on the pages: --all re-reads every page, and the
# doctree and execution caches are removed as well. _build/html is emptied so that pages of
# renamed or removed chapters do not linger. BOOK_SRC is the book's folder (tests build a
# scratch book with this very recipe).
BOOK_SRC ?= .
BOOK_FLAGS := --all $(JB_FLAGS)
book: $(STAMP)
	rm -rf "$(BOOK_SRC)/_build/html" "$(BOOK_SRC)/_build/.doctrees" "$(BOOK_SRC)/_build/.jupyter_cache"
	PATH="$(CURDIR)/$(BIN):$$PATH" TQDM_DISABLE=1 COURSE_STATIC_FIGURES=1 \
	  $(BIN)/jupyter-book build "$(BOOK_SRC)" $(BOOK_FLAGS)
	@echo "Built. Open _build/html/index.html in a browser (works offline)."

# One A4 PDF per page of the built book in _build/pdf/, printed offline by the Chromium the tests
# use (book/_ext/print_pdf.py; the print styles are in book/_static/course.css). Builds the book
# first only when it is missing.
pdf: $(STAMP) browser
	@test -f _build/html/index.html || $(MAKE) book
	$(PY) book/_ext/print_pdf.py _build/html _build/pdf

# The online build (book/_ext/course_launch.py): the same book with "Run this page" links on every
# chapter and exercise page that open the student release's learner copies on the class's
# JupyterHub (through nbgitpuller) and/or on Binder. It writes $(BOOK_SRC)/_build/html like `make
# book`, which stays offline (run it again for the offline book).
book-online: $(STAMP)
	@test -n "$(REPO_URL)" -a -n "$(HUB_URL)$(BINDER_URL)" || { echo "usage: make book-online \
	REPO_URL=<student release git URL> HUB_URL=https://hub.example.edu and/or \
	BINDER_URL=https://mybinder.org [BRANCH=main]"; exit 2; }
	COURSE_ONLINE=1 COURSE_REPO_URL="$(REPO_URL)" COURSE_JUPYTERHUB_URL="$(HUB_URL)" \
	  COURSE_BINDERHUB_URL="$(BINDER_URL)" COURSE_BRANCH="$(or $(BRANCH),main)" \
	  $(MAKE) -f "$(abspath $(firstword $(MAKEFILE_LIST)))" -o "$(STAMP)" book

# Debian's Chromium drives the tests of the built HTML (tests/test_book_html.py); installed with
# apt-get when missing (as root, or through password-less sudo). When that is impossible the
# browser tests skip with the reason; under CI=true this target fails instead.
# $COURSE_CHROMIUM may point at any other Chromium binary.
browser:
	@set -u; \
	if [ -n "$${COURSE_CHROMIUM:-}" ] && [ -x "$${COURSE_CHROMIUM}" ]; then \
	  echo "browser: using $$COURSE_CHROMIUM"; exit 0; fi; \
	if command -v chromium >/dev/null 2>&1; then echo "browser: $$(command -v chromium)"; exit 0; fi; \
	fail() { echo "WARNING: $$1"; echo "  The browser tests will skip (and fail under CI=true)."; \
	  case "$${CI:-}" in 1|true|TRUE|yes) exit 1;; *) exit 0;; esac; }; \
	command -v apt-get >/dev/null 2>&1 || fail "chromium is missing and apt-get is not available \
	(not Debian/Ubuntu): install Chromium and set COURSE_CHROMIUM=/path/to/chromium."; \
	SUDO=""; \
	if [ "$$(id -u)" != 0 ]; then \
	  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else fail "chromium is missing and installing it needs root: run \
	'sudo apt-get install chromium' once, then re-run."; fi; \
	fi; \
	echo "Installing Debian's chromium for the browser tests (apt-get, ~1-2 min)..."; \
	if $$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq && \
	   DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
	     --no-install-recommends chromium >/dev/null && command -v chromium >/dev/null; then \
	  echo "browser: installed $$(command -v chromium)"; \
	else fail "apt-get could not install chromium (no network to the Debian mirror?)."; fi

# axe-core, the WCAG checker that tests/test_accessibility.py injects into every page: the npm
# package (pinned), installed once into the git-ignored .cache/axe by npm from the npm registry
# (no CDN at test time). Without npm the accessibility tests skip with the reason (fail under
# CI=true). $COURSE_AXE_JS may point at another axe.min.js.
AXE_VERSION := 4.14.1
AXE_JS := .cache/axe/node_modules/axe-core/axe.min.js

axe: $(AXE_JS)

$(AXE_JS):
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "WARNING: npm is missing, so axe-core cannot be installed (apt-get install npm)."; \
	  echo "  The accessibility tests will skip (and fail under CI=true)."; \
	  case "$${CI:-}" in 1|true|TRUE|yes) exit 1;; *) exit 0;; esac; fi; \
	mkdir -p .cache/axe && npm install --prefix .cache/axe --no-save --no-audit --no-fund \
	  --loglevel=error axe-core@$(AXE_VERSION) && test -f $@

# Lint first (prerequisites run left to right): a style error fails in seconds, not after the book.
test: $(STAMP) lint browser axe sandbox hub binder-tools book
	$(BIN)/pytest -q

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not browser and not slow"

# Your own copies of the chapters, the exercises and their public tests, in the git-ignored
# workspace/. A file already there is never overwritten, so `make exercises` (which regenerates
# exercises/) and a second `make workspace` leave your answers alone; delete a file to get a fresh
# copy of it.
workspace: $(STAMP)
	$(PY) -m course_pkg.book_tools workspace

# JupyterLab 4 on workspace/ (so autosave and your edits never touch book/ or exercises/), opened
# on the course's start page (book/intro.md, rendered). The "Python 3 (course)" kernel is .venv
# (course_pkg, ipywidgets 8, anywidget, jupyterlab-myst), figures are interactive (no Agg backend,
# no static-figure switch). .jupyter/lab/settings/overrides.json makes Markdown files open
# rendered and turns off news/update checks. Extra options: make lab LAB_ARGS="--no-browser
# --port=8899". (--allow-root is added for root, e.g. in containers.)
lab: $(STAMP) workspace
	@exts="$$($(BIN)/jupyter labextension list 2>&1)"; \
	for e in "@jupyter-widgets/jupyterlab-manager" "anywidget" "jupyterlab-myst"; do \
	  echo "$$exts" | grep -q "$$e .*enabled" || { echo "ERROR: the JupyterLab extension $$e \
	is missing or disabled; reinstall with: $(PY) -m pip install -r requirements.txt"; exit 1; }; \
	done
	@$(PY) -c "import course_pkg, ipywidgets, anywidget, jupyterlab_myst" || { echo "ERROR: .venv \
	lacks course_pkg/ipywidgets/anywidget/jupyterlab_myst; run: rm $(STAMP) && make setup"; exit 1; }
	env -u MPLBACKEND -u COURSE_STATIC_FIGURES PATH="$(CURDIR)/$(BIN):$$PATH" \
	  $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)/workspace" \
	  --LabApp.default_url=/lab/tree/book/intro.md \
	  --LabApp.app_settings_dir="$(CURDIR)/.jupyter/lab/settings" \
	  $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(LAB_ARGS)

# bubblewrap sandboxes the learner's kernel while grading (course_pkg/grading/sandbox.py): installed
# with apt-get when missing (as root, or through password-less sudo). Without it `make grade`
# still grades but says the result is not tamper-proof, and `make grade-all` refuses (unless
# INSECURE=1); under CI=true a failed install fails this target.
sandbox:
	@set -u; \
	if command -v bwrap >/dev/null 2>&1; then exit 0; fi; \
	fail() { echo "WARNING: $$1"; echo "  Grading will run without the sandbox (not tamper-proof)."; \
	  case "$${CI:-}" in 1|true|TRUE|yes) exit 1;; *) exit 0;; esac; }; \
	command -v apt-get >/dev/null 2>&1 || fail "bubblewrap is missing and apt-get is not available \
	(not Debian/Ubuntu): install bubblewrap (bwrap) with your package manager."; \
	SUDO=""; \
	if [ "$$(id -u)" != 0 ]; then \
	  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else fail "bubblewrap is missing and installing it needs root: run \
	'sudo apt-get install bubblewrap' once, then re-run."; fi; \
	fi; \
	echo "Installing Debian's bubblewrap for the grading sandbox (apt-get)..."; \
	if $$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq && \
	   DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
	     --no-install-recommends bubblewrap >/dev/null && command -v bwrap >/dev/null; then \
	  echo "sandbox: installed $$(command -v bwrap)"; \
	else fail "apt-get could not install bubblewrap (no network to the Debian mirror?)."; fi

grade: $(STAMP) sandbox
	@test -n "$(NB)" || { echo "usage: make grade NB=exercises/<name>.ipynb"; exit 2; }
	$(PY) -m course_pkg.grading grade -- "$(NB)"

grade-all: $(STAMP) sandbox
	@test -n "$(DIR)" || { echo "usage: make grade-all DIR=<folder of submissions> [OUT=grades.csv] [JOBS=N] [INSECURE=1]"; exit 2; }
	$(PY) -m course_pkg.grading grade-all --csv "$(or $(OUT),grades.csv)" \
	  $(if $(JOBS),--jobs $(JOBS)) $(if $(INSECURE),--insecure) -- "$(DIR)"

# An otter-grader autograder zip for Gradescope with the same hidden tests: autograder/<EX>.zip.
autograder: $(STAMP)
	@test -n "$(EX)" || { echo "usage: make autograder EX=ex01_supervised_learning"; exit 2; }
	$(PY) -m course_pkg.grading autograder "$(EX)"

# The Gradescope autograder of course_pkg/classroom/platforms.py: the tamper-resistant grader
# (notebook behind bubblewrap or, in Gradescope's container, the container mode; hidden tests in
# the trusted process), CPU-only torch: autograder/<EX>-gradescope.zip.
gradescope: $(STAMP)
	@test -n "$(EX)" || { echo "usage: make gradescope EX=ex01_supervised_learning"; exit 2; }
	$(PY) -m course_pkg.classroom gradescope-zip "$(EX)"

exercises: $(STAMP)
	$(PY) -m course_pkg.grading assign-all

# The student release (course_pkg/classroom/release.py): the book, the learner exercises, their
# public tests, course_pkg and the set-up files, committed as a git repository in DEST (a folder
# outside this one); nothing of solutions/ or the hidden tests (searched for before committing).
# Run it again to publish an update (a new commit; nbgitpuller keeps the students' edits).
release: $(STAMP)
	@test -n "$(DEST)" || { echo "usage: make release DEST=../learning-to-learn-student"; exit 2; }
	$(PY) -m course_pkg.classroom release "$(DEST)"

# What tests/test_hub.py needs to run a real JupyterHub on 127.0.0.1 (INSTRUCTORS.md, route A):
# JupyterHub and nbgitpuller (hub/requirements.txt, the single-user additions) into .venv, and
# JupyterHub's proxy, configurable-http-proxy, from the npm registry into the git-ignored
# .cache/hub. Without npm the hub test skips with the reason (fails under CI=true).
CHP_VERSION := 5.3.0
CHP := .cache/hub/node_modules/.bin/configurable-http-proxy
HUB_STAMP := $(VENV)/.hub-installed

hub: $(HUB_STAMP) $(CHP)

$(HUB_STAMP): $(STAMP) hub/requirements.txt
	$(PY) -m pip install --quiet -r hub/requirements.txt
	@touch $@

$(CHP):
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "WARNING: npm is missing, so configurable-http-proxy cannot be installed (apt-get install npm)."; \
	  echo "  The JupyterHub test will skip (and fail under CI=true)."; \
	  case "$${CI:-}" in 1|true|TRUE|yes) exit 1;; *) exit 0;; esac; fi; \
	mkdir -p .cache/hub && npm install --prefix .cache/hub --no-save --no-audit --no-fund \
	  --loglevel=error configurable-http-proxy@$(CHP_VERSION) && test -x $@

# tests/test_binder.py's tools, in the git-ignored .cache/classroom-tools: jupyter-repo2docker
# (writes the Dockerfile BinderHub would build from binder/, no Docker needed) and uv (installs
# binder/requirements.txt into a scratch environment in seconds rather than pip's minutes).
TOOLS := .cache/classroom-tools
binder-tools: $(TOOLS)/.installed

$(TOOLS)/.installed:
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet jupyter-repo2docker==2026.4.0 uv==0.13.8
	@touch $@

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# Retrains every committed checkpoint the chapters load (seeded: the same numbers again): sinusoid,
# the few-shot models (replaying each stored iteration schedule, two processes of one thread)
# + table, chapter 2's design-choice table, meta-RL, chapter 11's short runs.
weights: $(STAMP)
	$(PY) -m course_pkg.train all

lint: $(STAMP)
	$(BIN)/ruff check course_pkg tests benchmarks

clean:
	rm -rf _build
