"""Routing options from a configuration file and the environment, for deployments.

A deployed graph (``langgraph dev``, LangGraph Platform, a container) has no Python caller to pass
keywords, so the same :class:`~langchain_netgpt.routing.config.RoutingConfig` options come from a
JSON or YAML file and a few environment variables:

``NETGPT_CONFIG``
    A ``.json`` / ``.yaml`` / ``.yml`` file whose keys are routing options
    (``step_timeout_s``, ``tool_choice``, ``retry``, ``circuit_breaker``, ``privacy``, ``budget``,
    ``policy``, ``store``, ``sinks``, ...); ``edge`` and ``cloud`` hold the arguments of the
    bundled edge and of the OpenAI-compatible cloud.
``NETGPT_TRACES``
    A JSONL file that receives one route trace per model call (a sink).
``NETGPT_STORE``
    A SQLite :class:`~langchain_netgpt.tracing.TraceStore` file that receives every trace.
``NETGPT_STEP_TIMEOUT_S`` / ``NETGPT_STEP_DEADLINE_S``
    The deadlines in seconds (``none`` for no limit).
``OPENAI_API_KEY`` / ``NETGPT_CLOUD_BASE_URL`` / ``NETGPT_CLOUD_MODEL``
    The cloud (see :func:`~langchain_netgpt.cloud.cloud_from_env`).

Later sources win: the file, then the variables, then keywords given in code.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langchain_netgpt.errors import CloudUnavailableError, ConfigurationError
from langchain_netgpt.routing.config import RoutingConfig, check_option_names

__all__ = [
    "CLOUD_ENV_VARIABLES",
    "CONFIG_ENV_VARIABLE",
    "load_routing_file",
    "missing_cloud_message",
    "routing_config_from_env",
    "routing_options_from_env",
]

CONFIG_ENV_VARIABLE = "NETGPT_CONFIG"
"""The variable naming a routing configuration file."""

CLOUD_ENV_VARIABLES = ("OPENAI_API_KEY", "NETGPT_CLOUD_BASE_URL")
"""Either variable configures the cloud."""

_POLICIES = {
    "netgpt": "NetGPTPolicy",
    "fixed": "FixedThresholdPolicy",
    "always-edge": "AlwaysEdge",
    "always-cloud": "AlwaysCloud",
    "random": "RandomPolicy",
    "qos": "QoSPolicy",
    "least-loaded": "LeastLoadedPolicy",
}
_CODE_ONLY = ("monitor", "scorer", "targets")


def missing_cloud_message(where: str) -> str:
    """What a user must set when no cloud is configured (for errors at start-up)."""
    return (
        f"{where} needs a cloud model: set OPENAI_API_KEY (OpenAI) or NETGPT_CLOUD_BASE_URL "
        "(any OpenAI-compatible server, e.g. NETGPT_CLOUD_BASE_URL=http://127.0.0.1:8000/v1 "
        "after `netgpt serve`), and optionally NETGPT_CLOUD_MODEL, in the environment or in the "
        ".env file next to langgraph.json"
    )


def load_routing_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The routing options a JSON or YAML file holds (names checked, values not yet built).

    Args:
        path: A ``.json``, ``.yaml`` or ``.yml`` file holding one mapping of routing options.

    Returns:
        The options, as keywords for :func:`routing_config_from_env` or a front door.

    Raises:
        ConfigurationError: The file is missing, unreadable, not a mapping, or names an option
            that does not exist or can only be given in code (the message lists the valid ones).

    Example:
        .. code-block:: python

            import json, pathlib, tempfile
            from langchain_netgpt.routing.settings import load_routing_file

            path = pathlib.Path(tempfile.mkdtemp()) / "netgpt.json"
            path.write_text(json.dumps({"step_timeout_s": 30, "retry": {"attempts": 2}}))
            assert load_routing_file(path)["step_timeout_s"] == 30
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the routing configuration {file}: {exc}") from exc
    suffix = file.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml  # type: ignore[import-untyped]  # PyYAML comes with langchain-core

            data = yaml.safe_load(text)
        else:
            raise ConfigurationError(
                f"routing configuration {file}: expected a .json, .yaml or .yml file"
            )
    except (ValueError, ImportError) as exc:
        raise ConfigurationError(f"routing configuration {file} does not parse: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigurationError(
            f"routing configuration {file} must hold a mapping of options, "
            f"got {type(data).__name__}"
        )
    try:
        check_option_names(set(data), owner=f"routing configuration {file}")
    except TypeError as exc:
        raise ConfigurationError(str(exc)) from None
    in_code = sorted(set(data) & set(_CODE_ONLY))
    if in_code:
        raise ConfigurationError(
            f"routing configuration {file}: {', '.join(in_code)} can only be given in code "
            "(a Python object), not in a file"
        )
    return dict(data)


def _seconds(name: str, raw: str) -> float | None:
    if raw.strip().lower() in ("none", "off", "no"):
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(
            f"{name}={raw!r}: expected a positive number of seconds, or 'none' for no limit"
        )
    return value


def routing_options_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The routing options the environment gives (file first, then the variables).

    Raises:
        ConfigurationError: The file or a variable is invalid.
    """
    env = os.environ if environ is None else environ
    options: dict[str, Any] = {}
    if env.get(CONFIG_ENV_VARIABLE):
        options.update(load_routing_file(env[CONFIG_ENV_VARIABLE]))
    if env.get("NETGPT_TRACES"):
        options["sinks"] = [*options.get("sinks", []), env["NETGPT_TRACES"]]
    if env.get("NETGPT_STORE"):
        options["store"] = env["NETGPT_STORE"]
    for option in ("step_timeout_s", "step_deadline_s"):
        name = f"NETGPT_{option.upper()}"
        if env.get(name):
            options[option] = _seconds(name, env[name])
    return options


