"""Generate ``docs/reference.md`` from the docstrings of the public API.

Run ``python docs/gen_reference.py`` after changing a public docstring or signature; a unit test
(``tests/unit_tests/test_docs_snippets.py``) fails while the committed file differs from what this
script writes. ``python docs/gen_reference.py --check`` exits 1 when the file is stale.

The page documents ``langchain_netgpt.__all__`` (grouped by the module that defines each name),
then the public names of the main submodules that the top level does not re-export. Docstring
``Example:`` blocks become ```python blocks, which the docs snippet test runs; the few that need
model weights or an optional extra are marked skip here, with the reason, in :data:`SKIP`.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import textwrap
from dataclasses import is_dataclass
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

OUTPUT = Path(__file__).resolve().parent / "reference.md"

SUBMODULES = (
    "langchain_netgpt.routing",
    "langchain_netgpt.errors",
    "langchain_netgpt.routing.network",
    "langchain_netgpt.routing.latency",
    "langchain_netgpt.routing.policy",
    "langchain_netgpt.routing.budget",
    "langchain_netgpt.router",
    "langchain_netgpt.graph",
    "langchain_netgpt.tracing",
    "langchain_netgpt.observe",
    "langchain_netgpt.testing",
    "langchain_netgpt.edge",
    "langchain_netgpt.cloud",
)
"""Submodules whose public names (their ``__all__``) the page lists besides the top level.

Each name is documented once: under the top level, or under the first submodule that lists it.
"""

SKIP = {
    "HuggingFaceEdgeModel": "loads the bundled model weights",
    "tgi_edge": "needs langchain-huggingface, the tgi extra",
    "LoadedModelCache": "loads the bundled model weights",
    "PostgresTraceStore": "needs a PostgreSQL server",
}
"""Names whose docstring example must not run in the offline docs test, and why."""

_SECTIONS = (
    "Args",
    "Arguments",
    "Attributes",
    "Returns",
    "Yields",
    "Raises",
    "Example",
    "Examples",
)
_SECTION = re.compile(rf"^({'|'.join(_SECTIONS)}):\s*$")
_ITEM = re.compile(r"^(?P<name>\*{0,2}[\w.]+(?: \([^)]*\))?):\s*(?P<text>.*)$")
_ROLE = re.compile(r":(?:class|meth|func|data|attr|mod|exc|obj):`~?(?P<name>[^`]+)`")


def _inline(text: str) -> str:
    """RST inline markup to Markdown: roles and double backticks become code spans."""
    text = _ROLE.sub(lambda m: f"`{m['name']}`", text)
    return text.replace("``", "`")


def _code_block(
    lines: list[str], skip_reason: str | None, owner: tuple[str, str] | None
) -> list[str]:
    code = textwrap.dedent("\n".join(lines)).strip("\n")
    if owner is not None:
        module, name = owner
        imported = re.search(rf"^\s*(from .* )?import .*\b{name}\b", code, re.M)
        if re.search(rf"\b{name}\b", code) and not imported:
            # The docstring relies on its own module's namespace; the page says where it lives.
            code = f"from {module} import {name}\n\n{code}"
    out = [f"<!-- snippet: skip ({skip_reason}) -->"] if skip_reason else []
    return [*out, "```python", code.replace('\\"', '"'), "```", ""]


def _section_body(name: str, lines: list[str]) -> list[str]:
    """A Google-style section (indented by 4) as a Markdown list or paragraph."""
    body = textwrap.dedent("\n".join(lines)).strip("\n").splitlines()
    if name in ("Returns", "Yields"):
        return [_inline(" ".join(line.strip() for line in body)), ""]
    items: list[str] = []
    for line in body:
        match = _ITEM.match(line) if not line.startswith(" ") else None
        if match is not None:
            items.append(f"- `{match['name']}`: {match['text']}".rstrip())
        elif items:
            items[-1] += " " + line.strip()
        else:
            items.append(line.strip())
    return [_inline(item) for item in items] + [""]


def render_docstring(
    doc: str, *, skip_reason: str | None = None, owner: tuple[str, str] | None = None
) -> list[str]:
    """A Google-style docstring as Markdown lines.

    Args:
        doc: The cleaned docstring (``inspect.getdoc``).
        skip_reason: If set, the example blocks are marked skip with this reason.
        owner: ``(module, name)`` of the documented object, imported into its examples when
            they use it without importing it.

    Returns:
        Markdown lines, ending with a blank line.
    """
    out: list[str] = []
    lines = doc.splitlines()
    index = 0
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.extend([_inline(" ".join(paragraph)), ""])
            paragraph.clear()

    while index < len(lines):
        line = lines[index]
        section = _SECTION.match(line)
        if section is None:
            if line.strip():
                paragraph.append(line.strip())
            else:
                flush()
            index += 1
            continue
        flush()
        name = section[1]
        index += 1
        block: list[str] = []
        while index < len(lines) and (not lines[index].strip() or lines[index].startswith(" ")):
            block.append(lines[index])
            index += 1
        if name in ("Example", "Examples"):
            out.extend(["**Example:**", ""])
            out.extend(_example(block, skip_reason, owner))
        else:
            out.extend([f"**{name}:**", ""])
            out.extend(_section_body(name, block))
    flush()
    return out


def _example(block: list[str], skip_reason: str | None, owner: tuple[str, str] | None) -> list[str]:
    text = textwrap.dedent("\n".join(block)).strip("\n").splitlines()
    out: list[str] = []
    index = 0
    while index < len(text):
        if text[index].strip().startswith(".. code-block::"):
            index += 1
            code: list[str] = []
            while index < len(text) and (not text[index].strip() or text[index].startswith(" ")):
                code.append(text[index])
                index += 1
            out.extend(_code_block(code, skip_reason, owner))
        else:
            if text[index].strip():
                out.extend([_inline(text[index].strip()), ""])
            index += 1
    return out


def _signature(obj: Any, name: str, *, method: bool = False) -> str | None:
    """``name(params) -> return`` with annotations as written in the source, or ``None``."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = list(signature.parameters.values())
    if method and params and params[0].name in ("self", "cls"):
        params = params[1:]
    parts: list[str] = []
    star_done = False
    for param in params:
        if param.kind is param.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        if param.kind is param.VAR_POSITIONAL:
            star_done = True
        prefix = {param.VAR_POSITIONAL: "*", param.VAR_KEYWORD: "**"}.get(param.kind, "")
        text = prefix + param.name
        if param.annotation is not param.empty:
            text += f": {_annotation(param.annotation)}"
        if param.default is not param.empty:
            text += f" = {param.default!r}"
        parts.append(text)
        if param.kind is param.POSITIONAL_ONLY and (
            param is params[-1] or params[params.index(param) + 1].kind is not param.POSITIONAL_ONLY
        ):
            parts.append("/")
    result = ""
    if signature.return_annotation is not signature.empty:
        result = f" -> {_annotation(signature.return_annotation)}"
    return _clean(f"{name}({', '.join(parts)}){result}")


