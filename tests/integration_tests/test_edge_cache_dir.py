"""The optional explicit cache of a de-quantised copy of the bundled GGUF (transformers runtime)."""

from pathlib import Path

import pytest

from langchain_netgpt.edge import HuggingFaceEdgeModel, LoadedModelCache
from tests.integration_tests._runtimes import needs_llama_cpp

pytestmark = pytest.mark.integration


@pytest.mark.slow
def test_a_cache_dir_is_written_on_first_load_and_read_on_the_next(tmp_path: Path) -> None:
    cache_dir = tmp_path / "smollm2"
    first = HuggingFaceEdgeModel.from_bundled(
        device="cpu",
        backend="transformers",
        cache_dir=cache_dir,
        max_new_tokens=8,
        model_cache=LoadedModelCache(),
    )
    first_answer = first.invoke("Hi").content
    assert first.load().loaded_from.endswith(".gguf")

    assert (cache_dir / "config.json").is_file()
    assert (cache_dir / "netgpt_source.json").is_file()

    second = HuggingFaceEdgeModel.from_bundled(
        device="cpu",
        backend="transformers",
        cache_dir=cache_dir,
        max_new_tokens=8,
        model_cache=LoadedModelCache(),
    )
    assert second.load().loaded_from == str(cache_dir)
    assert second.invoke("Hi").content == first_answer


@needs_llama_cpp
def test_in_llama_cpp_a_cache_dir_holds_the_re_encoded_gguf(tmp_path: Path) -> None:
    edge = HuggingFaceEdgeModel.from_bundled(
        backend="llama_cpp", cache_dir=tmp_path, max_new_tokens=8, model_cache=LoadedModelCache()
    )

    runtime = edge.load()

    written = list(tmp_path.glob("*.q8_0.gguf"))
    assert len(written) == 1 and str(written[0]) in runtime.loaded_from
    assert edge.invoke("Hi").content