def _built(options: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """File values turned into the objects the options take (policy, edge, cloud)."""
    from langchain_netgpt.routing import policy as policies
    from langchain_netgpt.routing import qos

    built = dict(options)
    policy = built.get("policy")
    if isinstance(policy, str | Mapping):
        spec = {"type": policy} if isinstance(policy, str) else dict(policy)
        kind = str(spec.pop("type", "netgpt"))
        cls_name = _POLICIES.get(kind, kind)
        cls = getattr(policies, cls_name, None) or getattr(qos, cls_name, None)
        if cls is None:
            raise ConfigurationError(
                f"policy {kind!r} is not a routing policy; expected one of {sorted(_POLICIES)}"
            )
        built["policy"] = cls(**spec)
    edge, cloud = built.get("edge", False), built.get("cloud", False)
    # Not given in code (None) or described by the file (a mapping): built here.
    if cloud is None or isinstance(cloud, Mapping):
        built["cloud"] = _cloud(dict(cloud or {}), env)
    if edge is None or isinstance(edge, Mapping):
        built["edge"] = _edge(dict(edge or {}))
    return built


def _edge(kwargs: dict[str, Any]) -> Any:
    """The edge a file describes: ``base_url`` + ``model`` (a served edge) or the bundled one."""
    if "base_url" in kwargs:
        from langchain_netgpt.edge import openai_compatible_edge

        return openai_compatible_edge(kwargs.pop("base_url"), kwargs.pop("model", ""), **kwargs)
    from langchain_netgpt.edge import HuggingFaceEdgeModel

    return HuggingFaceEdgeModel.from_bundled(**kwargs)


def _cloud(kwargs: dict[str, Any], env: Mapping[str, str]) -> Any:
    from langchain_netgpt.cloud import cloud_from_env

    for key, name in (
        ("api_key", "OPENAI_API_KEY"),
        ("base_url", "NETGPT_CLOUD_BASE_URL"),
        ("model", "NETGPT_CLOUD_MODEL"),
    ):
        if env.get(name) and key not in kwargs:
            kwargs[key] = env[name]
    if not (kwargs.get("api_key") or kwargs.get("base_url")):
        raise CloudUnavailableError(missing_cloud_message("routing_config_from_env"))
    return cloud_from_env(**kwargs)


def routing_config_from_env(
    environ: Mapping[str, str] | None = None,
    /,
    *,
    config_file: str | os.PathLike[str] | None = None,
    **options: Any,
) -> RoutingConfig:
    """A full routing configuration for a deployment: file, environment, then ``options``.

    Without an ``edge`` the bundled edge (SmolLM2-135M-Instruct, loaded on its first call) is
    used; without a ``cloud``, the OpenAI-compatible cloud the environment names.

    Args:
        environ: The variables to read (default: ``os.environ``).
        config_file: A routing configuration file (instead of ``$NETGPT_CONFIG``).
        **options: Routing options given in code; they win over the file and the variables.

    Raises:
        TypeError: An option name is unknown (the message lists the valid ones).
        ConfigurationError: The file or a variable is invalid.
        CloudUnavailableError: No cloud is configured (the message names what to set).
        pydantic.ValidationError: An option value is invalid.
    """
    check_option_names(set(options), owner="routing_config_from_env")
    env: Mapping[str, str] = os.environ if environ is None else environ
    if config_file is not None:
        env = {**env, CONFIG_ENV_VARIABLE: os.fspath(config_file)}
    merged = {**routing_options_from_env(env), **options}
    if "targets" not in merged:
        merged.setdefault("edge", None)
        merged.setdefault("cloud", None)
    return RoutingConfig(**_built(merged, env))
