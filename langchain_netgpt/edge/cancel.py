"""Cancelling an edge generation that nobody waits for any more, whatever the backend.

A caller that gives up on an edge call (a router whose deadline passed, a task that was cancelled)
should not leave the model decoding to the end of its token budget: on a 2-core edge that steals
the CPU from the next step. Both in-process backends check a :class:`CancelToken` after every
generated token (transformers through a ``StoppingCriteria``, llama.cpp in its decode loop) and
stop there, releasing the model's lock.

A token reaches the model in one of two ways:

* **scope**: ``with cancel_scope(token): ...`` makes ``token`` the current one (a contextvar), so
  any edge call made inside the block, or in a worker thread started with the block's context
  (``contextvars.copy_context().run`` / ``asyncio.to_thread`` / LangChain's executors), obeys it;
* **async**: when the task awaiting ``ainvoke`` / ``astream`` is cancelled, the model cancels the
  generation itself.

A generation stopped by its caller's token raises :class:`EdgeGenerationCancelled`; a partial
answer is never returned as if it were complete.

Example:
    .. code-block:: python

        import contextvars
        from concurrent.futures import ThreadPoolExecutor

        from langchain_netgpt.edge import CancelToken, cancel_scope

        token = CancelToken()
        with cancel_scope(token):
            context = contextvars.copy_context()  # carries the token into the worker
        future = ThreadPoolExecutor(1).submit(context.run, edge.invoke, "Tell me a story")
        ...
        token.cancel("deadline passed")  # the worker's generation stops at its next token
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from langchain_netgpt.errors import EdgeModelError

__all__ = [
    "CancelToken",
    "EdgeGenerationCancelled",
    "cancel_scope",
    "current_cancel_token",
]


class EdgeGenerationCancelled(EdgeModelError):
    """An edge generation was stopped because its caller cancelled it.

    Attributes:
        reason: The reason given to :meth:`CancelToken.cancel`.
        output_tokens: Tokens generated before it stopped.
    """

    def __init__(self, reason: str, *, output_tokens: int = 0) -> None:
        super().__init__(f"edge generation cancelled after {output_tokens} tokens: {reason}")
        self.reason = reason
        self.output_tokens = output_tokens


class CancelToken:
    """A one-way switch that stops the edge generations it is attached to; thread-safe.

    A child token (:meth:`child`) is cancelled with its parent, not the other way round, so a
    model can add its own reasons to stop (a stop sequence in a stream, a cancelled asyncio task)
    without touching its caller's token.

    Example:
        .. code-block:: python

            token = CancelToken()
            token.cancel("user closed the tab")
            token.cancelled  # True
            token.reason     # 'user closed the tab'
    """

    def __init__(self, *parents: CancelToken) -> None:
        self._event = threading.Event()
        self._reason = ""
        self._parents = parents

    def cancel(self, reason: str = "cancelled by the caller") -> None:
        """Cancel now; the first reason given is kept. Idempotent."""
        if not self._event.is_set():
            self._reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether this token or one of its ancestors was cancelled."""
        if self._event.is_set():
            return True
        return any(parent.cancelled for parent in self._parents)

    @property
    def reason(self) -> str:
        """Why it was cancelled (``""`` while it is not)."""
        if self._event.is_set():
            return self._reason
        return next((p.reason for p in self._parents if p.cancelled), "")

    def child(self) -> CancelToken:
        """A new token cancelled whenever this one is."""
        return CancelToken(self)

    def raise_if_cancelled(self, *, output_tokens: int = 0) -> None:
        """Raise :class:`EdgeGenerationCancelled` if cancelled."""
        if self.cancelled:
            raise EdgeGenerationCancelled(self.reason, output_tokens=output_tokens)

    def __repr__(self) -> str:
        state = f"cancelled: {self.reason!r}" if self.cancelled else "active"
        return f"CancelToken({state})"


_CURRENT: contextvars.ContextVar[CancelToken | None] = contextvars.ContextVar(
    "netgpt_edge_cancel_token", default=None
)


def current_cancel_token() -> CancelToken | None:
    """The token of the innermost :func:`cancel_scope` in this context, if any."""
    return _CURRENT.get()


@contextmanager
def cancel_scope(token: CancelToken | None = None) -> Iterator[CancelToken]:
    """Make ``token`` (or a new one) the current cancel token for edge calls in this block.

    Scopes nest: inside another scope, calls obey both tokens (cancelling the outer scope also
    stops calls made in the inner one); the tokens themselves are not changed.

    Args:
        token: The token to enter; a fresh one when omitted.

    Yields:
        ``token`` (or the fresh one): call ``cancel()`` on it from any thread.
    """
    outer = _CURRENT.get()
    handle = token if token is not None else CancelToken()
    in_force = handle if outer is None or outer is handle else CancelToken(handle, outer)
    reset = _CURRENT.set(in_force)
    try:
        yield handle
    finally:
        _CURRENT.reset(reset)
