# Every target sets itself up: a fresh machine needs only python3 (>= 3.10) and make.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo graphviz test test-thorough lint bench pictures clean differential

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP) graphviz  ## the main job: train on real handwritten digits, write pictures to out/
	$(PY) examples/main_job.py

graphviz:  # best effort: Graphviz's dot lays out the graph picture; without it matplotlib draws it
	@command -v dot >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  echo "installing Graphviz (apt-get install graphviz) for the graph picture" && \
	  { apt-get install -y -qq graphviz >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && \
	    apt-get install -y -qq graphviz >/dev/null 2>&1; }; }; } || \
	  echo "Graphviz's dot is not installed: the graph picture will be drawn with matplotlib instead"

test: $(STAMP)  ## the whole test suite (fast Hypothesis profile), then the linter
	$(PY) -m pytest -n 2 tests
	$(PY) -m ruff check tapegrad tests examples benchmarks tools

test-thorough: $(STAMP)  ## many more Hypothesis examples per property
	HYPOTHESIS_PROFILE=thorough $(PY) -m pytest -n 2 tests

lint: $(STAMP)  ## ruff, and mypy on tapegrad/ (with the generated stub of Tensor, tapegrad/_tensor.pyi)
	$(PY) -m ruff check tapegrad tests examples benchmarks tools
	$(PY) -m mypy

bench: $(STAMP)  ## benchmarks against hand-written numpy (and PyTorch, if installed: make bench-torch)
	$(PY) benchmarks/run.py

bench-torch:  ## the same beside PyTorch 2.13 CPU, installed in its own venv (.venv-torch), not in the test venv
	[ -x .venv-torch/bin/python ] || python3 -m venv .venv-torch
	.venv-torch/bin/python -m pip install -q -e '.[test,special]' torch==2.13.0 || .venv-torch/bin/python -m pip install -q -e '.[test,special]' torch
	.venv-torch/bin/python benchmarks/run.py

differential:  ## 20,000 random programs against PyTorch (needs .venv-torch: make bench-torch); see docs/differential.md
	@[ -x .venv-torch/bin/python ] || { echo "make differential needs PyTorch in .venv-torch: run make bench-torch first"; exit 1; }
	mkdir -p out
	PYTHONPATH=$$PWD .venv-torch/bin/python tests/differential/driver.py --seeds 0:20000 --out out/differential.json

pictures: $(STAMP)  ## regenerate the images the README shows
	$(PY) examples/main_job.py --pictures-to docs/images

clean:
	rm -rf $(VENV) .venv-torch out .pytest_cache .hypothesis

.PHONY: docs
docs: $(STAMP)  ## the walkthrough (docs/tutorial/): run every chapter's code, rewrite its outputs, redraw its figures
	$(PY) docs/tutorial/build.py
