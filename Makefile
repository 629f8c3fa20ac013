# One obvious command per task. `make demo` and `make test` set everything up on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
# pip's own check that the installed set still matches pyproject.toml: reinstall only when it changed
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
NAMES   ?= $(firstword $(NINJAGRAD_NAMES) $(wildcard ../shared/data/names.txt))

.PHONY: demo test lint bench bench-quick bench-memory bench-full train-full graph-example dot clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[torch]'
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

# the Graphviz `dot` binary comes from the OS; install it when we can, else say how
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get install -y -qq graphviz >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq graphviz >/dev/null)) \
	      && echo "installed graphviz (dot)"; \
	  else \
	    echo "hint: the Graphviz 'dot' binary is missing; install it with 'sudo apt-get install graphviz' (or your OS's package) to render graphs"; \
	  fi; }

demo: $(STAMP_RUN) dot
	$(BIN)/ninjagrad demo $(if $(NAMES),--data $(NAMES))

test: $(STAMP_TEST) dot
	$(BIN)/python -m pytest -q

lint: $(STAMP_TEST)
	$(BIN)/ruff check engine manual model viz tests bench

bench: $(STAMP_TEST)
	$(BIN)/python bench/step.py --threads 1 --clock cpu --out bench/results/step.json

bench-quick: $(STAMP_TEST)
	$(BIN)/python bench/step.py --quick --out bench/results/step-quick.json

bench-memory: $(STAMP_RUN)
	$(BIN)/python bench/memory.py

# the three backends' full runs in one process, taking turns every 1,000 steps: ratios to torch (~10 min here)
bench-full: $(STAMP_TEST)
	$(BIN)/python bench/full_run.py --backend manual engine torch --threads 1 $(if $(NAMES),--data $(NAMES))

train-full: $(STAMP_RUN)
	$(BIN)/python bench/full_run.py --backend manual $(if $(NAMES),--data $(NAMES))

graph-example: $(STAMP_RUN) dot
	$(BIN)/python docs/make_examples.py
	$(BIN)/ninjagrad graph --check --dtype float64 --out docs/makemore-graph.svg $(if $(NAMES),--data $(NAMES))

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .hypothesis out