def _annotation(annotation: Any) -> str:
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def _is_pydantic_model(cls: type) -> bool:
    return any(base.__module__.startswith("pydantic") for base in cls.__mro__[1:]) and hasattr(
        cls, "model_fields"
    )


def _fields_table(cls: type) -> list[str]:
    """The fields a project class declares, as written in the source (stable across versions)."""
    annotations: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        if base.__module__.startswith("langchain_netgpt"):
            annotations.update(vars(base).get("__annotations__", {}))
    fields = getattr(cls, "model_fields", {})
    rows = []
    for name, info in fields.items():
        if name not in annotations:
            continue
        if info.default_factory is not None:
            default = "*(factory)*"
        elif info.is_required():
            default = "*required*"
        else:
            default = f"`{_clean(repr(info.default))}`"
        description = _inline(info.description or "")
        cells = [f"`{name}`", f"`{annotations[name]}`", default, description]
        rows.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    if not rows:
        return []
    return ["| field | type | default | description |", "|---|---|---|---|", *rows, ""]


def _clean(text: str) -> str:
    """Drop memory addresses from reprs (the page must not change between runs)."""
    return re.sub(r"<([\w.]+) object at 0x[0-9a-f]+>", r"<\1 instance>", text)


def _cell(text: str) -> str:
    """Text for a Markdown table cell (a pipe would end the cell, even inside backticks)."""
    return text.replace("|", "\\|")


def _own_members(cls: type) -> list[tuple[str, Any]]:
    """Public methods and properties defined by the class or a project base class."""
    members: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        if not base.__module__.startswith("langchain_netgpt"):
            continue
        for attr, value in vars(base).items():
            if attr.startswith("_") or attr.startswith("model_"):
                continue
            if isinstance(value, classmethod | staticmethod):
                members[attr] = value.__func__
            elif isinstance(value, property) or inspect.isfunction(value):
                members[attr] = value
    return sorted(members.items())


