from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_netgpt.edge import HuggingFaceEdgeModel


class TestHuggingFaceEdgeModelUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[HuggingFaceEdgeModel]:
        return HuggingFaceEdgeModel

    @property
    def chat_model_params(self) -> dict[str, object]:
        return {"model_path": "/models/tiny", "gguf_file": "tiny.gguf", "device": "cpu"}

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True
