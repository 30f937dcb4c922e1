"""``netgpt demo``: a LangGraph agent with real tools, routed edge/cloud under a changing network.

The agent is a two-node LangGraph graph (model -> tools -> model) whose model is a
:class:`~langchain_netgpt.NetGPTRouter`. The edge is the bundled SmolLM2-135M in-process; the cloud
is ``ChatOpenAI`` against ``OPENAI_API_KEY`` when set, otherwise against a loopback ``netgpt serve``
stand-in (the same small model) behind an emulated WAN. The network follows a scripted degradation
(or a mahimahi trace you give), and the router's monitor reads the same trace on the same clock.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import Runnable
from langgraph.graph.message import add_messages

from langchain_netgpt.demo.agent_tools import DEMO_TOOLS
from langchain_netgpt.demo.scenario import ScenarioClock, write_scripted_degradation
from langchain_netgpt.router import NetGPTRouter
from langchain_netgpt.routing.latency import CPU_EDGE, DEFAULT_CLOUD, LatencyModel, SideProfile
from langchain_netgpt.routing.network import NetworkMonitor
from langchain_netgpt.routing.policy import NetGPTPolicy
from langchain_netgpt.tracing import InMemoryTraceSink, JsonlTraceSink, RouteTrace

__all__ = ["DEMO_TASKS", "DemoTask", "build_agent", "demo_policy", "run_demo"]

SYSTEM_PROMPT = (
    "You are a helpful assistant with tools. Call the one tool that answers the question, "
    "then answer briefly using the tool's result."
)


@dataclass(frozen=True)
class DemoTask:
    """One scripted user request.

    Attributes:
        prompt: What the user asks.
        expected_tool: The tool a correct first step calls.
        at_s: Scenario time at which the task starts (the network moves between tasks).
    """

    prompt: str
    expected_tool: str
    at_s: float


DEMO_TASKS: tuple[DemoTask, ...] = (
    DemoTask("What is 17 * 23?", "calculator", 2),
    DemoTask("Convert 10 miles to kilometers.", "convert_units", 10),
    DemoTask("What is the capital of Japan?", "country_facts", 22),
    DemoTask("What date is 45 days after 2026-03-01?", "add_days", 31),
    DemoTask("How many pounds is 5 kg?", "convert_units", 42.5),
    DemoTask("Compute (1234 + 5678) / 3.", "calculator", 51.6),
    DemoTask("What currency does Brazil use?", "country_facts", 62),
    DemoTask("Convert 72 fahrenheit to celsius.", "convert_units", 70),
)
"""Mixed tasks spread over the scripted phases (good, congested, near-outage, recovered)."""


class State(TypedDict):
    """The agent's state: the conversation, appended to by each node."""

    messages: Annotated[list[AnyMessage], add_messages]


def demo_policy(*, cloud_compute: SideProfile = CPU_EDGE) -> NetGPTPolicy:
    """The policy the demo routes with.

    The stand-in cloud runs the same model on the same CPU as the edge, so the latency model gives
    the cloud that compute speed (its price stays gpt-4o-mini's): the cloud then costs exactly its
    network time and price more than the edge, which is what the demo shows. A second of waiting
    is priced at $0.001 against $0.002 for a correct step.
    """
    cloud = SideProfile(
        overhead_s=cloud_compute.overhead_s,
        prefill_tokens_per_s=cloud_compute.prefill_tokens_per_s,
        decode_tokens_per_s=cloud_compute.decode_tokens_per_s,
        usd_per_1k_input_tokens=DEFAULT_CLOUD.usd_per_1k_input_tokens,
        usd_per_1k_output_tokens=DEFAULT_CLOUD.usd_per_1k_output_tokens,
    )
    return NetGPTPolicy(
        latency_usd_per_s=0.001,
        latency_model=LatencyModel(edge=CPU_EDGE, cloud=cloud, expected_output_tokens=32),
    )


def build_agent(router: NetGPTRouter, tools: Sequence[Any] = DEMO_TOOLS) -> Any:
    """A LangGraph agent: call one tool (required), then answer from its result.

    Args:
        router: The routed chat model.
        tools: The agent's tools.

    Returns:
        The compiled graph.
    """
    from langgraph.graph import END, START, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    pick_tool: Runnable[Any, Any] = router.bind_tools(list(tools), tool_choice="any")
    answer: Runnable[Any, Any] = router

    def model(state: State) -> dict[str, list[AnyMessage]]:
        messages = [SystemMessage(SYSTEM_PROMPT), *state["messages"]]
        step = answer if isinstance(state["messages"][-1], ToolMessage) else pick_tool
        return {"messages": [step.invoke(messages)]}

    graph = StateGraph(State)
    graph.add_node("model", model)
    graph.add_node("tools", ToolNode(list(tools), handle_tool_errors=True))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "model")
    return graph.compile()


