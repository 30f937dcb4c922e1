import json
from pathlib import Path

import numpy as np
import pytest
from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

from langchain_netgpt.edge.gguf_export import export_merged_gguf, permute_for_llama_cpp
from langchain_netgpt.errors import EdgeModelError


@pytest.mark.parametrize(("n_head", "n_head_kv"), [(9, 9), (9, 3)])
def test_the_permutation_is_undone_by_transformers_gguf_loader(n_head: int, n_head_kv: int) -> None:
    rows = (n_head if n_head_kv == n_head else n_head_kv) * 64
    weights = np.random.default_rng(0).normal(size=(rows, 576)).astype(np.float32)
    loader = LlamaTensorProcessor(config={})

    restored = loader._reverse_permute_weights(
        permute_for_llama_cpp(weights, n_head, n_head_kv), n_head, n_head_kv
    )

    assert np.array_equal(restored, weights)
    assert not np.array_equal(permute_for_llama_cpp(weights, n_head, n_head_kv), weights)


def test_a_folder_without_an_adapter_is_refused_naming_what_is_expected(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 8, "lora_alpha": 16}))

    with pytest.raises(EdgeModelError, match=r"adapter_model\.safetensors"):
        export_merged_gguf(tmp_path, tmp_path / "base.gguf")
