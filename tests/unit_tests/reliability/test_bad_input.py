"""Bad input to the public API raises a clear error naming the problem, never a silent default."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from langchain_netgpt import NetGPTRouter, NetworkState
from langchain_netgpt.errors import InvalidNetworkStateError
from langchain_netgpt.routing import CircuitBreakerConfig, PrivacyRules, RetryPolicy
from langchain_netgpt.testing import ScriptedChatModel

FIELDS = ("bandwidth_up_mbps", "bandwidth_down_mbps", "rtt_ms")
BAD_NUMBERS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
)


def make_router(**options: Any) -> NetGPTRouter:
    return NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge"]),
        cloud=ScriptedChatModel(responses=["cloud"]),
        **options,
    )


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(FIELDS), value=BAD_NUMBERS)
def test_an_impossible_network_value_is_rejected_naming_the_field(field: str, value: float) -> None:
    values: dict[str, float] = {"bandwidth_up_mbps": 10, "bandwidth_down_mbps": 10, "rtt_ms": 50}
    values[field] = value
    with pytest.raises(InvalidNetworkStateError, match=field):
        NetworkState(**values)


BAD_INPUTS = st.one_of(
    st.integers(),
    st.none(),
    st.floats(),
    st.lists(st.integers(), min_size=1, max_size=3),
    st.lists(
        st.fixed_dictionaries({"content": st.text(max_size=5)}), min_size=1, max_size=2
    ),  # no role
    st.lists(
        st.fixed_dictionaries(
            {
                "role": st.text(max_size=8).filter(
                    lambda r: (
                        r
                        not in {
                            "human",
                            "user",
                            "ai",
                            "assistant",
                            "function",
                            "tool",
                            "system",
                            "developer",
                        }
                    )
                ),
                "content": st.text(max_size=5),
            }
        ),
        min_size=1,
        max_size=2,
    ),
    st.lists(st.fixed_dictionaries({"role": st.just("user")}), min_size=1, max_size=2),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=BAD_INPUTS)
def test_malformed_messages_raise_instead_of_being_routed(payload: Any) -> None:
    router = make_router()
    with pytest.raises((ValueError, TypeError, NotImplementedError)) as caught:
        router.invoke(payload)
    assert str(caught.value)  # the error says what was wrong


BAD_SCHEMAS = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("object"),
            "properties": st.fixed_dictionaries(
                {
                    "a": st.fixed_dictionaries(
                        {
                            "type": st.text(min_size=1, max_size=8).filter(
                                lambda t: (
                                    t
                                    not in {
                                        "string",
                                        "number",
                                        "integer",
                                        "boolean",
                                        "object",
                                        "array",
                                        "null",
                                    }
                                )
                            )
                        }
                    )
                }
            ),
        }
    ),
    st.fixed_dictionaries({"type": st.just("object"), "required": st.sampled_from(["a", 3, [1]])}),
    st.fixed_dictionaries({"type": st.just("object"), "properties": st.sampled_from([[], "a", 3])}),
    st.fixed_dictionaries({"type": st.just("string"), "enum": st.sampled_from(["a", 3, {"x": 1}])}),
)


@settings(max_examples=60, deadline=None)
@given(schema=BAD_SCHEMAS)
def test_a_malformed_tool_schema_is_rejected_at_bind_time(schema: dict[str, Any]) -> None:
    tool = {"type": "function", "function": {"name": "broken", "parameters": schema}}
    with pytest.raises(ValueError, match="'broken' has an invalid JSON schema"):
        make_router().bind_tools([tool])


@pytest.mark.parametrize("tool", [42, "get_weather", {"foo": 1}, None])
def test_something_that_is_not_a_tool_is_rejected(tool: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        make_router().bind_tools([tool])


@settings(max_examples=60, deadline=None)
@given(
    field=st.sampled_from(["step_timeout_s", "step_deadline_s"]),
    value=st.one_of(st.sampled_from([math.nan, math.inf, 0.0]), st.floats(max_value=0)),
)
def test_a_bad_deadline_is_rejected_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        make_router(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retry", {"attempts": "many"}),
        ("retry", 3),
        ("circuit_breaker", {"failure_threshold": -1}),
        ("privacy", {"pii": ["passport"]}),
        ("fallback", "sometimes"),
    ],
)
def test_bad_router_options_are_rejected_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        make_router(**{field: value})


@settings(max_examples=60, deadline=None)
@given(
    attempts=st.integers(max_value=0) | st.integers(min_value=21),
    jitter=st.floats(min_value=1.0001, allow_nan=False, allow_infinity=False),
)
def test_retry_settings_out_of_range_are_rejected(attempts: int, jitter: float) -> None:
    with pytest.raises(ValidationError, match="attempts"):
        RetryPolicy(attempts=attempts)
    with pytest.raises(ValidationError, match="jitter"):
        RetryPolicy(jitter=jitter)


@settings(max_examples=40, deadline=None)
@given(threshold=st.integers(max_value=0), open_s=st.floats(max_value=0))
def test_breaker_settings_out_of_range_are_rejected(threshold: int, open_s: float) -> None:
    with pytest.raises(ValidationError, match="failure_threshold"):
        CircuitBreakerConfig(failure_threshold=threshold)
    with pytest.raises(ValidationError, match="open_s"):
        CircuitBreakerConfig(open_s=open_s)


@settings(max_examples=40, deadline=None)
@given(
    kind=st.text(min_size=1, max_size=10).filter(
        lambda k: k not in {"email", "phone", "credit_card", "iban", "government_id", "api_key"}
    )
)
def test_an_unknown_pii_kind_is_rejected_naming_it(kind: str) -> None:
    with pytest.raises(ValidationError, match="unknown kinds"):
        PrivacyRules(pii=frozenset({kind}))
