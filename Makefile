# The book's two commands: `make book` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Strict: warnings are errors, references are checked, and _config.yml makes a raising cell
# fail the build. --keep-going reports every problem before failing.
BUILD_FLAGS ?= -W -n --keep-going
# The book's charts use the site's own renderer, and chapter 8's pretrained weights are cached
# in _build (so `make clean` and a package change drop them too). The live widgets' models are
# exported into _build/live, which _config.yml serves as static files (_static/models/).
BOOK_ENV := RNN2T_BOOK_BUILD=1 RNN2T_CACHE_DIR=$(CURDIR)/_build/checkpoints \
	RNN2T_LIVE_DIR=$(CURDIR)/_build/live
# The live widgets' runtime, fetched by make book (see below).
ORT_WEB := book/_static/live/ort/VERSION
# Chapters executed at a time before the strict build (rnn2transformer.book.prefill): two, one
# thread each, on a machine with two cores (docs/design.md, "Two chapters at a time"); 1 keeps
# the old way, one chapter at a time with as many threads as the machine leaves free. The book's
# language models (rnn2transformer.language_models, read by chapters 7 to 10) are trained first,
# as many at a time, into the build's cache.
BOOK_JOBS ?= 2
# `make pdf` builds here, apart from the site's build state (see the PDF section below).
PDF_BUILD := _build/pdf
# The package files the chapters execute (the benchmark and build-report tools are not among
# them, so changing those does not force a cold rebuild).
SRC_FILES := $(filter-out %/bench.py %/buildinfo.py %/prefill.py,\
	$(shell find src -name '*.py' -not -path '*/__pycache__/*')) pyproject.toml

.PHONY: help setup book pdf texlive chromium bench torchrun test unit unit-fast gpu-test site-test \
	notebook-test exercise-test pdf-test lint serve \
	notebooks lock vendor-js clean

help:
	@echo "make book   - set up .venv, execute every chapter, write the site to _build/html"
	@echo "make test   - set up, lint, unit tests, strict build, tests of the site in Chromium"
	@echo "              (installed if missing), launched notebooks, exercises, the PDF"
	@echo "make unit-fast - the unit tests without those marked slow (seconds, not minutes)"
	@echo "make pdf    - the book as one PDF, _build/book.pdf (installs Debian's TeX Live if needed)"
	@echo "make serve  - preview _build/html on http://127.0.0.1:$(PORT)"
	@echo "make bench  - measure speed and memory, write benchmarks/results/<device>.json"
	@echo "make gpu-test - the CUDA paths' tests (on a machine with a GPU; skipped elsewhere)"
	@echo "make torchrun - chapter 1's training data-parallel on two CPU processes (torchrun)"
	@echo "make notebooks - regenerate chapters/*.ipynb from chapters/*.md (jupytext)"
	@echo "make lock   - re-resolve requirements.in into the pinned requirements.txt"
	@echo "make vendor-js - refresh the chart and math JavaScript the site serves itself"
	@echo "make clean  - remove _build"

# --- set-up: a virtual environment with the pinned requirements and the package (editable) ---
$(BIN)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), \
	  f"Python 3.11+ is needed, $(PYTHON) is {sys.version.split()[0]}"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

setup: $(BIN)/.installed

