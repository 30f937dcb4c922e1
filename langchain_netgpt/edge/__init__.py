"""Edge models: the bundled in-process HuggingFace model and remote (TGI / vLLM) edges.

Importing this package is cheap: torch, transformers and xgrammar are imported only when a model
loads or generates.
"""

from langchain_netgpt.edge.bundled import DEFAULT_MODEL_CACHE, LoadedModelCache, locate_bundled_gguf
from langchain_netgpt.edge.model import HuggingFaceEdgeModel
from langchain_netgpt.edge.remote import openai_compatible_edge, tgi_edge

__all__ = [
    "DEFAULT_MODEL_CACHE",
    "HuggingFaceEdgeModel",
    "LoadedModelCache",
    "locate_bundled_gguf",
    "openai_compatible_edge",
    "tgi_edge",
]
