from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from langgraph.graph.state import CompiledStateGraph

from langchain_netgpt.errors import CloudUnavailableError, MissingExtraError

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "langgraph.json"


def load_config() -> dict[str, Any]:
    config = json.loads(CONFIG.read_text())
    assert isinstance(config, dict)
    return config


def import_graph_file(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_langgraph_config_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def graph_targets() -> list[tuple[str, Path, str]]:
    targets = []
    for graph_id, ref in load_config()["graphs"].items():
        file_part, _, attribute = ref.rpartition(":")
        targets.append((graph_id, (ROOT / file_part).resolve(), attribute))
    return targets


def test_the_config_has_the_keys_langgraph_dev_reads() -> None:
    config = load_config()
    assert config["dependencies"] == ["."]
    assert config["graphs"] and all(":" in ref for ref in config["graphs"].values())
    assert isinstance(config.get("env", ".env"), str | dict)
    assert (ROOT / "pyproject.toml").is_file()  # what the "." dependency installs


@pytest.mark.parametrize(("graph_id", "path", "attribute"), graph_targets())
def test_every_graph_named_in_the_config_imports_and_compiles(
    graph_id: str, path: Path, attribute: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETGPT_CLOUD_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.delenv("NETGPT_TRACES", raising=False)
    assert path.is_file(), f"{graph_id}: {path} does not exist"
    target = getattr(import_graph_file(path, graph_id), attribute)
    if callable(target) and not isinstance(target, CompiledStateGraph):
        assert len(inspect.signature(target).parameters) <= 1  # a factory takes the config only
        try:
            target = target({"configurable": {}})
            if inspect.iscoroutine(target):
                target = asyncio.run(target)
        except MissingExtraError as exc:
            pytest.skip(f"{graph_id} needs an extra that is not installed: {exc}")
    assert isinstance(target, CompiledStateGraph)
    drawn = target.get_graph()
    assert {"model", "tools"} <= set(drawn.nodes)


def test_importing_the_agent_graph_without_a_cloud_fails_at_start_up_saying_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OPENAI_API_KEY", "NETGPT_CLOUD_BASE_URL", "NETGPT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CloudUnavailableError, match=r"OPENAI_API_KEY.*NETGPT_CLOUD_BASE_URL"):
        import_graph_file(ROOT / "graphs" / "agent.py", "agent_without_cloud")


def test_the_agent_graph_takes_its_routing_options_from_the_config_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("transformers")
    config = tmp_path / "netgpt.yaml"
    config.write_text("step_timeout_s: 7\ntool_choice: auto\nretry: {attempts: 2}\n")
    monkeypatch.setenv("NETGPT_CLOUD_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("NETGPT_CONFIG", str(config))
    monkeypatch.setenv("NETGPT_TRACES", str(tmp_path / "traces" / "routes.jsonl"))
    module = import_graph_file(ROOT / "graphs" / "agent.py", "agent_with_config")
    graph = asyncio.run(module.make_graph({}))
    routing = module.routing_config()
    assert (routing.step_timeout_s, routing.tool_choice, routing.retry.attempts) == (7, "auto", 2)
    assert [sink.path for sink in routing.sinks] == [tmp_path / "traces" / "routes.jsonl"]
    assert not (tmp_path / "traces").exists()  # the sink opens on its first trace, not before
    assert graph is asyncio.run(module.make_graph({}))  # built once, shared by every run


def test_importing_the_agent_module_builds_nothing() -> None:
    agent_file = str(ROOT / "graphs" / "agent.py")
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('agent', {agent_file!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(sorted({'torch', 'transformers', 'langchain_openai'} & set(sys.modules)))\n"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "NETGPT_CLOUD_BASE_URL")
    }
    env["NETGPT_CLOUD_BASE_URL"] = "http://127.0.0.1:9/v1"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
