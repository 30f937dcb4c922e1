"""The package's layers, checked on every import statement (function-level ones included).

runtime (routing/, tracing/, the front doors, errors) <- edge/, cloud/ <- export/ <- learn/;
recorded/ (shared replay data) <- learn/, bench/. The runtime never imports the offline parts,
and training never imports the benchmark.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import langchain_netgpt

PACKAGE = Path(langchain_netgpt.__file__).parent
OFFLINE = ("export", "learn", "bench", "recorded", "cli", "demo", "observe")
RUNTIME = (
    "routing",
    "tracing",
    "router",
    "middleware",
    "graph",
    "errors",
    "_postgres",
    "_registry",
    "_json_limits",
)


def _part(module: str) -> str:
    """The first component under ``langchain_netgpt`` (``routing`` for ``...routing.policy``)."""
    return module.split(".")[1] if module.startswith("langchain_netgpt.") else ""


def _imports(path: Path) -> set[str]:
    """Every ``langchain_netgpt`` module ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("langchain_netgpt.")}


def _edges() -> list[tuple[str, str, str]]:
    """(importing layer, imported layer, file) for every import inside the package."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        layer = relative.parts[0].removesuffix(".py")
        for module in _imports(path):
            edges.append((layer, _part(module), str(relative)))
    return edges


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        (RUNTIME, OFFLINE),
        (("edge", "cloud", "testing"), OFFLINE),
        (("learn",), ("bench", "cli", "demo", "observe")),
        (("recorded",), ("bench", "learn", "export", "cli", "demo", "observe")),
        (("export",), ("bench", "learn", "recorded", "cli", "demo", "observe")),
    ],
)
def test_no_layer_imports_a_layer_above_it(
    importer: tuple[str, ...], forbidden: tuple[str, ...]
) -> None:
    upward = [f"{file} imports {target}/" for layer, target, file in _edges()
              if layer in importer and target in forbidden]  # fmt: skip
    assert upward == []


def test_importing_the_runtime_loads_no_offline_package() -> None:
    code = textwrap.dedent(
        """
        import pkgutil, sys
        import langchain_netgpt, langchain_netgpt.routing, langchain_netgpt.tracing
        for pkg in (langchain_netgpt.routing, langchain_netgpt.tracing):
            for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
                __import__(info.name)
        import langchain_netgpt.router, langchain_netgpt.middleware, langchain_netgpt.graph
        offline = {name.split(".")[1] for name in sys.modules
                   if name.startswith("langchain_netgpt.") and name.count(".") >= 1}
        print(sorted(offline & {"export", "learn", "bench", "recorded", "cli", "demo"}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
