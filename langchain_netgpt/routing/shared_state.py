"""Where budgets and circuit breakers keep their state: this process, an SQLite file, PostgreSQL.

A :class:`~langchain_netgpt.routing.budget.CloudBudget` or a
:class:`~langchain_netgpt.routing.reliability.CircuitBreaker` keeps its state as one small JSON
document under a key, and changes it only through :meth:`SharedState.update`: a read-modify-write
that is atomic across every thread and process using the same backend. Give N agent processes
the same ``shared_state`` (a ``postgresql://`` URL for a fleet on many machines, an SQLite path
for processes on one machine) and they respect one budget and see one circuit per side.

Example:
    .. code-block:: python

        from langchain_netgpt.routing.shared_state import InMemorySharedState

        state = InMemorySharedState()
        assert state.update("hits", lambda doc: ({"n": (doc or {"n": 0})["n"] + 1}, 1)) == 1
        assert state.read("hits") == {"n": 1}
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from langchain_netgpt._postgres import (
    connect,
    import_psycopg,
    is_postgres_url,
    quote_ident,
    redact_url,
)
from langchain_netgpt.errors import NetGPTError

__all__ = [
    "InMemorySharedState",
    "PostgresSharedState",
    "SQLiteSharedState",
    "SharedState",
    "SharedStateError",
    "open_shared_state",
]

_T = TypeVar("_T")
Document = dict[str, Any]
Updater = Callable[[Document | None], tuple[Document | None, _T]]


class SharedStateError(NetGPTError):
    """The shared state could not be read or written (database unreachable, locked, full).

    Attributes:
        location: The backend's location (a path, or a URL without its password).
    """

    def __init__(self, message: str, *, location: str) -> None:
        super().__init__(message)
        self.location = location


@runtime_checkable
class SharedState(Protocol):
    """Atomic read-modify-write of small JSON documents, by key."""

    @property
    def location(self) -> str:
        """Where the state lives (``"memory"``, a path, or a URL without its password)."""
        ...

    def update(self, key: str, fn: Updater[_T]) -> _T:
        """Apply ``fn`` to the document under ``key`` atomically.

        ``fn`` gets the current document (``None`` when there is none) and returns the new
        document (``None``: leave it unchanged) and a result, which ``update`` returns. Nobody
        else changes the document between the read and the write.
        """
        ...

    def read(self, key: str) -> Document | None:
        """The document under ``key`` now (``None`` when there is none)."""
        ...


class InMemorySharedState:
    """State shared by the threads of this process only (the default)."""

    location = "memory"

    def __init__(self) -> None:
        self._docs: dict[str, Document] = {}
        self._lock = threading.Lock()

    def update(self, key: str, fn: Updater[_T]) -> _T:
        """Apply ``fn`` under the lock (the document is the live object: no copy, no JSON)."""
        with self._lock:
            new, result = fn(self._docs.get(key))
            if new is not None:
                self._docs[key] = new
            return result

    def read(self, key: str) -> Document | None:
        """A deep copy of the document (JSON round trip), or ``None``."""
        with self._lock:
            doc = self._docs.get(key)
            return None if doc is None else json.loads(json.dumps(doc))

    def __repr__(self) -> str:
        return "InMemorySharedState()"


_SQLITE_TABLE = (
    "CREATE TABLE IF NOT EXISTS netgpt_shared_state"
    " (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL NOT NULL)"
)


class SQLiteSharedState:
    """State shared by the processes of one machine through an SQLite file (WAL mode).

    Args:
        path: The file (created if missing; it may be a trace store's file too).
        busy_timeout_s: How long an update waits for another process's update.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float = 30.0) -> None:
        if not (isinstance(busy_timeout_s, int | float) and 0 < busy_timeout_s < math.inf):
            raise ValueError(f"busy_timeout_s must be a positive number, got {busy_timeout_s!r}")
        self.path = Path(path)
        self.busy_timeout_s = float(busy_timeout_s)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def location(self) -> str:
        """The file's path."""
        return str(self.path)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SQLITE_TABLE)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def update(self, key: str, fn: Updater[_T]) -> _T:
        """Apply ``fn`` inside ``BEGIN IMMEDIATE`` (the file's write lock) ... ``COMMIT``."""
        with self._lock:
            try:
                conn = self._connection()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    row = conn.execute(
                        "SELECT value FROM netgpt_shared_state WHERE key = ?", (key,)
                    ).fetchone()
                    new, result = fn(None if row is None else json.loads(row[0]))
                    if new is not None:
                        conn.execute(
                            "INSERT INTO netgpt_shared_state (key, value, updated_at)"
                            " VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
                            " SET value = excluded.value, updated_at = excluded.updated_at",
                            (key, json.dumps(new), time.time()),
                        )
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return result
            except sqlite3.Error as exc:
                raise SharedStateError(
                    f"shared state {self.path}: update of {key!r} failed: {exc}",
                    location=self.location,
                ) from exc

    def read(self, key: str) -> Document | None:
        """The committed document under ``key``."""
        with self._lock:
            try:
                row = (
                    self._connection()
                    .execute("SELECT value FROM netgpt_shared_state WHERE key = ?", (key,))
                    .fetchone()
                )
            except sqlite3.Error as exc:
                raise SharedStateError(
                    f"shared state {self.path}: read of {key!r} failed: {exc}",
                    location=self.location,
                ) from exc
        return None if row is None else dict(json.loads(row[0]))

    def __repr__(self) -> str:
        return f"SQLiteSharedState({str(self.path)!r})"


