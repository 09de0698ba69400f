# The two commands a fresh machine needs (see README):
#   make demo   - set up, then open the demo notebook in JupyterLab
#                 (make demo-headless: no browser; executes it and prints where the result is)
#   make test   - set up, then run every test
# and for contributors: make lint (ruff + mypy), make docs (the API reference), make bench,
# make test-pythons (the engine's unit tests on each Python 3.11-3.13 found)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= notebooks/01_quickstart.ipynb
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
# The browser tests drive Debian's chromium (no `playwright install`, no download at test time).
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup browser-deps test demo demo-headless bench docs lint test-pythons clean

setup: $(STAMP)

# PYTHONWARNINGS: setuptools' notice that an editable install finds the package through an
# import hook is information only (nothing to fix here); filtered so that set-up prints no warning.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "notebook_flow needs Python >= 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Chromium for tests/browser: installed with apt-get when running as root, else a clear error.
browser-deps:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make test: installing Debian's chromium for the browser tests (apt-get)"; \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	  else \
	    echo "make test: the browser tests need Chromium at $(CHROMIUM), which is missing." >&2; \
	    echo "  Install it:  sudo apt-get install -y chromium" >&2; \
	    echo "  or point at another build:  make test CHROMIUM=/path/to/chromium" >&2; \
	    exit 1; \
	  fi; \
	fi

test: setup browser-deps
	NOTEBOOK_FLOW_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -q

demo: setup
	$(BIN)/jupyter lab $(ROOT_FLAG) $(DEMO)

demo-headless: setup
	@mkdir -p notebooks/_output
	$(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.store_widget_state=False --output-dir notebooks/_output $(DEMO)
	$(BIN)/jupyter nbconvert --to html --output-dir notebooks/_output notebooks/_output/$(notdir $(DEMO))
	@echo "Executed demo: $(abspath notebooks/_output/$(notdir $(DEMO)))"
	@echo "Rendered HTML: $(abspath notebooks/_output/$(basename $(notdir $(DEMO))).html)"

bench: setup
	$(BIN)/python -m benchmarks.run

# The guard rails, over the whole repository (ruff) and the whole package (mypy --strict, as
# configured in pyproject.toml).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# The engine's unit tests (no kernel, browser, notebook or OTel; the property tests at their quick
# profile) on each other Python version
# the package supports (make test runs everything on the Python of .venv), each in its own venv
# (.venv-3.X) with the package, its dask extra and pytest. A version that cannot be found
# (under pyenv, or python3.X on PATH) is reported, not failed.
MAIN_PYTHON := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PYTHONS ?= $(filter-out $(MAIN_PYTHON),3.11 3.12 3.13)
PYENV_ROOT ?= $(HOME)/.pyenv
ENGINE_TESTS := tests --ignore=tests/browser --ignore=tests/jupyter --ignore=tests/viz \
  --ignore=tests/test_notebooks.py --ignore=tests/test_dask_executor.py \
  --ignore=tests/test_benchmarks_smoke.py --ignore=tests/test_interrupt_kernel.py \
  --ignore=tests/test_otel.py --ignore=tests/test_install.py
test-pythons:
	@for v in $(PYTHONS); do \
	  py=$$(ls -d $(PYENV_ROOT)/versions/$$v.*/bin/python$$v 2>/dev/null | tail -n 1); \
	  [ -n "$$py" ] || py=$$(command -v python$$v); \
	  if [ -z "$$py" ] || ! "$$py" -c pass 2>/dev/null; then echo "test-pythons: Python $$v not found, not tested"; continue; fi; \
	  echo "test-pythons: Python $$v ($$py)"; \
	  if [ ! -f .venv-$$v/.installed ] || [ pyproject.toml -nt .venv-$$v/.installed ]; then \
	    $$py -m venv .venv-$$v && \
	    PYTHONWARNINGS='ignore:Editable installation' .venv-$$v/bin/python -m pip install --quiet -e '.[dask]' 'pytest>=8' 'pytest-timeout>=2.3' 'hypothesis>=6.100' && \
	    touch .venv-$$v/.installed || exit 1; \
	  fi; \
	  NOTEBOOK_FLOW_PROPERTY_PROFILE=quick .venv-$$v/bin/python -m pytest -q -p no:cacheprovider $(ENGINE_TESTS) || exit 1; \
	done

clean:
	rm -rf $(VENV) .venv-3.* build dist *.egg-info .pytest_cache notebooks/_output

# The API reference (mkdocs + mkdocstrings): pages generated into build/docs, site in build/site.
DOC_MODULES := notebook_flow notebook_flow.records notebook_flow.jupyter notebook_flow.viz notebook_flow.dask notebook_flow.otel
docs: setup
	@rm -rf build/docs && mkdir -p build/docs
	@printf '%s\n\n%s\n\n' '# notebook_flow API reference' \
	  'Generated from the docstrings. The guide (install, the two styles, the live view, the magic, the debugger) is the README of the repository.' > build/docs/index.md
	@for m in $(DOC_MODULES); do printf -- '- [%s](%s.md)\n' $$m $$m >> build/docs/index.md; printf '::: %s\n' $$m > build/docs/$$m.md; done
	$(BIN)/mkdocs build --strict --quiet
	@echo "API reference: $(abspath build/site/index.html)"
