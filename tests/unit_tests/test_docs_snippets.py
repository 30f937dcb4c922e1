"""Every ```python block in the docs and the README runs (offline, no weights, sockets off).

Each page's blocks run in order in one namespace, so a page reads as one script. A block that
needs real models or keys is marked on the line before its fence with
``<!-- snippet: skip (needs OPENAI_API_KEY) -->``; only those are skipped, and each shows up in
the test report as a skipped test with its reason.
"""

from __future__ import annotations

import re
import runpy
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
HOWTO = ROOT / "docs" / "howto"

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w+-]*)\s*$")
_SKIP = re.compile(r"^\s*<!--\s*snippet:\s*skip\s*(?:\((?P<reason>.*)\))?\s*-->\s*$")


@dataclass(frozen=True)
class Snippet:
    page: Path
    line: int  # 1-based line of the opening fence
    code: str
    skip_reason: str | None

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def extract_snippets(page: Path) -> list[Snippet]:
    """The page's ```python blocks, in order, with the skip reason of each (if marked)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    snippets: list[Snippet] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent = len(opening["indent"])
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise AssertionError(f"{page}:{index + 1}: code fence never closed")
        if opening["lang"] in ("python", "py"):
            before = lines[index - 1] if index > 0 else ""
            marker = _SKIP.match(before)
            if marker is None and "snippet:" in before:
                raise AssertionError(f"{page}:{index}: unreadable snippet marker {before!r}")
            reason = None
            if marker is not None:
                reason = (marker["reason"] or "").strip()
                if not reason:
                    raise AssertionError(f"{page}:{index}: a skip marker must give a reason")
            body = "\n".join(line[indent:] for line in lines[index + 1 : end])
            snippets.append(Snippet(page, index + 1, body + "\n", reason))
        index = end + 1
    return snippets


SNIPPETS = {page: extract_snippets(page) for page in PAGES}
SKIPPED = [s for snippets in SNIPPETS.values() for s in snippets if s.skip_reason is not None]


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


RUNNABLE_PAGES = [p for p in PAGES if any(s.skip_reason is None for s in SNIPPETS[p])]


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=_page_id)
def test_every_python_block_of_the_page_runs_in_order(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runnable = [s for s in SNIPPETS[page] if s.skip_reason is None]
    # Snippets may write files: give them a scratch folder as the working directory, and no
    # credentials or tracing from the environment of whoever runs the tests.
    monkeypatch.chdir(tmp_path)
    for name in (
        "OPENAI_API_KEY",
        "LANGSMITH_API_KEY",
        "LANGSMITH_TRACING",
        "LANGCHAIN_TRACING_V2",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    namespace: dict[str, object] = {"__name__": f"docs_snippet_{page.stem}"}
    for snippet in runnable:
        code = compile(snippet.code, snippet.id, "exec")
        try:
            exec(code, namespace)
        except Exception as exc:
            raise AssertionError(f"the python block at {snippet.id} failed: {exc!r}") from exc


@pytest.mark.parametrize("snippet", SKIPPED, ids=lambda s: s.id)
def test_marked_block_is_skipped_with_its_reason(snippet: Snippet) -> None:
    compile(snippet.code, snippet.id, "exec")  # a skipped block must still be valid Python
    pytest.skip(f"{snippet.id}: {snippet.skip_reason}")


@pytest.mark.parametrize("page", sorted(HOWTO.glob("*.md")), ids=_page_id)
def test_every_howto_has_a_block_that_really_runs(page: Path) -> None:
    assert any(s.skip_reason is None for s in SNIPPETS[page]), (
        f"{_page_id(page)} has no runnable python block; every how-to must show working code"
    )


def test_the_readme_blocks_that_need_keys_or_weights_are_marked_skip() -> None:
    readme = SNIPPETS[ROOT / "README.md"]
    assert readme, "the README lost its python examples"
    assert all(s.skip_reason for s in readme if "ChatOpenAI" in s.code or "from_bundled" in s.code)


def test_the_extractor_honours_skip_markers_and_indented_fences(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "intro\n"
        "```python\nx = 1\n```\n"
        "<!-- snippet: skip (needs OPENAI_API_KEY) -->\n"
        "```python\nraise RuntimeError\n```\n"
        "```bash\nls\n```\n"
        "- item\n\n  ```python\n  y = x + 1\n  ```\n",
        encoding="utf-8",
    )
    snippets = extract_snippets(page)
    assert [(s.code, s.skip_reason) for s in snippets] == [
        ("x = 1\n", None),
        ("raise RuntimeError\n", "needs OPENAI_API_KEY"),
        ("y = x + 1\n", None),
    ]


_LINK = re.compile(r"\]\((?P<target>[^)#\s]+)(?:#[^)]*)?\)")


def test_the_index_links_every_docs_page() -> None:
    index = ROOT / "docs" / "index.md"
    linked = {
        (index.parent / m["target"]).resolve() for m in _LINK.finditer(index.read_text("utf-8"))
    }
    pages = {p.resolve() for p in (ROOT / "docs").rglob("*.md") if p != index}
    assert pages - linked == set()


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_relative_links_of_the_page_resolve(page: Path) -> None:
    targets = [m["target"] for m in _LINK.finditer(page.read_text("utf-8"))]
    local = [t for t in targets if "://" not in t and not t.startswith("mailto:")]
    missing = [t for t in local if not (page.parent / t).exists()]
    assert missing == []


def _reference_generator() -> dict[str, object]:
    return runpy.run_path(str(ROOT / "docs" / "gen_reference.py"))


def test_the_committed_api_reference_is_what_the_generator_writes() -> None:
    generate = _reference_generator()["generate"]
    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == generate(), "docs/reference.md is stale: run python docs/gen_reference.py"


def test_the_reference_covers_every_public_name() -> None:
    import langchain_netgpt

    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    names = [n for n in langchain_netgpt.__all__ if not n.startswith("__")]
    assert [n for n in names if f"#### `{n}`" not in text] == []


def test_the_reference_generator_turns_docstring_examples_into_python_blocks() -> None:
    render = _reference_generator()["render_docstring"]
    doc = (
        "Do a thing.\n\n"
        "Args:\n    size: How big, in ``[0, 1]``.\n        Continued.\n\n"
        "Example:\n    .. code-block:: python\n\n        thing(1)\n"
    )
    lines = render(doc, skip_reason="needs a GPU", owner=("pkg.mod", "thing"))
    assert lines == [
        "Do a thing.",
        "",
        "**Args:**",
        "",
        "- `size`: How big, in `[0, 1]`. Continued.",
        "",
        "**Example:**",
        "",
        "<!-- snippet: skip (needs a GPU) -->",
        "```python",
        "from pkg.mod import thing\n\nthing(1)",
        "```",
        "",
    ]
