# The two commands a fresh machine needs (see README):
#   make demo   - set up, then open the demo notebook in JupyterLab
#                 (make demo-headless: no browser; executes it and prints where the result is)
#   make test   - set up, then run every test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= notebooks/01_quickstart.ipynb
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
# The browser tests drive Debian's chromium (no `playwright install`, no download at test time).
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup browser-deps test demo demo-headless bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "notebook_flow needs Python >= 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
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

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache notebooks/_output
