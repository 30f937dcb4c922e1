"""BFCL task layer: loading the real files, tool conversion, name mapping and the call checker."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

import langchain_netgpt.recorded.bfcl_tasks as bench
from langchain_netgpt.errors import BenchmarkDataError, ConfigurationError
from langchain_netgpt.recorded import (
    BfclTask,
    bfcl_schema_to_json_schema,
    check_calls,
    load_bfcl,
    sanitize_tool_name,
)

BFCL_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "bfcl"
COUNTS = {"simple_python": 400, "multiple": 200, "parallel": 200, "irrelevance": 240}
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
JSON_TYPES = {"object", "number", "integer", "string", "boolean", "array", "null"}


@pytest.fixture(scope="module")
def real_tasks() -> dict[str, list[BfclTask]]:
    return {cat: load_bfcl(BFCL_DIR / f"BFCL_v4_{cat}.json") for cat in COUNTS}


def _task(real_tasks: dict[str, list[BfclTask]], task_id: str) -> BfclTask:
    category = task_id.rsplit("_", 1)[0]
    return next(t for t in real_tasks[category] if t.id == task_id)


def _concrete(value: Any) -> Any:
    """A concrete value from a ground-truth value (nested dicts hold lists of options)."""
    if isinstance(value, dict):
        return {k: _concrete(opts[0]) for k, opts in value.items() if opts and opts[0] != ""}
    if isinstance(value, list):
        return [_concrete(v) for v in value]
    return value


def _ground_truth_calls(task: BfclTask) -> list[dict[str, Any]]:
    """One call per ground-truth entry: the first allowed value of each param, optional ones out."""
    assert task.ground_truth is not None
    docs = {f["name"]: f for f in task.functions}
    calls = []
    for entry in task.ground_truth:
        ((name, params),) = entry.items()
        required = docs[name]["parameters"].get("required", [])
        args = {}
        for param, options in params.items():
            values = [v for v in options if v != ""]
            if values and (param in required or "" not in options):
                args[param] = _concrete(values[0])
        calls.append({"name": task.tool_name(name), "args": args})
    return calls


def _write_jsonl(path: Path, records: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _record(task_id: str, functions: list[dict[str, Any]], prompt: str = "hi") -> dict[str, Any]:
    return {
        "id": task_id,
        "question": [[{"role": "user", "content": prompt}]],
        "function": functions,
    }


ADD = {
    "name": "math.add",
    "description": "Add two numbers.",
    "parameters": {
        "type": "dict",
        "properties": {"a": {"type": "float"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
}


# --- loading the real files ----------------------------------------------------------------------


@pytest.mark.parametrize("category", sorted(COUNTS))
def test_real_file_loads_all_tasks_with_its_category(
    real_tasks: dict[str, list[BfclTask]], category: str
) -> None:
    tasks = real_tasks[category]
    assert len(tasks) == COUNTS[category]
    assert {t.category for t in tasks} == {category}
    assert all(t.messages and t.messages[-1]["role"] == "user" for t in tasks)


def test_irrelevance_tasks_have_no_ground_truth_and_expect_no_call(
    real_tasks: dict[str, list[BfclTask]],
) -> None:
    tasks = real_tasks["irrelevance"]
    assert all(t.ground_truth is None and not t.expects_call for t in tasks)


def test_answered_tasks_carry_their_ground_truth(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "simple_python_1")
    assert task.ground_truth == [{"math.factorial": {"number": [5]}}]
    assert task.expects_call


def test_every_converted_schema_uses_only_json_schema_types(
    real_tasks: dict[str, list[BfclTask]],
) -> None:
    seen: set[str] = set()

    def walk(schema: dict[str, Any]) -> None:
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            seen.update(types)
        for sub in schema.get("properties", {}).values():
            walk(sub)
        if isinstance(schema.get("items"), dict):
            walk(schema["items"])

    for task in itertools.chain.from_iterable(real_tasks.values()):
        for tool in task.tools:
            assert tool["type"] == "function"
            assert TOOL_NAME.match(tool["function"]["name"])
            assert tool["function"]["parameters"]["type"] == "object"
            walk(tool["function"]["parameters"])
    assert seen <= JSON_TYPES
    assert not seen & {"dict", "float", "tuple", "any"}


def test_every_tool_name_round_trips_to_its_bfcl_name(
    real_tasks: dict[str, list[BfclTask]],
) -> None:
    for task in itertools.chain.from_iterable(real_tasks.values()):
        for function, tool in zip(task.functions, task.tools, strict=True):
            sanitised = tool["function"]["name"]
            assert task.original_name(sanitised) == function["name"]
            assert task.original_name(function["name"]) == function["name"]
            assert task.tool_name(function["name"]) == sanitised


def test_dotted_name_is_bound_with_underscores(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "simple_python_1")
    assert task.tools[0]["function"]["name"] == "math_factorial"
    assert task.original_name("math_factorial") == "math.factorial"


def test_real_parameter_named_type_stays_a_property(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "simple_python_260")
    exclusion = task.tools[0]["function"]["parameters"]["properties"]["exclusion"]
    assert exclusion["type"] == "object"
    assert exclusion["properties"]["type"]["type"] == "string"
    assert exclusion["additionalProperties"] is False


# --- schema conversion ---------------------------------------------------------------------------


def test_property_named_type_is_not_read_as_the_type_keyword() -> None:
    schema = {
        "type": "dict",
        "properties": {
            "type": {"type": "string", "enum": ["a", "b"]},
            "properties": {"type": "float"},
        },
        "required": ["type"],
    }
    converted = bfcl_schema_to_json_schema(schema)
    assert converted["type"] == "object"
    assert converted["properties"]["type"] == {"type": "string", "enum": ["a", "b"]}
    assert converted["properties"]["properties"] == {"type": "number"}
    assert converted["required"] == ["type"]


def test_bfcl_types_map_to_json_schema_types() -> None:
    schema = {
        "type": "dict",
        "properties": {
            "point": {"type": "tuple", "items": {"type": "float"}, "description": "lat, lon"},
            "data": {"type": "any", "description": "anything"},
            "flag": {"type": "boolean", "default": True, "optional": True},
            "opts": {"type": "dict"},
        },
    }
    props = bfcl_schema_to_json_schema(schema)["properties"]
    assert props["point"] == {
        "type": "array",
        "items": {"type": "number"},
        "description": "lat, lon",
    }
    assert props["data"] == {"description": "anything"}
    assert props["flag"] == {"type": "boolean", "default": True}
    assert props["opts"] == {"type": "object"}


def test_conversion_leaves_the_input_unchanged() -> None:
    schema = {"type": "dict", "properties": {"x": {"type": "float"}}}
    snapshot = json.dumps(schema)
    bfcl_schema_to_json_schema(schema)
    assert json.dumps(schema) == snapshot


def test_a_properties_mapping_passed_as_a_schema_is_rejected() -> None:
    with pytest.raises(ValueError, match="'properties' mapping"):
        bfcl_schema_to_json_schema({"type": {"type": "string"}})


# --- names ---------------------------------------------------------------------------------------


def test_sanitize_tool_name_keeps_valid_names_and_replaces_the_rest() -> None:
    assert sanitize_tool_name("get_weather-v2") == "get_weather-v2"
    assert sanitize_tool_name("math.factorial") == "math_factorial"
    assert sanitize_tool_name("a b/c") == "a_b_c"


def test_sanitize_tool_name_shortens_long_names_deterministically() -> None:
    long_a, long_b = "x." * 40 + "a", "x." * 40 + "b"
    short_a = sanitize_tool_name(long_a)
    assert TOOL_NAME.match(short_a)
    assert short_a == sanitize_tool_name(long_a)
    assert short_a != sanitize_tool_name(long_b)


def test_colliding_names_in_one_task_get_distinct_reversible_tool_names(tmp_path: Path) -> None:
    functions = [
        {"name": "a.b", "parameters": {"type": "dict", "properties": {}}},
        {"name": "a_b", "parameters": {"type": "dict", "properties": {}}},
        {"name": "a/b", "parameters": {"type": "dict", "properties": {}}},
    ]
    path = _write_jsonl(
        tmp_path / "BFCL_v4_irrelevance.json", [_record("irrelevance_0", functions)]
    )
    (task,) = load_bfcl(path)
    names = [tool["function"]["name"] for tool in task.tools]
    assert names == ["a_b_2", "a_b", "a_b_3"]
    assert [task.original_name(n) for n in names] == ["a.b", "a_b", "a/b"]


def test_unknown_tool_name_raises_key_error(real_tasks: dict[str, list[BfclTask]]) -> None:
    with pytest.raises(KeyError, match="no tool named 'math_sqrt'"):
        _task(real_tasks, "simple_python_1").original_name("math_sqrt")


# --- checker: ground truth and known-wrong outputs -----------------------------------------------


@pytest.mark.parametrize("category", ["simple_python", "multiple", "parallel"])
def test_checker_accepts_the_ground_truth_of_every_task(
    real_tasks: dict[str, list[BfclTask]], category: str
) -> None:
    failures = []
    for task in real_tasks[category]:
        verdict = check_calls(task, _ground_truth_calls(task))
        if not (verdict.correct and verdict.schema_valid and verdict.reason == ""):
            failures.append((task.id, verdict))
    assert failures == []


def test_irrelevance_accepts_no_call(real_tasks: dict[str, list[BfclTask]]) -> None:
    verdict = check_calls(real_tasks["irrelevance"][0], [])
    assert verdict.correct and verdict.schema_valid and verdict.reason == ""


def test_irrelevance_rejects_any_call_even_a_valid_one(
    real_tasks: dict[str, list[BfclTask]],
) -> None:
    task = real_tasks["irrelevance"][0]  # offers determine_body_mass_index
    call = {"name": "determine_body_mass_index", "args": {"weight": 70.0, "height": 1.8}}
    verdict = check_calls(task, [call])
    assert verdict.schema_valid
    assert not verdict.correct
    assert "expected no function call" in verdict.reason


def test_wrong_function_is_rejected(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "multiple_0")  # expects triangle_properties.get
    call = {"name": "circle_properties_get", "args": {"radius": 3.0}}
    verdict = check_calls(task, [call])
    assert not verdict.correct
    assert "wrong function" in verdict.reason


def test_missing_required_argument_is_rejected(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "simple_python_0")
    verdict = check_calls(task, [{"name": "calculate_triangle_area", "args": {"base": 10}}])
    assert not verdict.correct and not verdict.schema_valid
    assert "missing required parameter 'height'" in verdict.reason


def test_disallowed_value_is_rejected_though_schema_valid(
    real_tasks: dict[str, list[BfclTask]],
) -> None:
    task = _task(real_tasks, "simple_python_0")
    call = {"name": "calculate_triangle_area", "args": {"base": 10, "height": 6}}
    verdict = check_calls(task, [call])
    assert verdict.schema_valid
    assert not verdict.correct
    assert "'height'" in verdict.reason and "6" in verdict.reason


def test_extra_call_is_rejected(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "simple_python_1")
    call = {"name": "math_factorial", "args": {"number": 5}}
    verdict = check_calls(task, [call, call])
    assert not verdict.correct
    assert "wrong number of calls" in verdict.reason


def test_no_call_is_rejected_when_a_call_is_expected(
    real_tasks: dict[str, list[BfclTask]],
) -> None:
    verdict = check_calls(_task(real_tasks, "simple_python_1"), [])
    assert not verdict.correct
    assert "expected 1, got 0" in verdict.reason


def test_unexpected_argument_is_rejected_and_schema_invalid(
    real_tasks: dict[str, list[BfclTask]],
) -> None:
    task = _task(real_tasks, "simple_python_1")
    verdict = check_calls(task, [{"name": "math_factorial", "args": {"number": 5, "base": 2}}])
    assert not verdict.correct and not verdict.schema_valid
    assert "unexpected parameter 'base'" in verdict.reason
    assert any("unexpected property 'base'" in p for p in verdict.schema_problems)


def test_call_to_an_unbound_tool_is_schema_invalid_and_wrong(
    real_tasks: dict[str, list[BfclTask]],
) -> None:
    task = _task(real_tasks, "simple_python_1")
    verdict = check_calls(task, [{"name": "math_sqrt", "args": {"number": 5}}])
    assert not verdict.schema_valid and not verdict.correct
    assert "math_sqrt" in verdict.reason


def test_parallel_calls_are_accepted_in_any_order(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "parallel_0")  # Taylor Swift 20 min, Maroon 5 15 min
    calls = _ground_truth_calls(task)
    assert all(check_calls(task, list(p)).correct for p in itertools.permutations(calls))


def test_parallel_duplicate_call_does_not_count_twice(
    real_tasks: dict[str, list[BfclTask]],
) -> None:
    task = _task(real_tasks, "parallel_0")
    first = _ground_truth_calls(task)[0]
    verdict = check_calls(task, [first, first])
    assert not verdict.correct
    assert "no call matches expected call" in verdict.reason


def test_bfcl_names_are_accepted_in_place_of_tool_names(
    real_tasks: dict[str, list[BfclTask]],
) -> None:
    task = _task(real_tasks, "simple_python_1")
    assert check_calls(task, [{"name": "math.factorial", "args": {"number": 5}}]).correct


def test_openai_style_json_arguments_are_accepted(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "simple_python_1")
    assert check_calls(task, [{"name": "math_factorial", "arguments": '{"number": 5}'}]).correct


def test_unparseable_arguments_raise_value_error(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "simple_python_1")
    with pytest.raises(ValueError, match="not valid JSON"):
        check_calls(task, [{"name": "math_factorial", "arguments": "{number: 5"}])


# --- checker: BFCL leniency ----------------------------------------------------------------------


def test_int_is_accepted_where_float_is_expected(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "simple_python_200")  # fuel_efficiency: float, ground truth 25.0
    args = {"distance": 12000, "fuel_type": "gas", "fuel_efficiency": 25}
    assert check_calls(task, [{"name": "calculate_emissions", "args": args}]).correct


def test_wrong_type_is_rejected(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "simple_python_1")
    verdict = check_calls(task, [{"name": "math_factorial", "args": {"number": "five"}}])
    assert not verdict.correct and not verdict.schema_valid
    assert "must be integer" in verdict.reason


def test_strings_compare_ignoring_case_spaces_and_punctuation(
    real_tasks: dict[str, list[BfclTask]],
) -> None:
    task = _task(real_tasks, "parallel_0")
    calls = [
        {"name": "spotify_play", "args": {"artist": "taylor swift", "duration": 20}},
        {"name": "spotify_play", "args": {"artist": "MAROON-5.", "duration": 15}},
    ]
    assert check_calls(task, calls).correct


def test_optional_parameter_may_be_omitted_or_given(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "simple_python_0")  # unit: ["units", ""]
    base = {"base": 10, "height": 5}
    assert check_calls(task, [{"name": "calculate_triangle_area", "args": base}]).correct
    with_unit = {**base, "unit": "Units"}
    assert check_calls(task, [{"name": "calculate_triangle_area", "args": with_unit}]).correct


def test_lists_compare_element_by_element(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "simple_python_122")  # table: [[10, 20], [30, 40]]
    good = {"table": [[10, 20], [30, 40]]}
    bad = {"table": [[10, 20], [40, 30]]}
    assert check_calls(task, [{"name": "chi_squared_test", "args": good}]).correct
    assert not check_calls(task, [{"name": "chi_squared_test", "args": bad}]).correct


def test_nested_dicts_compare_recursively(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "simple_python_260")
    args = {
        "area": {"width": 20, "height": 12},
        "paint_coverage": 350,
        "exclusion": {"type": "Window", "area": 15},
    }
    call = {"name": "paint_requirement_calculate", "args": args}
    assert check_calls(task, [call]).correct
    wrong = {**args, "exclusion": {"type": "door", "area": 15}}
    verdict = check_calls(task, [{"name": "paint_requirement_calculate", "args": wrong}])
    assert not verdict.correct and "'exclusion'" in verdict.reason


def test_list_of_dicts_compares_each_dict(real_tasks: dict[str, list[BfclTask]]) -> None:
    task = _task(real_tasks, "simple_python_96")
    conditions = [
        {"field": "age", "operation": ">", "value": "25"},
        {"field": "job", "operation": "=", "value": "engineer"},
    ]
    args = {"table": "user", "conditions": conditions}
    assert check_calls(task, [{"name": "database_query", "args": args}]).correct
    swapped = {"table": "user", "conditions": conditions[::-1]}
    assert not check_calls(task, [{"name": "database_query", "args": swapped}]).correct


# --- other categories ----------------------------------------------------------------------------


def test_relevance_category_accepts_any_call_and_rejects_none(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "BFCL_v4_live_relevance.json", [_record("rel_0", [ADD])])
    (task,) = load_bfcl(path)
    assert task.ground_truth is None and task.expects_call
    assert check_calls(task, [{"name": "math_add", "args": {"a": 1, "b": 2}}]).correct
    assert not check_calls(task, []).correct


def test_java_category_binds_string_arguments_and_compares_source_text(tmp_path: Path) -> None:
    function = {
        "name": "Util.sum",
        "parameters": {
            "type": "dict",
            "properties": {"items": {"type": "ArrayList", "items": {"type": "integer"}}},
            "required": ["items"],
        },
    }
    path = _write_jsonl(tmp_path / "BFCL_v4_simple_java.json", [_record("java_0", [function])])
    answer = {"id": "java_0", "ground_truth": [{"Util.sum": {"items": ["Arrays.asList(1, 2)"]}}]}
    _write_jsonl(tmp_path / "possible_answer" / path.name, [answer])
    (task,) = load_bfcl(path)
    assert task.language == "java"
    assert task.tools[0]["function"]["parameters"]["properties"]["items"]["type"] == "string"
    call = {"name": "Util_sum", "args": {"items": "Arrays.asList(1,2)"}}
    assert check_calls(task, [call]).correct


def test_multi_turn_question_uses_the_first_turn(tmp_path: Path) -> None:
    record = _record("irrelevance_0", [ADD])
    record["question"] = [
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "first"}],
        [{"role": "user", "content": "second"}],
    ]
    (task,) = load_bfcl(_write_jsonl(tmp_path / "BFCL_v4_irrelevance.json", [record]))
    assert task.messages == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
    ]


def test_explicit_answers_path_and_limit_are_honoured(tmp_path: Path) -> None:
    records = [_record(f"simple_python_{i}", [ADD]) for i in range(3)]
    path = _write_jsonl(tmp_path / "tasks.jsonl", records)
    answers = [
        {"id": f"simple_python_{i}", "ground_truth": [{"math.add": {"a": [i], "b": [1]}}]}
        for i in range(3)
    ]
    answers_path = _write_jsonl(tmp_path / "answers.jsonl", answers)
    tasks = load_bfcl(path, answers_path, limit=2)
    assert [t.id for t in tasks] == ["simple_python_0", "simple_python_1"]
    assert tasks[0].category == "tasks"
    assert check_calls(tasks[1], [{"name": "math_add", "args": {"a": 1.0, "b": 1}}]).correct


# --- errors --------------------------------------------------------------------------------------


def test_malformed_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "BFCL_v4_irrelevance.json"
    path.write_text(json.dumps(_record("irrelevance_0", [ADD])) + "\n{not json\n")
    with pytest.raises(
        BenchmarkDataError, match=r"BFCL_v4_irrelevance\.json:2: not valid JSON"
    ) as e:
        load_bfcl(path)
    assert (e.value.path, e.value.line) == (str(path), 2)
    assert isinstance(e.value, ValueError)


def test_record_without_question_names_file_and_line(tmp_path: Path) -> None:
    record = {"id": "irrelevance_0", "function": [ADD]}
    path = _write_jsonl(tmp_path / "BFCL_v4_irrelevance.json", [record])
    with pytest.raises(BenchmarkDataError, match=r":1: task 'irrelevance_0': 'question'"):
        load_bfcl(path)


def test_multi_turn_file_without_function_docs_is_rejected_clearly(tmp_path: Path) -> None:
    record = {"id": "multi_turn_base_0", "question": [[{"role": "user", "content": "cd"}]]}
    record["involved_classes"] = ["GorillaFileSystem"]
    path = _write_jsonl(tmp_path / "BFCL_v4_irrelevance.json", [record])
    with pytest.raises(BenchmarkDataError, match="multi-turn"):
        load_bfcl(path)


def test_missing_answer_id_is_reported_with_the_task(tmp_path: Path) -> None:
    path = _write_jsonl(
        tmp_path / "BFCL_v4_simple_python.json",
        [_record("simple_python_0", [ADD]), _record("simple_python_1", [ADD])],
    )
    answer = {"id": "simple_python_0", "ground_truth": [{"math.add": {"a": [1], "b": [2]}}]}
    _write_jsonl(tmp_path / "possible_answer" / path.name, [answer])
    with pytest.raises(BenchmarkDataError, match=r"no answer for task 'simple_python_1'.*:2\)"):
        load_bfcl(path)


def test_missing_answer_file_is_reported(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "BFCL_v4_multiple.json", [_record("multiple_0", [ADD])])
    with pytest.raises(BenchmarkDataError, match="no answer file"):
        load_bfcl(path)


def test_answer_naming_an_unoffered_function_is_rejected(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "BFCL_v4_multiple.json", [_record("multiple_0", [ADD])])
    answer = {"id": "multiple_0", "ground_truth": [{"math.mul": {"a": [1]}}]}
    _write_jsonl(tmp_path / "possible_answer" / path.name, [answer])
    with pytest.raises(BenchmarkDataError, match=r":1: ground truth calls 'math.mul'"):
        load_bfcl(path)


def test_duplicate_task_ids_are_rejected(tmp_path: Path) -> None:
    records = [_record("irrelevance_0", [ADD]), _record("irrelevance_0", [ADD])]
    path = _write_jsonl(tmp_path / "BFCL_v4_irrelevance.json", records)
    with pytest.raises(BenchmarkDataError, match=r":2: duplicate task id"):
        load_bfcl(path)


def test_missing_task_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkDataError, match="cannot read"):
        load_bfcl(tmp_path / "BFCL_v4_nothing.json")


def test_negative_limit_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="limit must be"):
        load_bfcl(tmp_path / "BFCL_v4_irrelevance.json", limit=-1)


def test_bench_public_names_are_pinned() -> None:
    assert sorted(bench.__all__) == [
        "BfclTask",
        "CallCheck",
        "bfcl_schema_to_json_schema",
        "check_calls",
        "load_bfcl",
        "sanitize_tool_name",
    ]
