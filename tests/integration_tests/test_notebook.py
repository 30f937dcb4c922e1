"""The quick-start notebook runs top to bottom, offline, in a kernel of this environment."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

from tests.conftest import TRACES  # noqa: E402

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOK = EXAMPLES / "quickstart.ipynb"


def _kernel_manager(tmp_path: Path) -> KernelManager:
    """A kernel running this test's own interpreter, from a spec that exists only for the test.

    Nothing is registered globally, and a user-level "python3" kernel spec pointing at another
    interpreter cannot be picked up by mistake.
    """
    spec_dir = tmp_path / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "netgpt test kernel",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    # IPC (Unix sockets under tmp_path) rather than TCP: nothing listens on a network port.
    return KernelManager(
        kernel_name="python3",
        kernel_spec_manager=specs,
        transport="ipc",
        ip=str(tmp_path / "kernel-ipc"),
    )


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, traces: Path | None, cwd: Path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    for name in ("OPENAI_API_KEY", "LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2"):
        monkeypatch.delenv(name, raising=False)
    if traces is None:
        monkeypatch.delenv("NETGPT_NETWORK_TRACES_DIR", raising=False)
    else:
        monkeypatch.setenv("NETGPT_NETWORK_TRACES_DIR", str(traces))
    km = _kernel_manager(tmp_path)
    client = nbclient.NotebookClient(
        notebook, km=km, timeout=120, resources={"metadata": {"path": str(cwd)}}
    )
    try:
        client.execute()
    finally:
        # nbclient leaves a kernel it was handed running: stop it, or it outlives the test.
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return notebook


def _outputs(notebook) -> str:
    return "\n".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
    )


def test_the_notebook_is_committed_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_the_notebook_runs_top_to_bottom_with_the_lte_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.perf_counter()
    notebook = _run(tmp_path, monkeypatch, traces=TRACES, cwd=EXAMPLES)
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
    text = _outputs(notebook)
    assert "steps on the edge" in text  # the replay ran on the real trace
    assert "saved " in text and "netgpt_decisions.png" in text
    assert "== all ==" in text and "tau terms (mean)" in text  # the routes report
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "display_data" and "image/png" in output.get("data", {})
    ]
    assert images  # the timeline is shown inline
    assert time.perf_counter() - started < 60


def test_the_notebook_skips_only_the_replay_when_the_traces_are_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Run from a folder with no ../../shared/data above it, and no environment variable.
    elsewhere = tmp_path / "project" / "examples"
    elsewhere.mkdir(parents=True)
    notebook = _run(tmp_path, monkeypatch, traces=None, cwd=elsewhere)
    text = _outputs(notebook)
    assert "skipping the replay" in text
    assert "steps on the edge" not in text
    assert "saved " in text  # the plot falls back to an RTT sweep
