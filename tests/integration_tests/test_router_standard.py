"""LangChain's standard chat-model integration suite on NetGPTRouter over real local models.

The edge is the bundled SmolLM2-135M in-process; the cloud is ChatOpenAI over real HTTP to a
loopback `netgpt serve` (the same model, 40 ms emulated RTT). A seeded random policy sends about
half the calls each way, so the suite exercises both sides through the router.
"""

from __future__ import annotations

import atexit
from typing import Any

import pytest
from langchain_openai import ChatOpenAI
from langchain_tests.integration_tests import ChatModelIntegrationTests
from pydantic import SecretStr

from langchain_netgpt import NetGPTRouter, NetworkState
from langchain_netgpt.cloud import LOCAL_API_KEY, LocalServer, WanProfile
from langchain_netgpt.edge import HuggingFaceEdgeModel
from langchain_netgpt.routing import RandomPolicy
from langchain_netgpt.testing import FixedNetworkMonitor
from tests.integration_tests._capabilities import TextToolCallingCapabilities

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_SERVER: LocalServer | None = None


def _edge(max_new_tokens: int) -> HuggingFaceEdgeModel:
    return HuggingFaceEdgeModel.from_bundled(
        device="cpu", max_new_tokens=max_new_tokens, max_argument_chars=40
    )


def _server() -> LocalServer:
    global _SERVER
    if _SERVER is None:
        _SERVER = LocalServer(_edge(40), model_name="stand-in", wan=WanProfile(rtt_ms=40))
        _SERVER.start()
        atexit.register(_SERVER.stop)
    return _SERVER


def _params(max_tokens: int) -> dict[str, Any]:
    cloud = ChatOpenAI(
        model="stand-in",
        base_url=_server().base_url,
        api_key=SecretStr(LOCAL_API_KEY),
        max_tokens=max_tokens,
        max_retries=0,
        timeout=120,
        stream_usage=True,
    )
    return {
        "edge": _edge(max_tokens),
        "cloud": cloud,
        "policy": RandomPolicy(cloud_share=0.5, seed=7),
        "monitor": FixedNetworkMonitor(
            NetworkState(bandwidth_up_mbps=10, bandwidth_down_mbps=40, rtt_ms=40)
        ),
    }


class TestNetGPTRouterStandardIntegration(TextToolCallingCapabilities, ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[NetGPTRouter]:
        return NetGPTRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return _params(96)
