from __future__ import annotations

import pkgutil
from pathlib import Path
from typing import Literal, get_args

import pytest
from typer.testing import CliRunner

import langchain_netgpt
import langchain_netgpt.cli as cli_package
from langchain_netgpt._registry import literal_registry
from langchain_netgpt.cli import app
from langchain_netgpt.export.kinds import (
    DATASET_KIND_SPECS,
    DATASET_KINDS,
    DatasetKind,
    export_dataset,
)
from langchain_netgpt.export.writers import (
    EXPORT_FORMAT_SPECS,
    EXPORT_FORMATS,
    ExportFormat,
    write_dataset,
)

runner = CliRunner()


def test_version_prints_the_package_version_and_exits_0() -> None:
    result = runner.invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.stdout.strip() == f"netgpt (langchain-netgpt) {langchain_netgpt.__version__}"


def test_every_command_module_is_registered_once_under_its_name() -> None:
    modules = {
        name.removesuffix("_command").replace("_", "-")
        for _, name, _ in pkgutil.iter_modules(cli_package.__path__)
        if name.endswith("_command")
    }
    registered = [command.name for command in app.registered_commands]

    assert sorted(registered) == sorted(modules)
    assert len(set(registered)) == len(registered)


@pytest.mark.parametrize("command", ["serve", "demo", "bench", "export", "routes"])
def test_each_command_answers_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])

    assert result.exit_code == 0, result.output
    assert f"netgpt {command}" in result.output


def test_export_help_lists_every_registered_kind_and_format() -> None:
    result = runner.invoke(app, ["export", "--help"], env={"COLUMNS": "400"})

    for name in (*DATASET_KINDS, *EXPORT_FORMATS):
        assert f"{name} (" in result.output


def test_kind_and_format_registries_hold_exactly_the_literal_values_in_order() -> None:
    assert tuple(DATASET_KIND_SPECS) == get_args(DatasetKind) == DATASET_KINDS
    assert tuple(EXPORT_FORMAT_SPECS) == get_args(ExportFormat) == EXPORT_FORMATS


def test_a_registry_missing_a_literal_value_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match=r"missing \['b'\]"):
        literal_registry(Literal["a", "b"], {"a": 1})
    with pytest.raises(TypeError, match=r"not in the Literal \['c'\]"):
        literal_registry(Literal["a"], {"a": 1, "c": 2})


def test_unknown_kind_and_format_name_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        export_dataset("dpo", [], tmp_path / "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="format must be one of"):
        bad: ExportFormat = "csv"  # type: ignore[assignment]
        write_dataset([], dict, kind="sft", schema=dict, out=tmp_path / "y", format=bad, header={})
    assert sorted(tmp_path.iterdir()) == []


def test_serve_refuses_a_taken_port_before_it_loads_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from langchain_netgpt.cli import serve_command

    loads: list[str] = []
    monkeypatch.setattr(serve_command, "_load_model", lambda spec, device: loads.append(spec))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot bind 127.0.0.1:{port}" in result.stderr and "--port 0" in result.stderr
    assert loads == []
