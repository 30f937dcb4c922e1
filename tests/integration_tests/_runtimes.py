"""Which edge runtimes this machine has (`make install` builds llama.cpp where it can)."""

import pytest

from langchain_netgpt.edge.backend import llama_cpp_importable

needs_llama_cpp = pytest.mark.skipif(
    not llama_cpp_importable(),
    reason="llama-cpp-python is not built here (make install builds it when a compiler is present)",
)
