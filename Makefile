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

.PHONY: setup test demo demo-headless bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "notebook_flow needs Python >= 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -q

demo: setup
	$(BIN)/jupyter lab $(ROOT_FLAG) $(DEMO)

demo-headless: setup
	@mkdir -p notebooks/_output
	$(BIN)/jupyter nbconvert --to notebook --execute --output-dir notebooks/_output $(DEMO)
	$(BIN)/jupyter nbconvert --to html --output-dir notebooks/_output notebooks/_output/$(notdir $(DEMO))
	@echo "Executed demo: $(abspath notebooks/_output/$(notdir $(DEMO)))"
	@echo "Rendered HTML: $(abspath notebooks/_output/$(basename $(notdir $(DEMO))).html)"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache notebooks/_output