@dataclass
class DemoResult:
    """What a demo run produced."""

    traces: list[RouteTrace]
    trace_file: Path
    answers: list[str] = field(default_factory=list)
    tools_called: list[list[str]] = field(default_factory=list)
    elapsed_s: float = 0.0
    cloud_kind: str = ""


@contextmanager
def _cloud(
    edge: BaseChatModel, clock: ScenarioClock, trace: tuple[Path, Path], base_rtt_ms: float
) -> Iterator[tuple[BaseChatModel, str]]:
    if os.environ.get("OPENAI_API_KEY"):
        from langchain_netgpt.cloud import cloud_from_env

        yield cloud_from_env(), "OpenAI-compatible API (real cloud)"
        return
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    from langchain_netgpt.cloud import LocalServer, WanEmulator, WanProfile

    profile = WanProfile(rtt_ms=base_rtt_ms, trace_down=trace[0], trace_up=trace[1])
    with LocalServer(
        edge, model_name="netgpt-stand-in", wan=WanEmulator(profile, clock=clock)
    ) as server:
        yield (
            ChatOpenAI(
                model="netgpt-stand-in",
                base_url=server.base_url,
                api_key=SecretStr(server.api_key),
                timeout=120,
                max_retries=0,
                include_response_headers=True,
                stream_usage=True,
            ),
            "loopback stand-in (same 135M model behind an emulated WAN)",
        )


def run_demo(
    *,
    out: Path,
    tasks: Sequence[DemoTask] = DEMO_TASKS,
    trace_down: Path | None = None,
    trace_up: Path | None = None,
    base_rtt_ms: float = 40.0,
    device: str = "auto",
    clock_speed: float = 0.05,
    on_step: Any = None,
) -> DemoResult:
    """Run the demo agent over the tasks and write every route trace to ``out`` (JSONL).

    Args:
        out: Trace file to write (appended to if it exists).
        tasks: The tasks to run.
        trace_down: A mahimahi downlink trace; default: the scripted degradation.
        trace_up: The matching uplink trace (default: ``trace_down``).
        base_rtt_ms: Propagation RTT of the scenario.
        device: Edge model device (``"auto"`` picks CUDA when present).
        clock_speed: Scenario seconds per real second between tasks (see ``ScenarioClock``).
        on_step: Called as ``on_step(index, task, answer_text, traces_so_far)`` after each task.

    Returns:
        The run's traces and answers.
    """
    from langchain_netgpt.edge import HuggingFaceEdgeModel

    started = time.perf_counter()
    clock = ScenarioClock(speed=clock_speed)
    with ExitStack() as stack:
        if trace_down is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="netgpt-demo-")))
            link = write_scripted_degradation(folder)
        else:
            link = (trace_down, trace_up or trace_down)
        edge = HuggingFaceEdgeModel.from_bundled(device=device, max_new_tokens=64)
        edge.load()  # load now, so no step's latency includes loading the weights
        cloud, cloud_kind = stack.enter_context(_cloud(edge, clock, link, base_rtt_ms))
        memory = InMemoryTraceSink()
        router = NetGPTRouter(
            edge=edge,
            cloud=cloud,
            policy=demo_policy(),
            monitor=NetworkMonitor.from_trace(
                link[0], link[1], base_rtt_ms=base_rtt_ms, clock=clock
            ),
            sinks=[memory, JsonlTraceSink(out)],
        )
        agent = build_agent(router)
        result = DemoResult(traces=[], trace_file=out, cloud_kind=cloud_kind)
        for index, task in enumerate(tasks):
            clock.jump_to(task.at_s)
            state = agent.invoke({"messages": [HumanMessage(task.prompt)]}, {"recursion_limit": 6})
            messages = state["messages"]
            result.tools_called.append(
                [call["name"] for m in messages for call in getattr(m, "tool_calls", [])]
            )
            result.answers.append(str(messages[-1].content))
            if on_step is not None:
                on_step(index, task, result.answers[-1], memory.traces)
        result.traces = memory.traces
    result.elapsed_s = time.perf_counter() - started
    return result
