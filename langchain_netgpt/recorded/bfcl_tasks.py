"""BFCL (Berkeley Function Calling Leaderboard) tasks: loading, tool conversion, call checking.

A BFCL file is JSON Lines; each line holds ``{"id", "question", "function"}`` where ``question`` is
a list of turns (each a list of ``{role, content}`` messages) and ``function`` lists BFCL function
docs, JSON-Schema-like but with BFCL's own type names (``dict``, ``float``, ``tuple``, ``any``).
The ground truth lives in ``possible_answer/<same file name>`` as
``{"id", "ground_truth": [{function_name: {param: [allowed values...]}}]}``; categories whose name
contains ``irrelevance`` have none (the right answer is to call nothing) and ``relevance``
categories have none either (the right answer is to call something).

This module turns each line into a :class:`BfclTask` whose ``tools`` can be bound to any
LangChain chat model (standard JSON Schema, names that satisfy OpenAI's ``^[a-zA-Z0-9_-]{1,64}$``),
and :func:`check_calls` grades the tool calls a model made with BFCL's AST-checker semantics.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from langchain_netgpt.errors import BenchmarkDataError, ConfigurationError
from langchain_netgpt.recorded._bfcl_checker import CallCheck, check_calls

__all__ = [
    "BfclTask",
    "CallCheck",
    "bfcl_schema_to_json_schema",
    "check_calls",
    "load_bfcl",
    "sanitize_tool_name",
]

_MAX_TOOL_NAME = 64
_INVALID_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]")
_FILE_PREFIX = re.compile(r"^BFCL_v\d+_")

# BFCL's type names (Python, Java and JavaScript categories) -> JSON Schema type names.
_JSON_TYPES: dict[str, str] = {
    "dict": "object",
    "object": "object",
    "HashMap": "object",
    "Hashtable": "object",
    "float": "number",
    "double": "number",
    "number": "number",
    "integer": "integer",
    "int": "integer",
    "long": "integer",
    "short": "integer",
    "byte": "integer",
    "Bigint": "integer",
    "string": "string",
    "String": "string",
    "str": "string",
    "char": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "Boolean": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "Array": "array",
    "ArrayList": "array",
    "Queue": "array",
    "Stack": "array",
    "null": "null",
}
# Keywords copied unchanged (annotations and constraints that mean the same in JSON Schema).
_COPIED_KEYWORDS = (
    "title",
    "description",
    "default",
    "enum",
    "const",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "examples",
)


@dataclass(frozen=True)
class BfclTask:
    """One BFCL task: the first user turn, the functions offered and the accepted answers.

    Attributes:
        id: BFCL id, e.g. ``"simple_python_0"``.
        category: Category derived from the file name, e.g. ``"simple_python"``.
        messages: The first turn's ``[{"role", "content"}, ...]`` messages.
        functions: The raw BFCL function docs.
        tools: OpenAI tool dicts (``{"type": "function", "function": {...}}``) in the same order
            as ``functions``, with sanitised names and standard JSON Schema parameters; pass them
            to ``chat_model.bind_tools(task.tools)``.
        ground_truth: BFCL's accepted calls ``[{function_name: {param: [allowed values]}}]``, or
            ``None`` for irrelevance / relevance categories (no call / some call expected).

    Example:
        >>> tasks = load_bfcl("../shared/data/bfcl/BFCL_v4_simple_python.json", limit=2)
        >>> task = tasks[1]
        >>> task.tools[0]["function"]["name"], task.original_name("math_factorial")
        ('math_factorial', 'math.factorial')
        >>> check_calls(task, [{"name": "math_factorial", "args": {"number": 5}}]).correct
        True
    """

    id: str
    category: str
    messages: list[dict[str, str]]
    functions: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    ground_truth: list[dict[str, Any]] | None
    _originals: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.tools) != len(self.functions):
            raise ValueError(
                f"task {self.id!r}: {len(self.tools)} tools for {len(self.functions)} functions; "
                "tools[i] must be the converted functions[i]"
            )
        originals = {
            tool["function"]["name"]: function["name"]
            for tool, function in zip(self.tools, self.functions, strict=True)
        }
        object.__setattr__(self, "_originals", originals)

    def __hash__(self) -> int:
        return hash((self.category, self.id))

    @property
    def expects_call(self) -> bool:
        """Whether a correct answer calls at least one function (``False`` for irrelevance)."""
        return "irrelevance" not in self.category

    @property
    def language(self) -> str:
        """``"java"``, ``"javascript"`` or ``"python"``: how BFCL reads the arguments."""
        return _language(self.category)

    def original_name(self, tool_name: str) -> str:
        """Map a tool name (sanitised, or already the BFCL name) back to the BFCL function name.

        Args:
            tool_name: Name as the model called it.

        Returns:
            The BFCL function name.

        Raises:
            KeyError: No function of this task has that name.
        """
        original = self._originals.get(tool_name)
        if original is not None:
            return original
        if tool_name in self._originals.values():
            return tool_name
        raise KeyError(
            f"task {self.id!r} has no tool named {tool_name!r}; "
            f"its tools are {sorted(self._originals)}"
        )

    def tool_name(self, original_name: str) -> str:
        """Map a BFCL function name to the sanitised tool name bound for this task.

        Raises:
            KeyError: No function of this task has that name.
        """
        for sanitised, original in self._originals.items():
            if original == original_name:
                return sanitised
        raise KeyError(
            f"task {self.id!r} has no function named {original_name!r}; "
            f"its functions are {sorted(self._originals.values())}"
        )


def sanitize_tool_name(name: str) -> str:
    """Turn a BFCL function name into a valid OpenAI tool name (``^[a-zA-Z0-9_-]{1,64}$``).

    Every character outside ``[a-zA-Z0-9_-]`` becomes ``_`` (``math.factorial`` ->
    ``math_factorial``); a name longer than 64 characters keeps its first 55 and gets an
    8-hex-digit digest of the full name. The result is deterministic; within one task,
    :func:`load_bfcl` resolves the rare collisions with numeric suffixes, and
    :meth:`BfclTask.original_name` maps back.

    Args:
        name: The BFCL function name.

    Returns:
        A valid tool name; ``name`` itself when it is already valid.
    """
    cleaned = _INVALID_NAME_CHARS.sub("_", name) or "_"
    if len(cleaned) > _MAX_TOOL_NAME:
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
        cleaned = f"{cleaned[: _MAX_TOOL_NAME - 9]}_{digest}"
    return cleaned


def bfcl_schema_to_json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a BFCL parameter schema to standard JSON Schema, recursively.

    ``dict`` becomes ``object``, ``float`` ``number``, ``tuple`` ``array`` and ``any`` no type
    constraint at all (Java/JavaScript type names map likewise); ``description``, ``enum``,
    ``default``, ``items``, ``properties`` and ``required`` are kept, BFCL's non-standard
    ``optional`` flag is dropped, and an object that lists its ``properties`` gets
    ``additionalProperties: false`` (BFCL rejects parameters it does not know). Only the ``type``
    of a schema is read as the type keyword: a property that happens to be *named* ``type`` is
    converted like any other property.

    Args:
        schema: A BFCL schema (a function's ``parameters`` or any nested property schema).

    Returns:
        A new dict; the input is not modified.

    Raises:
        TypeError: ``schema`` (or a nested schema) is not a mapping.
        ValueError: A ``type`` keyword is neither a string nor a list of strings (a sign that a
            ``properties`` mapping was passed where a schema was expected).
    """
    if not isinstance(schema, Mapping):
        raise TypeError(f"a BFCL schema must be a JSON object, got {type(schema).__name__}")
    out: dict[str, Any] = {}
    json_type = _convert_type(schema)
    if json_type is not None:
        out["type"] = json_type
    for keyword in _COPIED_KEYWORDS:
        if keyword in schema:
            out[keyword] = schema[keyword]

    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        out["properties"] = {
            str(name): bfcl_schema_to_json_schema(_as_schema(sub, name))
            for name, sub in properties.items()
        }
    required = schema.get("required")
    if isinstance(required, list):
        out["required"] = [str(name) for name in required]

    items = schema.get("items")
    if isinstance(items, Mapping):
        out["items"] = bfcl_schema_to_json_schema(items)
    elif isinstance(items, list):
        out["prefixItems"] = [bfcl_schema_to_json_schema(_as_schema(s, "items")) for s in items]

    additional = schema.get("additionalProperties")
    if isinstance(additional, bool):
        out["additionalProperties"] = additional
    elif isinstance(additional, Mapping):
        out["additionalProperties"] = bfcl_schema_to_json_schema(additional)
    elif "properties" in out and out.get("type") == "object":
        out["additionalProperties"] = False

    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list):
            out[combinator] = [
                bfcl_schema_to_json_schema(_as_schema(s, combinator)) for s in options
            ]
    return out


