"""LangGraph front doors: a routing node for hand-built graphs and a ready-made agent graph.

:func:`netgpt_router_node` wraps a :class:`~langchain_netgpt.router.NetGPTRouter` (the chat-model
front door over a :class:`~langchain_netgpt.routing.engine.RoutingEngine`) as a graph node
that appends the answer to the messages and writes the route into the state
(``netgpt_route``, and ``netgpt_routes``: the thread's route history). The history goes through
the graph's checkpointer, so the next turn knows which side served the conversation (the
model-switch / KV-cache re-prefill cost) even after a restart. :func:`create_netgpt_agent`
builds the usual model -> tools -> model loop around that node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, NotRequired, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph, add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Checkpointer

from langchain_netgpt.router import PREVIOUS_TARGET_METADATA_KEY, NetGPTRouter
from langchain_netgpt.routing.config import RoutingConfig, routing_config
from langchain_netgpt.routing.engine import RoutingEngine

__all__ = [
    "ROUTE_HISTORY_LIMIT",
    "NetGPTState",
    "append_routes",
    "create_netgpt_agent",
    "netgpt_router_node",
]

ROUTE_HISTORY_LIMIT = 256
"""Routes kept in ``netgpt_routes`` per thread (the oldest are dropped beyond it)."""


def append_routes(
    left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Reducer of ``netgpt_routes``: append, keeping the last :data:`ROUTE_HISTORY_LIMIT`.

    Example:
        .. code-block:: python

            from langchain_netgpt.graph import append_routes

            assert append_routes([{"target": "edge"}], [{"target": "cloud"}])[-1]["target"] == (
                "cloud"
            )
    """
    return [*(left or []), *(right or [])][-ROUTE_HISTORY_LIMIT:]


class NetGPTState(TypedDict):
    """Graph state for routed agents: the messages and the routes that answered them.

    Attributes:
        messages: The conversation (``add_messages`` reducer).
        netgpt_route: The route of the latest model call (``response_metadata["netgpt"]`` of its
            answer): ``target``, ``decided_target``, ``score``, ``threshold``, ``fallback``, ...
        netgpt_routes: Every route of the thread, oldest first (appended, bounded).

    Example:
        .. code-block:: python

            from langgraph.graph import StateGraph
            from langchain_netgpt.graph import NetGPTState

            builder = StateGraph(NetGPTState)
    """

    messages: Annotated[list[AnyMessage], add_messages]
    netgpt_route: NotRequired[dict[str, Any] | None]
    netgpt_routes: NotRequired[Annotated[list[dict[str, Any]], append_routes]]


