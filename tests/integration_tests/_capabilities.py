"""What the bundled 135M text model can do, stated once for LangChain's standard suites."""

from __future__ import annotations


class TextToolCallingCapabilities:
    """Capability flags shared by the edge model's and the router's standard integration suites.

    Text in, text or tool calls out; tool choice and structured output by constrained decoding;
    usage reported; no images, audio, PDFs or provider-specific inputs; no per-call model override
    (the weights are loaded in-process per instance).
    """

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
    def supports_image_inputs(self) -> bool:
        return False

    @property
    def supports_audio_inputs(self) -> bool:
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return False

    @property
    def supports_video_inputs(self) -> bool:
        return False

    @property
    def supports_image_tool_message(self) -> bool:
        return False

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False

    @property
    def supports_anthropic_inputs(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return False
