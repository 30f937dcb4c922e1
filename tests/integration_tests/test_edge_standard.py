"""LangChain's standard chat-model integration suite on the real bundled edge model."""

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_netgpt.edge import HuggingFaceEdgeModel, locate_bundled_gguf
from tests.integration_tests._capabilities import TextToolCallingCapabilities
from tests.integration_tests._runtimes import needs_llama_cpp

# LangChain's full standard suite on the real model takes ~3 min on 2 cores: CI runs it as a
# second step (`make test-slow`) after the default run.
pytestmark = [pytest.mark.integration, pytest.mark.slow]


class TestHuggingFaceEdgeModelStandard(TextToolCallingCapabilities, ChatModelIntegrationTests):
    """The suite on the transformers runtime."""

    backend = "transformers"

    @property
    def chat_model_class(self) -> type[HuggingFaceEdgeModel]:
        return HuggingFaceEdgeModel

    @property
    def chat_model_params(self) -> dict[str, object]:
        gguf = locate_bundled_gguf()
        # Small budgets keep the suite within minutes on two CPU cores; the weights are loaded
        # once per process (the default LoadedModelCache), whatever the number of instances.
        return {
            "model_path": str(gguf.parent),
            "gguf_file": gguf.name,
            "max_new_tokens": 96,
            "max_argument_chars": 40,
            "backend": self.backend,
            "device": "cpu",
        }

    @property
    def supports_json_mode(self) -> bool:
        return True


@needs_llama_cpp
class TestHuggingFaceEdgeModelStandardOnLlamaCpp(TestHuggingFaceEdgeModelStandard):
    """The same suite on the llama.cpp runtime (the default for the bundled GGUF on CPU)."""

    backend = "llama_cpp"