class PostgresSharedState:
    """State shared by a fleet through PostgreSQL (``SELECT ... FOR UPDATE`` per update).

    Args:
        url: ``postgresql://user:password@host:port/database``.
        schema: Schema of the ``shared_state`` table (created if missing).
        busy_timeout_s: Longest wait to connect or for another process's update.

    Raises:
        MissingExtraError: psycopg is not installed (``langchain-netgpt[postgres]``).
    """

    def __init__(self, url: str, *, schema: str = "netgpt", busy_timeout_s: float = 30.0) -> None:
        if not (isinstance(busy_timeout_s, int | float) and 0 < busy_timeout_s < math.inf):
            raise ValueError(f"busy_timeout_s must be a positive number, got {busy_timeout_s!r}")
        self._schema = quote_ident(schema, what="schema")
        import_psycopg()
        self._url = url
        self.url = redact_url(url)
        self.schema = schema
        self.busy_timeout_s = float(busy_timeout_s)
        self._lock = threading.Lock()
        self._conn: Any = None
        self._pid = -1

    @property
    def location(self) -> str:
        """The server's URL, without its password."""
        return self.url

    def _connection(self) -> Any:
        if self._conn is None or self._pid != os.getpid() or self._conn.closed:
            conn = connect(
                self._url, connect_timeout_s=self.busy_timeout_s, application_name="netgpt-state"
            )
            try:
                conn.execute(f"SET lock_timeout = {int(self.busy_timeout_s * 1000)}")
                with conn.transaction():
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"netgpt:{self.schema}",)
                    )
                    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self._schema}")
                    conn.execute(
                        f"CREATE TABLE IF NOT EXISTS {self._schema}.shared_state"
                        " (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
                        " updated_at DOUBLE PRECISION NOT NULL)"
                    )
            except BaseException:
                conn.close()
                raise
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _run(self, action: str, key: str, body: Callable[[Any], _T]) -> _T:
        psycopg = import_psycopg()
        with self._lock:
            for attempt in (1, 2):
                try:
                    conn = self._connection()
                    with conn.transaction():
                        return body(conn)
                except psycopg.OperationalError as exc:
                    # A dropped connection: the transaction did not commit, so running it again
                    # on a new connection applies the update exactly once.
                    if attempt == 1 and self._conn is not None and self._conn.closed:
                        self._conn = None
                        continue
                    raise self._failure(action, key, exc) from exc
                except psycopg.Error as exc:
                    raise self._failure(action, key, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _failure(self, action: str, key: str, exc: BaseException) -> SharedStateError:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return SharedStateError(
            f"shared state {self.url}: {action} of {key!r} failed: {detail} ({type(exc).__name__})",
            location=self.url,
        )

    def update(self, key: str, fn: Updater[_T]) -> _T:
        """Lock the key's row (creating it first if needed), apply ``fn``, write, commit."""
        table = f"{self._schema}.shared_state"

        def body(conn: Any) -> _T:
            conn.execute(
                f"INSERT INTO {table} (key, value, updated_at) VALUES (%s, 'null', %s)"
                " ON CONFLICT (key) DO NOTHING",
                (key, time.time()),
            )
            (raw,) = conn.execute(
                f"SELECT value FROM {table} WHERE key = %s FOR UPDATE", (key,)
            ).fetchone()
            new, result = fn(json.loads(raw))
            if new is not None:
                conn.execute(
                    f"UPDATE {table} SET value = %s, updated_at = %s WHERE key = %s",
                    (json.dumps(new), time.time(), key),
                )
            return result

        return self._run("update", key, body)

    def read(self, key: str) -> Document | None:
        """The committed document under ``key``."""
        table = f"{self._schema}.shared_state"
        row = self._run(
            "read",
            key,
            lambda conn: conn.execute(
                f"SELECT value FROM {table} WHERE key = %s", (key,)
            ).fetchone(),
        )
        doc = None if row is None else json.loads(row[0])
        return None if doc is None else dict(doc)

    def close(self) -> None:
        """Close this process's connection (it reopens on the next call)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"PostgresSharedState({self.url!r}, schema={self.schema!r})"


_OPENED: dict[tuple[str, int], SharedState] = {}
_OPENED_LOCK = threading.Lock()


def open_shared_state(location: str | os.PathLike[str]) -> SharedState:
    """The shared state at ``location``: a ``postgresql://`` URL, an SQLite path or ``"memory"``.

    Backends are opened once per process and location, so every budget and breaker of a process
    that names the same location shares one connection.

    Raises:
        ValueError: ``location`` is empty or not a string/path.
        MissingExtraError: A PostgreSQL URL without psycopg installed.
    """
    if isinstance(location, os.PathLike):
        location = os.fspath(location)
    if not isinstance(location, str) or not location.strip():
        raise ValueError(
            "shared_state must be a postgresql:// URL, an SQLite file path or 'memory', "
            f"got {location!r}"
        )
    key = (location, os.getpid())
    with _OPENED_LOCK:
        state = _OPENED.get(key)
        if state is None:
            if location == "memory":
                state = InMemorySharedState()
            elif is_postgres_url(location):
                state = PostgresSharedState(location)
            else:
                state = SQLiteSharedState(location)
            _OPENED[key] = state
        return state
