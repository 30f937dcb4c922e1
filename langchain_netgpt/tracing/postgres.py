"""``PostgresTraceStore``: the :class:`TraceStore` on a PostgreSQL server, for fleets.

Many agent processes on many machines write to one database (the one LangGraph users already run
for checkpoints); the tables, queries and guarantees are those of the SQLite store: a write is
committed when it returns, a trace id already stored is a no-op, reads page by keyset, feedback is
appended, retention deletes the oldest. The store keeps its tables in a schema of its own
(``netgpt`` by default), so it can share a database with other applications.

Open it with ``TraceStore("postgresql://user:password@host:5432/db")`` or directly; it needs
``pip install 'langchain-netgpt[postgres]'`` (psycopg 3).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal

from langchain_netgpt._postgres import (
    connect,
    import_psycopg,
    qmark_to_format,
    quote_ident,
    redact_url,
)
from langchain_netgpt.errors import TraceStoreError
from langchain_netgpt.tracing.store import STORE_SCHEMA_VERSION, TraceRetention, TraceStore

__all__ = ["PostgresTraceStore"]

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE traces ("
    " seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " trace_id TEXT NOT NULL UNIQUE,"
    " created_at DOUBLE PRECISION NOT NULL,"
    " final_target TEXT,"
    " session_id TEXT,"
    " tool_calls_valid INTEGER,"
    # TEXT, not JSONB: the trace's JSON is kept byte for byte (JSONB refuses \\u0000 escapes,
    # which would lose a trace whose messages hold a NUL character).
    " body TEXT NOT NULL)",
    "CREATE INDEX traces_by_time ON traces (created_at, seq)",
    "CREATE INDEX traces_by_target ON traces (final_target, created_at, seq)",
    "CREATE INDEX traces_by_session ON traces (session_id, created_at, seq)",
    "CREATE TABLE feedback ("
    " seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " trace_id TEXT NOT NULL,"
    " quality DOUBLE PRECISION NOT NULL CHECK (quality >= 0 AND quality <= 1),"
    " source TEXT NOT NULL,"
    " recorded_at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX feedback_by_trace ON feedback (trace_id, seq)",
)

# executemany pipelines the batch (one round trip), several times faster than one INSERT of
# unnest()ed arrays; rowcount then sums the rows each statement inserted.
_INSERT = (
    "INSERT INTO traces (trace_id, created_at, final_target, session_id, tool_calls_valid, body)"
    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (trace_id) DO NOTHING"
)


class _QmarkConnection:
    """A psycopg connection that takes SQLite's ``?`` placeholders (the store's SQL is shared)."""

    def __init__(self, conn: Any) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(qmark_to_format(sql), params)


class PostgresTraceStore(TraceStore):
    """The :class:`TraceStore` on PostgreSQL: same methods, same guarantees, shared by a fleet.

    One connection per store (reopened after a fork or a dropped connection), used by one
    thread at a time; every write is one transaction, committed before it returns (with
    ``synchronous="FULL"``, PostgreSQL's default ``synchronous_commit=on``: durable across a
    server crash). Any number of processes may write at once; the server serialises them and
    a stored trace id is skipped (``INSERT ... ON CONFLICT DO NOTHING``).

    Args:
        url: ``postgresql://user:password@host:port/database`` (libpq URL; its password never
            appears in messages or ``repr``).
        retention: Optional cap on rows and age, enforced on write.
        busy_timeout_s: Longest wait for a connection or for a row lock held by another writer.
        synchronous: ``"FULL"`` waits for the WAL flush on commit; ``"NORMAL"`` sets
            ``synchronous_commit=off`` (faster; a server crash may lose the last few commits,
            a crashed client loses nothing it was told is stored).
        schema: The PostgreSQL schema holding the store's tables (created if missing).
        max_file_bytes: Not supported (SQLite only); must be ``None``.

    Raises:
        MissingExtraError: psycopg is not installed.
        TraceStoreError: The server cannot be reached, or the schema holds tables that are not a
            trace store of this version.

    Example:
        .. code-block:: python

            from langchain_netgpt.tracing import TraceStore

            store = TraceStore("postgresql://netgpt@localhost:5432/netgpt")  # a PostgresTraceStore
    """

    def __init__(
        self,
        url: str,
        *,
        retention: TraceRetention | None = None,
        busy_timeout_s: float = 30.0,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        schema: str = "netgpt",
        max_file_bytes: int | None = None,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"url must be a postgresql:// URL string, got {url!r}")
        if retention is not None and not isinstance(retention, TraceRetention):
            raise TypeError(f"retention must be a TraceRetention or None, got {retention!r}")
        if isinstance(busy_timeout_s, bool) or not (
            isinstance(busy_timeout_s, int | float) and 0 < busy_timeout_s < float("inf")
        ):
            raise ValueError(f"busy_timeout_s must be a positive number, got {busy_timeout_s!r}")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        if max_file_bytes is not None:
            raise ValueError(
                "max_file_bytes applies to SQLite files only; cap a PostgreSQL store with "
                "retention=TraceRetention(max_rows=...)"
            )
        self._schema = quote_ident(schema, what="schema")
        import_psycopg()  # fail now, with the extra to install, not at the first write
        self._url = url
        self.url = redact_url(url)
        self.location = self.url
        self.schema = schema
        self.retention = retention
        self.busy_timeout_s = float(busy_timeout_s)
        self.synchronous = synchronous
        self.max_file_bytes = None
        self._lock = threading.RLock()
        self._conn: Any = None
        self._pid = -1
        self._closed = False
        self._writes_since_check = 0
        with self._lock:
            try:
                self._connection()
            except import_psycopg().Error as exc:
                raise self._error("cannot open", exc) from exc

    # -- connection --------------------------------------------------------------------------
    def _connection(self) -> Any:
        if self._closed:
            raise TraceStoreError(f"the trace store {self.url} is closed", path=self.url)
        if self._conn is None or self._pid != os.getpid() or self._conn.closed:
            self._conn = self._open()
            self._pid = os.getpid()
        return self._conn

    def _open(self) -> Any:
        conn = connect(
            self._url, connect_timeout_s=self.busy_timeout_s, application_name="netgpt-traces"
        )
        try:
            conn.execute(f"SET lock_timeout = {int(self.busy_timeout_s * 1000)}")
            commit = "on" if self.synchronous == "FULL" else "off"
            conn.execute(f"SET synchronous_commit = {commit}")
            conn.execute(f"SET search_path TO {self._schema}")
            self._init_schema(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _init_schema(self, conn: Any) -> None:
        # The advisory lock serialises processes creating the same new schema at once.
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"netgpt:{self.schema}",))
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self._schema}")
            # The shared budget/breaker state may live in the same schema: not a foreign table.
            tables = {
                name
                for (name,) in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (self.schema,),
                )
            } - {"shared_state"}
            if not tables:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', %s)",
                    (str(STORE_SCHEMA_VERSION),),
                )
                return
            if "meta" not in tables:
                raise TraceStoreError(
                    f"{self.url}: schema {self.schema!r} holds tables that are not a trace store "
                    f"(no 'meta' table; tables: {sorted(tables)}); pick another schema=",
                    path=self.url,
                )
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        found = row[0] if row else None
        if found != str(STORE_SCHEMA_VERSION):
            raise TraceStoreError(
                f"{self.url} (schema {self.schema!r}) is a trace store of schema version "
                f"{found}; this version of langchain-netgpt reads version "
                f"{STORE_SCHEMA_VERSION} only (open it with the version that wrote it, or export "
                "its traces and use another schema=)",
                path=self.url,
            )

    def _error(self, action: str, exc: BaseException) -> TraceStoreError:
        name = type(exc).__name__
        sqlstate = getattr(exc, "sqlstate", None)
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else name
        return TraceStoreError(
            f"trace store {self.url}: {action} failed: {detail} ({name}"
            f"{', SQLSTATE ' + sqlstate if sqlstate else ''})",
            path=self.url,
            cause=name,
        )

    def _run(self, action: str, body: Callable[[Any], Any]) -> Any:
        """Run ``body(conn)`` in one transaction; reconnect once if the connection dropped.

        Retrying after a dropped connection is safe: a write whose commit was lost is written
        again, and a trace id already stored is skipped.
        """
        psycopg = import_psycopg()
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    with conn.transaction():
                        return body(conn)
                except psycopg.OperationalError as exc:
                    if attempt == 1 and conn.closed:
                        self._conn = None
                        continue
                    raise self._error(action, exc) from exc
                except psycopg.Error as exc:
                    raise self._error(action, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _transaction(self, action: str, body: Any) -> Any:
        return self._run(action, lambda conn: body(_QmarkConnection(conn)))

    def _read(self, sql: str, params: list[Any]) -> list[Any]:
        rows: list[Any] = self._run(
            "read", lambda conn: conn.execute(qmark_to_format(sql), params).fetchall()
        )
        return rows

    def _insert(self, conn: Any, rows: list[tuple[Any, ...]]) -> int:
        cursor = conn.raw.cursor()
        cursor.executemany(_INSERT, rows)
        return int(cursor.rowcount)

    # -- checks and lifecycle ----------------------------------------------------------------
    def integrity_check(self) -> list[str]:
        """``["ok"]`` when the tables are sound, else the problems found.

        Checks that every trace row parses back into a :class:`RouteTrace`-sized JSON object,
        that trace ids are unique and that no feedback row is orphaned.
        """
        problems = []
        ((dupes,),) = self._read(
            "SELECT count(*) FROM (SELECT trace_id FROM traces GROUP BY trace_id"
            " HAVING count(*) > 1) d",
            [],
        )
        if dupes:
            problems.append(f"{dupes} trace ids are stored more than once")
        ((orphans,),) = self._read(
            "SELECT count(*) FROM feedback f WHERE NOT EXISTS"
            " (SELECT 1 FROM traces t WHERE t.trace_id = f.trace_id)",
            [],
        )
        if orphans:
            problems.append(f"{orphans} feedback rows name no stored trace")
        ((bad,),) = self._read(
            "SELECT count(*) FROM traces WHERE body IS NULL OR left(body, 1) <> '{'"
            " OR right(body, 1) <> '}'",
            [],
        )
        if bad:
            problems.append(f"{bad} trace bodies are not JSON objects")
        return problems or ["ok"]

    def close(self) -> None:
        """Close the connection; later calls raise :class:`TraceStoreError`. Idempotent."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
            self._closed = True

    def __repr__(self) -> str:
        return f"PostgresTraceStore({self.url!r}, schema={self.schema!r})"
