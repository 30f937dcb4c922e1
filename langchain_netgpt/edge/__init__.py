"""Edge models: the bundled in-process model (llama.cpp or transformers) and remote edges.

Importing this package is cheap: llama_cpp, torch, transformers and xgrammar are imported only
when a model loads or generates.
"""

from langchain_netgpt.edge.backend import EdgeBackend, resolve_backend
from langchain_netgpt.edge.bundled import DEFAULT_MODEL_CACHE, LoadedModelCache, locate_bundled_gguf
from langchain_netgpt.edge.cancel import (
    CancelToken,
    EdgeGenerationCancelled,
    cancel_scope,
    current_cancel_token,
)
from langchain_netgpt.edge.model import HuggingFaceEdgeModel
from langchain_netgpt.edge.remote import openai_compatible_edge, tgi_edge

__all__ = [
    "DEFAULT_MODEL_CACHE",
    "CancelToken",
    "EdgeBackend",
    "EdgeGenerationCancelled",
    "HuggingFaceEdgeModel",
    "LoadedModelCache",
    "cancel_scope",
    "current_cancel_token",
    "locate_bundled_gguf",
    "openai_compatible_edge",
    "resolve_backend",
    "tgi_edge",
]