# --- the book ---
# jupyter-cache reuses executed chapters, but it only sees the chapters' own code. When the
# package (or the environment) changes, executed results and rendered pages may be stale, so
# they are all dropped and the book is executed again.
# Chapter 7 also reads the committed GPU benchmark results, so a new one re-executes the book.
_build/.package-stamp: $(SRC_FILES) $(wildcard src/rnn2transformer/data/*.json \
	src/rnn2transformer/data/*.gz) requirements.txt \
	$(wildcard benchmarks/results/cuda-*.json)
	rm -rf _build/.jupyter_cache _build/.doctrees _build/html _build/checkpoints _build/live \
	  $(PDF_BUILD)
	mkdir -p _build
	touch $@

# The benchmarks appendix reads benchmarks/results/*.json at build time; when they change, its
# source is touched so Sphinx re-reads it (its notebook metadata forces re-execution).
_build/.bench-stamp: $(wildcard benchmarks/results/*.json)
	mkdir -p _build
	touch book/benchmarks.md $@

# Sphinx copies static files only when some page is rebuilt: after a change in book/_static,
# drop its environment so every page is re-read (from the execution cache: no re-execution).
_build/.static-stamp: $(wildcard book/_static/*.css book/_static/*.js book/_static/live/*.js) \
	$(ORT_WEB)
	rm -f _build/.doctrees/environment.pickle
	mkdir -p _build
	touch $@

# "How to study" counts the chapters' exercises and reads their measured times: it is re-read
# when a chapter, the table of contents or a results file changes.
_build/.study-stamp: $(wildcard chapters/*.md benchmarks/results/*.json) _toc.yml
	mkdir -p _build
	touch book/how-to-study.md $@

# The live widgets' runtime (onnxruntime-web, ORT_WEB above), from the npm registry with a pinned
# SHA-256; it is 14 MB, so it is fetched once instead of committed.
$(ORT_WEB): scripts/fetch_onnxruntime_web.py
	$(PYTHON) scripts/fetch_onnxruntime_web.py

book: setup $(ORT_WEB) _build/.package-stamp _build/.bench-stamp _build/.study-stamp \
	_build/.static-stamp
	@mkdir -p _build/live/models; \
	start=$$(date +%s.%N); \
	{ $(BOOK_ENV) $(BIN)/python -m rnn2transformer.language_models train-all --jobs $(BOOK_JOBS) && \
	  $(BOOK_ENV) $(BIN)/python -m rnn2transformer.book.prefill --jobs $(BOOK_JOBS) && \
	  $(BOOK_ENV) $(BIN)/jupyter-book build . $(BUILD_FLAGS); } 2>&1 | tee _build/last-build.log; \
	$(BIN)/python -m rnn2transformer.book.buildinfo _build --record _build/last-build.log \
	  $$start $$(date +%s.%N)

# --- the PDF edition ---
# Sphinx's LaTeX builder, typeset by XeLaTeX. It has its own output folder (so the site's build
# state is untouched) but shares the execution cache with `make book` (execute.cache in
# _config.yml): nothing is executed twice. Charts arrive as vector PDFs drawn by vl-convert.
TEXLIVE := texlive-xetex texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended \
	texlive-plain-generic fonts-freefont-otf latexmk poppler-utils

texlive:
	@dpkg -s $(TEXLIVE) >/dev/null 2>&1 || { \
	  echo "installing TeX Live (Debian packages): $(TEXLIVE)"; \
	  SUDO=$$([ "$$(id -u)" -ne 0 ] && echo sudo || true); \
	  $$SUDO apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
	    $(TEXLIVE) >/dev/null; }

pdf: setup texlive _build/.package-stamp _build/.bench-stamp
	@start=$$(date +%s.%N); \
	$(BOOK_ENV) $(BIN)/jupyter-book build . --builder latex --path-output $(PDF_BUILD) $(BUILD_FLAGS) \
	  2>&1 | tee _build/last-pdf-build.log; \
	echo "typesetting with XeLaTeX (log: $(PDF_BUILD)/_build/latex/latexmk.log)"; \
	cd $(PDF_BUILD)/_build/latex && \
	  latexmk -xelatex -interaction=nonstopmode -halt-on-error book.tex </dev/null \
	  > latexmk.log 2>&1 || { tail -40 latexmk.log; exit 1; }; \
	cd $(CURDIR) && cp $(PDF_BUILD)/_build/latex/book.pdf _build/book.pdf; \
	seconds=$$(awk "BEGIN {printf \"%.1f\", $$(date +%s.%N) - $$start}"); \
	echo "{\"seconds\": $$seconds}" > _build/pdf-time.json; \
	echo "wrote _build/book.pdf ($$(pdfinfo _build/book.pdf | awk '/^Pages/ {print $$2}') pages)" \
	  "in $$seconds s"

# On a GPU the benchmark also executes every chapter at the default and the full scale.
bench: setup
	RNN2T_BOOK_BUILD=1 $(BIN)/python -m rnn2transformer.book.bench \
	  $$($(BIN)/python -c 'import torch; print("--chapters default,full" if torch.cuda.is_available() else "")')

serve:
	@test -f _build/html/index.html || { echo "no site yet: run 'make book' first"; exit 1; }
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory _build/html $(PORT)

# --- tests ---
# --- data parallelism: the unchanged training loop under torchrun (book/distributed.md) ---
# Two processes on the CPU with the gloo backend; GLOO_SOCKET_IFNAME=lo binds gloo to the
# loopback interface, which containers need when their host name does not resolve.
torchrun: setup
	GLOO_SOCKET_IFNAME=$${GLOO_SOCKET_IFNAME:-lo} $(BIN)/torchrun --standalone --nproc_per_node=2 \
	  -m rnn2transformer.torchrun_example

lint: setup
	$(BIN)/ruff check src tests

unit: setup
	$(BIN)/python -m pytest tests/unit -q

unit-fast: setup
	$(BIN)/python -m pytest tests/unit -q -m "not slow"

# Debian's Chromium for the browser tests, installed when missing (with apt-get, through sudo
# unless root), as `make pdf` installs TeX Live; without apt-get the tests skip, and `make test`
# says so in its last lines.
CHROMIUM_FOUND = command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
	|| command -v google-chrome >/dev/null || [ -n "$${CHROMIUM:-}" ]
chromium:
	@if $(CHROMIUM_FOUND); then :; \
	elif command -v apt-get >/dev/null; then \
	  echo "installing Chromium (Debian package) for the browser tests"; \
	  SUDO=$$([ "$$(id -u)" -ne 0 ] && echo sudo || true); \
	  $$SUDO apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	else echo "no Chromium and no apt-get here: the browser tests will be skipped"; fi

site-test: setup chromium
	$(BIN)/python -m pytest tests/site -q -s

# The CUDA paths on a GPU (skipped without one; scripts/device_check.sh runs them on a lent GPU)
gpu-test: setup
	$(BIN)/python -m pytest tests/gpu -q

# Every chapter notebook in a fresh Colab-like environment, the Binder environment, and the live
# explorers there (installs torch into two new virtual environments). The same run of each
# chapter does its implement exercises: every hidden solution passes its own self-check, every
# unfilled placeholder fails it (tests/notebooks/solution_steps.py).
notebook-test: setup
	$(BIN)/python -m pytest tests/notebooks -q -s

# The exercises alone (the chapters that have implement exercises, launched as above).
exercise-test: setup
	$(BIN)/python -m pytest tests/notebooks/test_solutions.py -q

# The PDF's structure: a new page for every chapter, every figure present.
pdf-test: setup
	$(BIN)/python -m pytest tests/pdf -q -s

# make test runs its phases one after another, each timed into _build/phase-times.tsv, the
# set-up first, then a measure of how fast the machine is (a few seconds of the benchmark's
# training steps); it ends, pass or fail, with the table of where the time went
# (rnn2transformer.book.buildinfo).
TEST_PHASES := lint unit book site-test notebook-test pdf pdf-test
test:
	@mkdir -p _build; rm -f _build/phase-times.tsv; status=0; \
	timed() { start=$$(date +%s.%N); "$$@" || status=$$?; printf '%s\t%s\t%s\n' "$$phase" \
	  "$$(awk "BEGIN {printf \"%.1f\", $$(date +%s.%N) - $$start}")" "$$status" \
	  >> _build/phase-times.tsv; }; \
	phase=setup; timed $(MAKE) --no-print-directory setup; \
	[ "$$status" -ne 0 ] || { phase=calibration; timed $(BIN)/python -m rnn2transformer.book.bench \
	  --calibrate _build/calibration.json; }; \
	for phase in $(TEST_PHASES); do \
	  [ "$$status" -eq 0 ] || break; timed $(MAKE) --no-print-directory $$phase; done; \
	[ ! -x $(BIN)/python ] || $(BIN)/python -m rnn2transformer.book.buildinfo _build --summary \
	  || true; \
	[ "$$status" -eq 0 ] || { echo "make test: FAILED (the table above names the phase)"; \
	  exit "$$status"; }; \
	if $(CHROMIUM_FOUND); then echo "make test: every test ran, the browser tests in Chromium"; \
	else echo "make test: Chromium is missing, so the browser tests of tests/site were SKIPPED" \
	  "(install Chromium, or set CHROMIUM=/path/to/chrome, and run make site-test)"; fi

# --- maintenance ---
notebooks: setup
	$(BIN)/jupytext --update --to ipynb chapters/*.md  # --update keeps cell ids stable

lock:
	rm -rf _build/lockenv && $(PYTHON) -m venv _build/lockenv
	_build/lockenv/bin/pip install --quiet -r requirements.in
	{ echo "# The book's whole environment, resolved from requirements.in by 'make lock' on Python 3.11."; \
	  echo "# torch==2.13.0 is the CPU wheel on the book's build machines; see README for a CUDA build."; \
	  _build/lockenv/bin/pip freeze | grep -v '^-e' | sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/'; \
	} > requirements.txt
	rm -rf _build/lockenv

vendor-js:
	bash scripts/vendor_js.sh

clean:
	rm -rf _build