def load_bfcl(
    path: str | Path,
    answers_path: str | Path | None = None,
    *,
    limit: int | None = None,
) -> list[BfclTask]:
    """Load the tasks of one BFCL file (and their ground truth).

    Args:
        path: A BFCL JSON Lines file, e.g. ``.../BFCL_v4_simple_python.json``. The category is
            its name without the ``BFCL_v4_`` prefix and the extension.
        answers_path: The matching ``possible_answer`` file; by default
            ``<dir>/possible_answer/<file name>``. Ignored for ``irrelevance`` and ``relevance``
            categories, which have no answers.
        limit: Load only the first ``limit`` tasks (``None``: all).

    Returns:
        The tasks in file order.

    Raises:
        BenchmarkDataError: A file is missing, a line is not valid JSON or not a BFCL record
            (the message names the file and line), a task has no answer, or an answer names a
            function the task does not offer.
        ConfigurationError: ``limit`` is negative.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ConfigurationError(
            f"limit must be None or an integer >= 0, got {limit!r}", field="limit", value=limit
        )
    task_path = Path(path)
    category = _category(task_path)
    records: list[tuple[int, dict[str, Any]]] = []
    for line_no, record in _read_jsonl(task_path):
        if limit is not None and len(records) >= limit:
            break
        records.append((line_no, record))

    needs_answers = "relevance" not in category  # covers "irrelevance" too
    answers: dict[str, tuple[int, Any]] = {}
    answer_file = Path(answers_path) if answers_path is not None else None
    if needs_answers and records:
        if answer_file is None:
            answer_file = task_path.parent / "possible_answer" / task_path.name
            if not answer_file.is_file():
                raise BenchmarkDataError(
                    f"{task_path}: no answer file at {answer_file}; category {category!r} needs "
                    "ground truth (pass answers_path=...)",
                    path=str(task_path),
                )
        answers = _read_answers(answer_file)

    tasks: list[BfclTask] = []
    seen: dict[str, int] = {}
    for line_no, record in records:
        task = _build_task(record, category, task_path, line_no)
        if task.id in seen:
            raise BenchmarkDataError(
                f"{task_path}:{line_no}: duplicate task id {task.id!r} (first on line "
                f"{seen[task.id]})",
                path=str(task_path),
                line=line_no,
            )
        seen[task.id] = line_no
        if needs_answers:
            assert answer_file is not None
            task = _attach_answer(task, answers, answer_file, task_path, line_no)
        tasks.append(task)
    return tasks


# --- helpers -------------------------------------------------------------------------------------


def _language(category: str) -> str:
    if category.endswith("javascript"):
        return "javascript"
    if category.endswith("java"):
        return "java"
    return "python"


def _category(path: Path) -> str:
    name = path.name
    for suffix in (".jsonl", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return _FILE_PREFIX.sub("", name) or name


def _as_schema(value: Any, where: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"schema for {where!r} must be a JSON object, got {type(value).__name__}")
    return value


def _convert_type(schema: Mapping[str, Any]) -> str | list[str] | None:
    raw = schema.get("type")
    if raw is None:
        if "properties" in schema:
            return "object"
        return "array" if "items" in schema else None
    if isinstance(raw, str):
        return _JSON_TYPES.get(raw)  # "any" and unknown names: no type constraint
    if isinstance(raw, list) and all(isinstance(t, str) for t in raw):
        mapped = [_JSON_TYPES.get(t) for t in raw]
        if any(t is None for t in mapped):
            return None  # one alternative is "any": the union accepts everything
        return list(dict.fromkeys(t for t in mapped if t is not None))
    raise ValueError(
        f"schema 'type' must be a type name or a list of type names, got {raw!r}; "
        "was a 'properties' mapping passed where a schema was expected?"
    )


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise BenchmarkDataError(f"cannot read {path}: {exc.strerror}", path=str(path)) from exc
    with handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BenchmarkDataError(
                    f"{path}:{line_no}: not valid JSON ({exc.msg} at column {exc.colno})",
                    path=str(path),
                    line=line_no,
                ) from exc
            if not isinstance(record, dict):
                raise BenchmarkDataError(
                    f"{path}:{line_no}: expected a JSON object, got {type(record).__name__}",
                    path=str(path),
                    line=line_no,
                )
            yield line_no, record


def _first_turn(question: Any) -> list[Any] | None:
    if isinstance(question, str):  # BFCL v1 stored a bare prompt
        return [{"role": "user", "content": question}]
    if not isinstance(question, list) or not question:
        return None
    first = question[0]
    if isinstance(first, dict):  # a single turn given without the outer list
        return question
    return first if isinstance(first, list) and first else None


def _build_task(record: dict[str, Any], category: str, path: Path, line_no: int) -> BfclTask:
    def bad(what: str) -> BenchmarkDataError:
        return BenchmarkDataError(f"{path}:{line_no}: {what}", path=str(path), line=line_no)

    task_id = record.get("id")
    if not isinstance(task_id, str) or not task_id:
        raise bad(f"'id' must be a non-empty string, got {task_id!r}")
    turn = _first_turn(record.get("question"))
    if turn is None:
        raise bad(f"task {task_id!r}: 'question' must hold a non-empty list of turns")
    messages: list[dict[str, str]] = []
    for message in turn:
        if not (
            isinstance(message, dict)
            and isinstance(message.get("role"), str)
            and isinstance(message.get("content"), str)
        ):
            raise bad(f"task {task_id!r}: each message needs string 'role' and 'content'")
        messages.append({"role": message["role"], "content": message["content"]})

    functions = record.get("function")
    if isinstance(functions, dict):  # BFCL v1 stored a lone function as an object
        functions = [functions]
    if not isinstance(functions, list):
        raise bad(
            f"task {task_id!r}: 'function' must be a list of function docs"
            + (
                " (multi-turn BFCL files keep their function docs in separate files; "
                "they are not supported)"
                if "involved_classes" in record
                else ""
            )
        )
    names: list[str] = []
    for function in functions:
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise bad(f"task {task_id!r}: each function doc needs a string 'name'")
        if not function["name"]:
            raise bad(f"task {task_id!r}: a function has an empty name")
        names.append(function["name"])
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise bad(f"task {task_id!r}: function names repeat: {duplicates}")

    language = _language(category)
    tool_names = _assign_tool_names(names)
    tools = []
    for function, tool_name in zip(functions, tool_names, strict=True):
        try:
            parameters = _tool_parameters(function.get("parameters"), language)
        except (TypeError, ValueError) as exc:
            raise bad(f"task {task_id!r}, function {function['name']!r}: {exc}") from exc
        spec: dict[str, Any] = {"name": tool_name, "parameters": parameters}
        description = function.get("description")
        spec["description"] = description if isinstance(description, str) else ""
        tools.append({"type": "function", "function": spec})
    return BfclTask(
        id=task_id,
        category=category,
        messages=messages,
        functions=functions,
        tools=tools,
        ground_truth=None,
    )


def _tool_parameters(parameters: Any, language: str) -> dict[str, Any]:
    if parameters is None:
        return {"type": "object", "properties": {}, "additionalProperties": False}
    converted = bfcl_schema_to_json_schema(_as_schema(parameters, "parameters"))
    if converted.get("type") is None:
        converted["type"] = "object"
    if converted["type"] != "object":
        raise ValueError(f"'parameters' must describe an object, got type {converted['type']!r}")
    converted.setdefault("properties", {})
    converted.setdefault("additionalProperties", False)
    if language != "python":
        # BFCL passes Java/JavaScript arguments as source-code strings ("new ArrayList<>()").
        raw_properties = parameters.get("properties", {})
        for name, schema in list(converted["properties"].items()):
            raw_type = raw_properties.get(name, {}).get("type", "any")
            note = f"This is a {language.title()} {raw_type} value in string representation."
            text = " ".join(p for p in (schema.get("description", ""), note) if p)
            converted["properties"][name] = {"type": "string", "description": text}
    return converted


def _assign_tool_names(names: Sequence[str]) -> list[str]:
    """Sanitised, unique tool names; names that are already valid keep themselves."""
    assigned: list[str | None] = [n if sanitize_tool_name(n) == n else None for n in names]
    used = {n for n in assigned if n is not None}
    for index, name in enumerate(names):
        if assigned[index] is not None:
            continue
        candidate = sanitize_tool_name(name)
        counter = 2
        while candidate in used:
            suffix = f"_{counter}"
            candidate = sanitize_tool_name(name)[: _MAX_TOOL_NAME - len(suffix)] + suffix
            counter += 1
        used.add(candidate)
        assigned[index] = candidate
    return [n for n in assigned if n is not None]


def _read_answers(path: Path) -> dict[str, tuple[int, Any]]:
    answers: dict[str, tuple[int, Any]] = {}
    for line_no, record in _read_jsonl(path):
        answer_id = record.get("id")
        truth = record.get("ground_truth")
        if not isinstance(answer_id, str) or not isinstance(truth, list) or not truth:
            raise BenchmarkDataError(
                f"{path}:{line_no}: expected {{'id': str, 'ground_truth': [...]}} with a "
                "non-empty ground_truth list",
                path=str(path),
                line=line_no,
            )
        answers[answer_id] = (line_no, truth)
    return answers


def _attach_answer(
    task: BfclTask,
    answers: dict[str, tuple[int, Any]],
    answer_file: Path,
    task_path: Path,
    task_line: int,
) -> BfclTask:
    if task.id not in answers:
        raise BenchmarkDataError(
            f"{answer_file}: no answer for task {task.id!r} ({task_path}:{task_line})",
            path=str(answer_file),
        )
    line_no, truth = answers[task.id]
    offered = {function["name"] for function in task.functions}
    for call in truth:
        problem = None
        if not isinstance(call, dict) or len(call) != 1:
            problem = "each ground-truth entry must be {function_name: {param: [values]}}"
        else:
            ((name, params),) = call.items()
            if name not in offered:
                problem = f"ground truth calls {name!r}, which task {task.id!r} does not offer"
            elif not isinstance(params, dict) or not all(
                isinstance(v, list) for v in params.values()
            ):
                problem = f"parameters of {name!r} must map each name to a list of allowed values"
        if problem is not None:
            raise BenchmarkDataError(
                f"{answer_file}:{line_no}: {problem}", path=str(answer_file), line=line_no
            )
    return replace(task, ground_truth=truth)
