"""LangChain's standard unit tests for chat models, run on NetGPTRouter with scripted sides."""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_netgpt import NetGPTRouter, NetworkState
from langchain_netgpt.testing import FixedNetworkMonitor, ScriptedChatModel


class TestNetGPTRouterStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[NetGPTRouter]:
        return NetGPTRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "edge": ScriptedChatModel(responses=["edge answer"], model_name="smollm2-135m"),
            "cloud": ScriptedChatModel(responses=["cloud answer"], model_name="gpt-4o-mini"),
            "monitor": FixedNetworkMonitor(
                NetworkState(bandwidth_up_mbps=10, bandwidth_down_mbps=40, rtt_ms=50)
            ),
        }

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
    def returns_usage_metadata(self) -> bool:
        return True
