import asyncio
import contextvars
import threading

import pytest

from langchain_netgpt.edge import (
    CancelToken,
    EdgeGenerationCancelled,
    cancel_scope,
    current_cancel_token,
)
from langchain_netgpt.errors import EdgeModelError


def test_a_new_token_is_not_cancelled() -> None:
    token = CancelToken()

    assert not token.cancelled
    assert token.reason == ""


def test_cancel_keeps_the_first_reason() -> None:
    token = CancelToken()

    token.cancel("deadline passed")
    token.cancel("second reason")

    assert token.cancelled
    assert token.reason == "deadline passed"


def test_a_child_is_cancelled_with_its_parent_but_not_the_other_way_round() -> None:
    parent = CancelToken()
    child = parent.child()
    other = parent.child()

    child.cancel("stop sequence")
    assert not parent.cancelled and not other.cancelled

    parent.cancel("caller gave up")
    assert other.cancelled and other.reason == "caller gave up"


def test_raise_if_cancelled_raises_an_edge_model_error_with_the_reason() -> None:
    token = CancelToken()
    token.cancel("too slow")

    with pytest.raises(EdgeGenerationCancelled, match="too slow") as caught:
        token.raise_if_cancelled(output_tokens=7)

    assert isinstance(caught.value, EdgeModelError)
    assert (caught.value.reason, caught.value.output_tokens) == ("too slow", 7)


def test_there_is_no_current_token_outside_a_scope() -> None:
    assert current_cancel_token() is None


def test_a_scope_makes_its_token_current_and_restores_the_previous_one() -> None:
    token = CancelToken()

    with cancel_scope(token) as entered:
        assert entered is token
        assert current_cancel_token() is token
    assert current_cancel_token() is None


def test_a_call_in_a_nested_scope_obeys_the_outer_token_too() -> None:
    outer, inner = CancelToken(), CancelToken()

    with cancel_scope(outer), cancel_scope(inner):
        in_force = current_cancel_token()
        assert in_force is not None and not in_force.cancelled
        outer.cancel("outer deadline")
        assert in_force.cancelled and in_force.reason == "outer deadline"
    assert not inner.cancelled


def test_a_worker_thread_started_with_the_scope_context_sees_the_token() -> None:
    token = CancelToken()
    seen: list[CancelToken | None] = []
    with cancel_scope(token):
        context = contextvars.copy_context()

    def look() -> None:
        seen.append(current_cancel_token())

    worker = threading.Thread(target=context.run, args=(look,))
    worker.start()
    worker.join()

    assert seen == [token]


async def test_asyncio_to_thread_carries_the_scope_into_the_worker() -> None:
    token = CancelToken()

    with cancel_scope(token):
        seen = await asyncio.to_thread(current_cancel_token)

    assert seen is token


def test_tokens_can_be_cancelled_from_another_thread() -> None:
    token = CancelToken()

    worker = threading.Thread(target=token.cancel, args=("from a thread",))
    worker.start()
    worker.join()

    assert token.cancelled and repr(token) == "CancelToken(cancelled: 'from a thread')"