def netgpt_router_node(
    router: NetGPTRouter | RoutingEngine | RoutingConfig,
    *,
    tools: Sequence[BaseTool | dict[str, Any]] | None = None,
    messages_key: str = "messages",
    system_prompt: str | None = None,
) -> Runnable[Any, dict[str, Any]]:
    """A LangGraph node that answers the state's messages through the router.

    The node reads ``state[messages_key]``, takes the side of the previous turn from
    ``state["netgpt_routes"]`` (when the state has it), invokes the router (sync or async,
    whichever way the graph runs) and returns ``{messages_key: [answer], "netgpt_route": route,
    "netgpt_routes": [route]}``; ``route`` is the answer's ``response_metadata["netgpt"]``, so a
    conditional edge can branch on ``state["netgpt_route"]["target"]``.

    Args:
        router: The router, or the engine or configuration to route with (a router is built
            over it).
        tools: Tools to bind on both sides (any form ``bind_tools`` accepts).
        messages_key: State key of the conversation.
        system_prompt: A system message put before the conversation on every call (not stored).

    Returns:
        The node (a runnable with sync and async paths) for ``StateGraph.add_node``.

    Raises:
        TypeError: ``router`` is none of a router, an engine or a configuration.

    Example:
        .. code-block:: python

            from langgraph.graph import END, START, StateGraph
            from langchain_netgpt import NetGPTRouter
            from langchain_netgpt.graph import NetGPTState, netgpt_router_node
            from langchain_netgpt.testing import ScriptedChatModel

            router = NetGPTRouter(
                edge=ScriptedChatModel(responses=["edge"]),
                cloud=ScriptedChatModel(responses=["cloud"]),
            )
            builder = StateGraph(NetGPTState)
            builder.add_node("model", netgpt_router_node(router))
            builder.add_edge(START, "model")
            builder.add_edge("model", END)
            state = builder.compile().invoke({"messages": [("user", "hi")]})
            assert state["netgpt_route"]["target"] in ("edge", "cloud")
    """
    router = _as_router(router)
    model: Runnable[Any, Any] = router.bind_tools(list(tools)) if tools else router
    system = SystemMessage(system_prompt) if system_prompt else None

    def prepare(
        state: Mapping[str, Any], config: RunnableConfig
    ) -> tuple[list[BaseMessage], RunnableConfig]:
        return _node_input(state, config, messages_key=messages_key, system=system)

    def update(answer: AIMessage) -> dict[str, Any]:
        route = dict(answer.response_metadata["netgpt"])
        return {messages_key: [answer], "netgpt_route": route, "netgpt_routes": [route]}

    def node(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        messages, call_config = prepare(state, config)
        return update(model.invoke(messages, call_config))

    async def anode(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        messages, call_config = prepare(state, config)
        return update(await model.ainvoke(messages, call_config))

    return RunnableLambda(node, afunc=anode, name="netgpt_router")


def _node_input(
    state: Mapping[str, Any],
    config: RunnableConfig,
    *,
    messages_key: str,
    system: SystemMessage | None,
) -> tuple[list[BaseMessage], RunnableConfig]:
    """The node's messages, and its config naming the side of the thread's previous turn."""
    if not isinstance(state, Mapping) or messages_key not in state:
        keys = sorted(state) if isinstance(state, Mapping) else type(state).__name__
        raise KeyError(f"netgpt_router_node needs state[{messages_key!r}]; the state has {keys}")
    messages = list(state[messages_key])
    if system is not None:
        messages.insert(0, system)
    history = state.get("netgpt_routes") or []
    previous = history[-1].get("target") if history else None
    if not isinstance(previous, str):
        return messages, config
    metadata = {**(config.get("metadata") or {}), PREVIOUS_TARGET_METADATA_KEY: previous}
    return messages, {**config, "metadata": metadata}


def _as_router(router: NetGPTRouter | RoutingEngine | RoutingConfig) -> NetGPTRouter:
    if isinstance(router, NetGPTRouter):
        return router
    if isinstance(router, RoutingEngine):
        return NetGPTRouter.from_engine(router)
    if isinstance(router, RoutingConfig):
        return NetGPTRouter(config=router)
    raise TypeError(
        "netgpt_router_node needs a NetGPTRouter, a RoutingEngine or a RoutingConfig, "
        f"got {type(router).__name__}"
    )


def create_netgpt_agent(
    edge: BaseChatModel | None = None,
    cloud: BaseChatModel | None = None,
    tools: Sequence[BaseTool] = (),
    *,
    config: RoutingConfig | None = None,
    system_prompt: str | None = None,
    checkpointer: Checkpointer = None,
    name: str | None = None,
    **options: Any,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """A tool-calling agent graph whose every model call is routed between edge and cloud.

    The graph is ``START -> model -> (tools -> model)* -> END`` over :class:`NetGPTState`; the
    model node is :func:`netgpt_router_node`, the tools node LangGraph's ``ToolNode``. With a
    ``checkpointer``, conversations continue by ``thread_id`` and keep their route history.

    Args:
        edge: The edge chat model (or give ``targets=``, or ``config=``).
        cloud: The cloud chat model.
        tools: The agent's tools (may be empty).
        config: The routing options as one
            :class:`~langchain_netgpt.routing.config.RoutingConfig` (instead of keywords).
        system_prompt: System message put before the conversation on every model call.
        checkpointer: A LangGraph checkpointer (``SqliteSaver``, ``InMemorySaver``, ...).
        name: Name of the compiled graph.
        **options: The other routing options as keywords (the fields of
            :class:`~langchain_netgpt.routing.config.RoutingConfig`: ``policy``, ``scorer``,
            ``monitor``, ``budget``, ``sinks``, ``step_timeout_s``, ``fallback``, ``targets``,
            ...), as :class:`~langchain_netgpt.router.NetGPTRouter` takes them.

    Returns:
        The compiled graph; invoke it with ``{"messages": [...]}``.

    Raises:
        TypeError: An option name is unknown (the message lists the valid ones), or both
            ``config`` and options are given.

    Example:
        .. code-block:: python

            from langchain_netgpt.graph import create_netgpt_agent
            from langchain_netgpt.testing import ScriptedChatModel

            agent = create_netgpt_agent(
                ScriptedChatModel(responses=["edge"]), ScriptedChatModel(responses=["cloud"]), []
            )
            state = agent.invoke({"messages": [("user", "hi")]})
            assert len(state["netgpt_routes"]) == 1
    """
    sides = {name: model for name, model in (("edge", edge), ("cloud", cloud)) if model is not None}
    routed = routing_config(config, {**sides, **options}, owner="create_netgpt_agent")
    builder = StateGraph(NetGPTState)
    node = netgpt_router_node(NetGPTRouter(config=routed), tools=tools, system_prompt=system_prompt)
    builder.add_node("model", node)
    builder.add_edge(START, "model")
    if tools:
        builder.add_node("tools", ToolNode(list(tools)))
        builder.add_conditional_edges("model", tools_condition, {"tools": "tools", END: END})
        builder.add_edge("tools", "model")
    else:
        builder.add_edge("model", END)
    return builder.compile(checkpointer=checkpointer, name=name)
