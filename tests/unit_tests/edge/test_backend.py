import logging
from pathlib import Path

import pytest

from langchain_netgpt.edge import HuggingFaceEdgeModel, LoadedModelCache, resolve_backend
from langchain_netgpt.edge import backend as backend_module
from langchain_netgpt.errors import ConfigurationError
from langchain_netgpt.routing.context_window import model_context_tokens


def _resolve(requested: str = "auto", **facts: object) -> str:
    args: dict[str, object] = {
        "gguf_file": "m.Q4_1.gguf",
        "device": "auto",
        "adapter_path": None,
        "llama_cpp_importable": True,
        "cuda_available": lambda: False,
    }
    args.update(facts)
    return resolve_backend(requested, **args).backend  # type: ignore[arg-type]


def _no_cuda_check() -> bool:
    raise AssertionError("the CUDA check must not run here")


def test_auto_serves_a_gguf_on_cpu_with_llama_cpp() -> None:
    assert _resolve() == "llama_cpp"
    assert _resolve(device="cpu", cuda_available=_no_cuda_check) == "llama_cpp"


def test_auto_serves_a_gguf_with_transformers_when_cuda_is_available() -> None:
    assert _resolve(cuda_available=lambda: True) == "transformers"


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_auto_serves_an_explicit_cuda_device_with_transformers(device: str) -> None:
    assert _resolve(device=device, cuda_available=_no_cuda_check) == "transformers"


def test_auto_serves_a_safetensors_checkpoint_with_transformers() -> None:
    assert _resolve(gguf_file=None) == "transformers"


def test_auto_serves_a_lora_adapter_with_transformers() -> None:
    assert _resolve(adapter_path="/adapters/tuned") == "transformers"


def test_auto_falls_back_to_transformers_with_a_build_hint_when_llama_cpp_is_not_built() -> None:
    choice = resolve_backend(
        "auto",
        gguf_file="m.gguf",
        device="cpu",
        adapter_path=None,
        llama_cpp_importable=False,
        cuda_available=lambda: False,
    )

    assert (choice.backend, choice.fallback) == ("transformers", True)
    assert "make install" in choice.reason


def test_an_explicit_transformers_backend_is_kept_for_a_gguf_on_cpu() -> None:
    assert _resolve("transformers", device="cpu") == "transformers"


def test_an_explicit_llama_cpp_backend_is_kept() -> None:
    assert _resolve("llama_cpp", cuda_available=lambda: True) == "llama_cpp"


@pytest.mark.parametrize(
    ("facts", "problem"),
    [
        ({"gguf_file": None}, "not a GGUF file"),
        ({"device": "cuda:0"}, "runs on CPU"),
        ({"adapter_path": "/adapters/tuned"}, "LoRA adapter"),
    ],
)
def test_llama_cpp_refuses_what_it_cannot_serve_naming_the_reason(
    facts: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        _resolve("llama_cpp", **facts)

    assert caught.value.field == "backend"


def test_an_unknown_backend_is_rejected_naming_the_choices() -> None:
    with pytest.raises(ConfigurationError, match=r"backend='vllm'.*auto, llama_cpp, transformers"):
        _resolve("vllm")


def test_the_model_rejects_an_unknown_backend_at_construction() -> None:
    with pytest.raises(ValueError, match="backend"):
        HuggingFaceEdgeModel(model_path="/models/tiny", backend="vllm")  # type: ignore[arg-type]


def test_asking_llama_cpp_for_a_safetensors_folder_fails_before_loading_anything() -> None:
    cache = LoadedModelCache()
    model = HuggingFaceEdgeModel(model_path="/models/tiny", backend="llama_cpp", model_cache=cache)

    with pytest.raises(ConfigurationError, match="not a GGUF file"):
        model.load()

    assert len(cache) == 0


def test_a_fallback_is_logged_once_as_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(backend_module, "llama_cpp_importable", lambda: False)
    monkeypatch.setattr(backend_module, "cuda_available", lambda: False)
    backend_module._warn_fallback.cache_clear()
    caplog.set_level(logging.WARNING, logger=backend_module.__name__)

    for _ in range(2):
        choice = backend_module.choose_backend(
            "auto", gguf_file="m.gguf", device="cpu", adapter_path=None
        )

    assert choice.backend == "transformers"
    assert [r.getMessage() for r in caplog.records].count(
        f"langchain-netgpt edge: {choice.reason}"
    ) == 1


def test_the_cuda_check_answers_false_without_a_gpu_driver_and_without_torch() -> None:
    has_driver = any(Path(node).exists() for node in backend_module._GPU_DEVICE_NODES)
    if has_driver:
        pytest.skip("this machine has a GPU driver")

    assert backend_module.cuda_available() is False


def test_an_explicit_llama_cpp_context_window_is_what_the_router_checks_against() -> None:
    edge = HuggingFaceEdgeModel(
        model_path="/models", gguf_file="m.Q4_1.gguf", backend="llama_cpp", n_ctx=2048
    )

    assert edge.context_window_tokens == 2048
    assert model_context_tokens(edge, read_files=False) == 2048


def test_without_n_ctx_the_window_is_the_models_own() -> None:
    in_llama = HuggingFaceEdgeModel(model_path="/m", gguf_file="m.gguf", backend="llama_cpp")
    in_transformers = HuggingFaceEdgeModel(
        model_path="/m", gguf_file="m.gguf", backend="transformers", n_ctx=2048
    )

    # None: the router then reads the GGUF header, the length llama.cpp itself uses with n_ctx=0.
    assert in_llama.context_window_tokens is None
    assert in_transformers.context_window_tokens is None  # n_ctx is llama.cpp's only
