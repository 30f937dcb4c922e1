"""The privacy evasion corpus (``tests/data/privacy_evasion_corpus.json``) as LangChain messages.

Shared by ``test_privacy_evasion.py`` and ``benchmarks/privacy_scan.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

CORPUS = Path(__file__).parents[2] / "data" / "privacy_evasion_corpus.json"

_ROLES: dict[str, type[BaseMessage]] = {
    "human": HumanMessage,
    "ai": AIMessage,
    "tool": ToolMessage,
    "system": SystemMessage,
}


def _message(spec: dict[str, Any]) -> BaseMessage:
    fields = dict(spec)
    role = fields.pop("role")
    if role == "ai":
        fields["invalid_tool_calls"] = [
            {**call, "type": "invalid_tool_call"} for call in fields.get("invalid_tool_calls", [])
        ]
    return _ROLES[role](**fields)


def load_corpus(path: Path = CORPUS) -> tuple[list[dict[str, Any]], list[str]]:
    """The variants (each with ``messages`` as LangChain messages) and the benign texts."""
    data = json.loads(path.read_text(encoding="utf-8"))
    variants = [
        {**case, "messages": [_message(m) for m in case["messages"]]} for case in data["variants"]
    ]
    return variants, list(data["benign"])