def _document(name: str, obj: Any, level: int, module: str) -> list[str]:
    heading = "#" * level
    skip = SKIP.get(name)
    owner = (module, name)
    if inspect.isclass(obj):
        kind = "exception" if issubclass(obj, BaseException) else "class"
        out = [f"{heading} `{name}` ({kind})", ""]
        own_init = any(
            "__init__" in vars(base)
            for base in obj.__mro__
            if base.__module__.startswith("langchain_netgpt")
        )
        plain = not (_is_pydantic_model(obj) or getattr(obj, "_is_protocol", False))
        signature = _signature(obj, name) if plain and (own_init or is_dataclass(obj)) else None
        if signature is not None:
            out.extend(["```text", signature, "```", ""])
        out.extend(render_docstring(inspect.getdoc(obj) or "", skip_reason=skip, owner=owner))
        if _is_pydantic_model(obj):
            table = _fields_table(obj)
            out.extend(["**Fields:**", "", *table] if table else [])
        for attr, member in _own_members(obj):
            doc = inspect.getdoc(member)
            if not doc:
                continue
            if isinstance(member, property):
                out.extend([f"- **`{attr}`** (property): {_inline(doc.splitlines()[0])}"])
                continue
            out.extend([f"**`{name}.{_signature(member, attr, method=True) or attr}`**", ""])
            out.extend(render_docstring(doc, skip_reason=skip, owner=owner))
        if out[-1] != "":
            out.append("")
        return out
    if inspect.isfunction(obj):
        out = [f"{heading} `{name}` (function)", ""]
        out.extend(["```text", _signature(obj, name) or name, "```", ""])
        return out + render_docstring(inspect.getdoc(obj) or "", skip_reason=skip, owner=owner)
    return [f"{heading} `{name}` (constant)", "", f"`{name} = {_clean(repr(obj))}`", ""]


def _constant_doc(module: ModuleType, name: str) -> str | None:
    """The docstring written under a module-level constant (``X = ...`` then a string)."""
    path = Path(module.__file__ or "")
    files = sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]
    pattern = re.compile(rf'^{name}\b[^\n]*(?:\n[^\n"]+)*\n"""(?P<doc>.*?)"""', re.S | re.M)
    for file in files:
        match = pattern.search(file.read_text(encoding="utf-8"))
        if match:
            return " ".join(match["doc"].split())
    return None


def generate() -> str:
    """The reference page, as Markdown."""
    package = import_module("langchain_netgpt")
    out = [
        "# API reference",
        "",
        "<!-- Generated by docs/gen_reference.py from the docstrings; do not edit by hand. -->",
        "<!-- The examples keep their docstring layout: ruff format leaves this page alone. -->",
        "<!-- fmt: off -->",
        "",
        f"langchain-netgpt {package.__version__}. The names below are importable from "
        "`langchain_netgpt`; the second part lists the public names of submodules that the "
        "top level does not re-export.",
        "",
    ]
    exported = [n for n in package.__all__ if not n.startswith("__")]
    by_module: dict[str, list[str]] = {}
    for name in exported:
        by_module.setdefault(getattr(package, name).__module__, []).append(name)
    out.extend(["## `langchain_netgpt`", ""])
    for module_name in sorted(by_module):
        module = import_module(module_name)
        summary = (inspect.getdoc(module) or "").split("\n\n")[0]
        out.extend([f"### From `{module_name}`", "", _inline(" ".join(summary.split())), ""])
        for name in sorted(by_module[module_name]):
            out.extend(_document(name, getattr(package, name), 4, "langchain_netgpt"))
    out.extend(["## Submodules", ""])
    documented = set(exported)
    for module_name in SUBMODULES:
        module = import_module(module_name)
        extra = [n for n in module.__all__ if n not in documented]
        summary = (inspect.getdoc(module) or "").split("\n\n")[0]
        out.extend([f"### `{module_name}`", "", _inline(" ".join(summary.split())), ""])
        also = sorted(n for n in module.__all__ if n in documented)
        documented.update(extra)
        if also:
            out.extend(["Also here: " + ", ".join(f"`{n}`" for n in also) + ".", ""])
        for name in extra:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                section = _document(f"{module_name}.{name}", obj, 4, module_name)
                doc = _constant_doc(module, name)
                out.extend(section + ([_inline(doc), ""] if doc else []))
                continue
            out.extend(_document(name, obj, 4, module_name))
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the page (or, with ``--check``, report whether it is stale)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if reference.md is stale")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale: run python docs/gen_reference.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
