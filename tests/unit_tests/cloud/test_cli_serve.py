"""`netgpt serve`: help, and bad input rejected with a one-line reason before any model loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from langchain_netgpt.cli import app

TRACES = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "network-traces"

runner = CliRunner()


def test_top_level_help_lists_the_serve_command() -> None:
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    assert "serve" in result.output


def test_serve_help_documents_the_network_options() -> None:
    result = runner.invoke(app, ["serve", "--help"])

    assert result.exit_code == 0
    for option in ("--rtt-ms", "--bandwidth-mbps", "--trace", "--trace-up", "--model", "--port"):
        assert option in result.output


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--rtt-ms", "-5"], "--rtt-ms"),
        (["--bandwidth-mbps", "0"], "--bandwidth-mbps"),
        (["--port", "70000"], "--port"),
        (["--trace", "/nonexistent/trace.down"], "is not a file"),
        (["--trace-up", str(TRACES / "Verizon-LTE-short.up")], "trace_up"),
        (
            ["--bandwidth-mbps", "10", "--trace", str(TRACES / "Verizon-LTE-short.down")],
            "not both",
        ),
        (["--model", "/nonexistent/model-dir"], "does not exist"),
        (["--device", "tpu"], "device"),
        (["--max-concurrency", "0"], "--max-concurrency"),
    ],
    ids=[
        "negative rtt",
        "zero bandwidth",
        "port out of range",
        "missing trace",
        "uplink trace alone",
        "bandwidth and trace",
        "missing model",
        "unknown device",
        "zero concurrency",
    ],
)
def test_bad_serve_input_exits_non_zero_with_a_one_line_reason(
    args: list[str], reason: str
) -> None:
    result = runner.invoke(app, ["serve", *args])

    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("netgpt serve: error:")
    assert reason in line


def test_unparseable_trace_file_is_rejected(tmp_path: Path) -> None:
    trace = tmp_path / "bad.down"
    trace.write_text("12\nnot-a-number\n")

    result = runner.invoke(app, ["serve", "--trace", str(trace)])

    assert result.exit_code == 2
    assert "line 2" in result.output


def test_importing_the_cli_loads_no_server_or_model_libraries() -> None:
    heavy = ["fastapi", "uvicorn", "torch", "transformers"]
    code = f"import sys, langchain_netgpt.cli; print([m for m in {heavy!r} if m in sys.modules])"

    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert loaded == "[]"
