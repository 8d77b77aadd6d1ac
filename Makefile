# The two set-up commands of the README, on a fresh machine:
#   make demo   - virtualenv, everything installed, default models built, JupyterLab on the quickstart notebook
#   make test   - virtualenv, everything the tests need (chromium, models, test media), the whole suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
# torch/torchvision from PyPI (a CUDA build that also runs on CPU); override e.g. TORCH_SPEC="torch==2.9.1 torchvision==0.24.1"
TORCH_SPEC ?= torch torchvision
STAMP := $(VENV)/.installed
MODELS_STAMP := $(VENV)/.models
# independent dataset readers for the export tests, in their own virtualenv: datumaro needs
# opencv-python-headless<5, which would overwrite this project's opencv-contrib-python 5.x
READERS := $(VENV)-readers
READERS_STAMP := $(READERS)/.installed
PORT ?= 8888
PYTEST_ARGS ?=
# two test processes (pytest-xdist), one per core: the tests run single-threaded (OMP_NUM_THREADS=1); work stealing
# keeps most of a file in one process (module fixtures) and balances the end; TEST_WORKERS=0 runs them in this process
TEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist worksteal)
# test-browser-repeat: how many runs of the browser tests in a row
N ?= 5

.PHONY: help install models readers chromium test test-fast test-browser-repeat lint format demo demo-headless bench notebooks clean

help:
	@echo "make demo           JupyterLab on notebooks/01_quickstart.ipynb (installs everything first)"
	@echo "make demo-headless  the same pipeline without a browser; outputs in out/"
	@echo "make test           the whole test suite (installs what it needs)"
	@echo "make test-browser-repeat N=5   the browser tests N times in a row, stopping at the first failure"
	@echo "make lint (ruff + mypy) | format | bench | notebooks | clean"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml Makefile tests/plugins/aw-demo-plugin/pyproject.toml $(wildcard tests/plugins/aw-demo-plugin/aw_demo_plugin/*.py)
	$(PIP) install --upgrade "pip>=25.1" setuptools wheel
	$(PIP) install $(TORCH_SPEC)
	# sam2 ships as an sdist whose build imports torch: build it against the torch installed above
	SAM2_BUILD_CUDA=$${SAM2_BUILD_CUDA:-0} $(PIP) install --no-build-isolation "sam2>=1.1.0"
	$(PIP) install -e ".[all]" --group dev
	# a third-party package in miniature (a segmenter and an effect through entry points; tests/test_plugin.py)
	$(PIP) install ./tests/plugins/aw-demo-plugin
	$(BIN)/python -c "import cv2, torch, sam2, transformers, mediapipe, supervision, ipycanvas; print('imports ok, cv2', cv2.__version__)"
	$(PIP) check
	touch $(STAMP)

install: $(STAMP)

# default models that need no download from a model hub (MediaPipe's pose, face and hand models, built from a PyPI
# wheel), and the ultralytics wheel whose two photos show hands (the hand tests' media; downloaded, never installed)
$(MODELS_STAMP): $(STAMP)
	$(BIN)/python -m annotator_widgets.checkpoints fetch pose_landmarker_full pose_landmarker_full_wheel
	$(BIN)/python -m annotator_widgets.checkpoints fetch blaze_face_short_range face_detector_short_range_wheel
	$(BIN)/python -m annotator_widgets.checkpoints fetch hand_landmarker hand_landmarker_full_wheel
	$(BIN)/python -m tests.support.hand_photos
	touch $(MODELS_STAMP)

models: $(MODELS_STAMP)

$(READERS_STAMP):
	$(PYTHON) -m venv $(READERS)
	$(READERS)/bin/python -m pip install --upgrade "pip>=25.1"
	$(READERS)/bin/python -m pip install "datumaro>=1.13" "pycocotools>=2.0.8"
	$(READERS)/bin/python -c "import datumaro, pycocotools; print('readers ok, datumaro', datumaro.__version__)"
	touch $(READERS_STAMP)

readers: $(READERS_STAMP)

chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi
	@chromium --version

test: install models chromium readers
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	AW_STRICT_TESTS=1 $(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: install readers
	$(BIN)/python -m pytest -m "not browser and not slow" $(XDIST) $(PYTEST_ARGS)

# flakiness check: N runs of the browser tests in a row; each run prints its pass count, the first failure stops
# (and shows that run's output)
test-browser-repeat: install models chromium
	@log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	for i in $$(seq 1 $(N)); do \
		PYTHONPATH=$$PWD $(BIN)/python -m pytest -m browser -x -q -p no:cacheprovider $(PYTEST_ARGS) >"$$log" 2>&1; rc=$$?; \
		echo "browser run $$i/$(N): $$(grep -Eo '[0-9]+ passed' "$$log" | tail -n 1 || true) ($$(tail -n 1 "$$log"))"; \
		if [ $$rc -ne 0 ]; then cat "$$log"; echo "browser run $$i/$(N) FAILED"; exit $$rc; fi; \
	done; \
	echo "$(N) browser runs in a row, no failure"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

notebooks: install
	$(BIN)/jupytext --to ipynb --update-metadata '{"jupytext": null}' notebooks/*.py

demo: install models
	$(BIN)/jupyter lab --ip 127.0.0.1 --port $(PORT) notebooks/01_quickstart.ipynb

demo-headless: install models
	$(BIN)/annotator-widgets demo --out out

bench: install models chromium
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf out .pytest_cache .ruff_cache build dist *.egg-info
