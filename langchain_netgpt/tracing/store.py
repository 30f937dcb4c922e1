"""``TraceStore``: a durable, crash-safe store of route traces, with quality feedback.

``TraceStore(path)`` opens an SQLite file; ``TraceStore("postgresql://...")`` opens the same store
on a PostgreSQL server (:class:`~langchain_netgpt.tracing.postgres.PostgresTraceStore`, the
``postgres`` extra), so a fleet of agent processes on many machines can share one. One SQLite
file in WAL mode (or one PostgreSQL schema) holds three tables: ``meta`` (the store's schema
version), ``traces`` (indexed columns plus the full trace JSON) and ``feedback`` (quality scores,
appended). Rows are only ever inserted, with one exception: :class:`TraceRetention` deletes the
oldest traces (and their feedback) to keep the store within a row count or an age.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from langchain_netgpt._postgres import is_postgres_url
from langchain_netgpt.errors import TraceStoreError
from langchain_netgpt.tracing.store_rows import (
    StoredRowWarning,
    TraceRetention,
    query_filters,
    trace_row,
)
from langchain_netgpt.tracing.trace import TRACE_SCHEMA_VERSION, RouteTrace

__all__ = [
    "STORE_SCHEMA_VERSION",
    "StoredRowWarning",
    "TraceRetention",
    "TraceStore",
    "TraceStoreError",
]

STORE_SCHEMA_VERSION = 1
"""Version of the SQLite layout; a file of another version is refused, never migrated silently."""

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # seq is the insertion order; it breaks ties between traces of the same created_at.
    "CREATE TABLE traces ("
    " seq INTEGER PRIMARY KEY,"
    " trace_id TEXT NOT NULL UNIQUE,"
    " created_at REAL NOT NULL,"
    " final_target TEXT,"
    " session_id TEXT,"
    " tool_calls_valid INTEGER,"
    " body TEXT NOT NULL)",
    "CREATE INDEX traces_by_time ON traces (created_at, seq)",
    "CREATE INDEX traces_by_target ON traces (final_target, created_at, seq)",
    "CREATE INDEX traces_by_session ON traces (session_id, created_at, seq)",
    "CREATE TABLE feedback ("
    " seq INTEGER PRIMARY KEY,"
    " trace_id TEXT NOT NULL,"
    " quality REAL NOT NULL CHECK (quality >= 0 AND quality <= 1),"
    " source TEXT NOT NULL,"
    " recorded_at REAL NOT NULL)",
    "CREATE INDEX feedback_by_trace ON feedback (trace_id, seq)",
)

_INSERT = (
    "INSERT OR IGNORE INTO traces"
    " (trace_id, created_at, final_target, session_id, tool_calls_valid, body)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_LATEST_QUALITY = (
    "(SELECT f.quality FROM feedback f WHERE f.trace_id = t.trace_id ORDER BY f.seq DESC LIMIT 1)"
)
_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


class TraceStore:
    """Durable, append-only store of :class:`RouteTrace` records (a :class:`TraceSink`).

    A path opens an SQLite file (below); a ``postgresql://`` URL opens the same store on a
    PostgreSQL server instead (a :class:`~langchain_netgpt.tracing.postgres.PostgresTraceStore`,
    with the same methods and guarantees; ``pip install 'langchain-netgpt[postgres]'``).

    The file is in WAL mode; every write is one transaction that is committed (and, with
    ``synchronous="FULL"``, fsynced) before :meth:`write` returns, so a process killed at any
    moment loses at most the trace it was writing and never corrupts the file. Several threads
    (one connection behind a lock) and several processes (each with its own ``TraceStore`` on the
    same path) may write at once: SQLite serialises the writers, a writer waits up to
    ``busy_timeout_s`` for the lock and retries.

    Writing a ``trace_id`` that is already stored is an idempotent no-op (the first write wins), so
    retrying a write whose outcome is unknown is safe. Rows are never updated; the only deletes
    are those of ``retention``.

    Args:
        path: The SQLite file (created with its parent folders if missing), or a
            ``postgresql://user:password@host:port/database`` URL.
        retention: Optional cap on rows and age, enforced on write.
        busy_timeout_s: How long a write waits for another writer before failing.
        synchronous: ``"FULL"`` fsyncs every commit (durable across power loss);
            ``"NORMAL"`` is faster and still safe against a crashed or killed process.
        max_file_bytes: Optional hard cap on the database size; a write past it fails with
            :class:`TraceStoreError` like a full disk would (use ``retention`` to stay under it).

    Raises:
        TraceStoreError: The file is not a trace store, is of another schema version, or cannot
            be opened.

    Example:
        .. code-block:: python

            import pathlib, tempfile
            from langchain_netgpt.tracing import TraceStore

            with TraceStore(pathlib.Path(tempfile.mkdtemp()) / "traces.db") as store:
                assert store.count() == 0
    """

    def __new__(cls, path: str | os.PathLike[str], *args: Any, **kwargs: Any) -> TraceStore:
        """Open the backend the location names: a ``postgresql://`` URL or an SQLite path."""
        if cls is TraceStore and is_postgres_url(path):
            from langchain_netgpt.tracing.postgres import PostgresTraceStore

            return super().__new__(PostgresTraceStore)
        return super().__new__(cls)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention: TraceRetention | None = None,
        busy_timeout_s: float = 30.0,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        max_file_bytes: int | None = None,
    ) -> None:
        if retention is not None and not isinstance(retention, TraceRetention):
            raise TypeError(f"retention must be a TraceRetention or None, got {retention!r}")
        if not (isinstance(busy_timeout_s, int | float) and 0 < busy_timeout_s < math.inf):
            raise ValueError(f"busy_timeout_s must be a positive number, got {busy_timeout_s!r}")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        if max_file_bytes is not None and (
            not isinstance(max_file_bytes, int) or max_file_bytes < 65536
        ):
            raise ValueError(f"max_file_bytes must be an int >= 65536, got {max_file_bytes!r}")
        self.path = Path(path)
        self.location = str(path)
        self.retention = retention
        self.busy_timeout_s = float(busy_timeout_s)
        self.synchronous = synchronous
        self.max_file_bytes = max_file_bytes
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._closed = False
        self._writes_since_check = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TraceStoreError(
                f"cannot create the folder of {self.path}: {exc}", path=str(path)
            ) from exc
        with self._lock:
            self._connection()

    # -- connection --------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        """The open connection (reopened in a forked child: SQLite handles must not cross fork)."""
        if self._closed:
            raise TraceStoreError(f"the trace store {self.path} is closed", path=str(self.path))
        if self._conn is None or self._pid != os.getpid():
            self._conn = self._open()
            self._pid = os.getpid()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise self._error("cannot open", exc) from exc
        try:
            self._retry(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone())
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            self._retry(lambda: self._init_schema(conn))
            if self.max_file_bytes is not None:
                (page_size,) = conn.execute("PRAGMA page_size").fetchone()
                conn.execute(f"PRAGMA max_page_count={self.max_file_bytes // page_size}")
        except TraceStoreError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise self._error("cannot open", exc) from exc
        return conn

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        # BEGIN IMMEDIATE: two processes creating the same new file must not both create tables.
        conn.execute("BEGIN IMMEDIATE")
        try:
            tables = {
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not tables:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(STORE_SCHEMA_VERSION),),
                )
                conn.execute("COMMIT")
                return
            conn.execute("ROLLBACK")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if "meta" not in tables:
            raise TraceStoreError(
                f"{self.path} is an SQLite file but not a trace store (no 'meta' table; "
                f"tables: {sorted(tables)})",
                path=str(self.path),
            )
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        found = row[0] if row else None
        if found != str(STORE_SCHEMA_VERSION):
            raise TraceStoreError(
                f"{self.path} is a trace store of schema version {found}; this version of "
                f"langchain-netgpt reads version {STORE_SCHEMA_VERSION} only (open it with the "
                "version that wrote it, or export its traces and start a new file)",
                path=str(self.path),
            )

    def _retry(self, fn: Any) -> Any:
        """Run ``fn``, retrying while another process holds the lock, up to ``busy_timeout_s``."""
        deadline = time.monotonic() + self.busy_timeout_s
        delay = 0.001
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                # sqlite_errorcode is the extended code (SQLITE_BUSY_SNAPSHOT, ...): keep the base.
                if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) not in _BUSY_CODES:
                    raise
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

    def _error(self, action: str, exc: sqlite3.Error) -> TraceStoreError:
        name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        return TraceStoreError(
            f"trace store {self.path}: {action} failed: {exc} ({name})",
            path=str(self.path),
            cause=name,
        )

    def _transaction(self, action: str, body: Any) -> Any:
        """Run ``body(conn)`` in one write transaction (BEGIN IMMEDIATE ... COMMIT)."""

        def attempt() -> Any:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = body(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

        with self._lock:
            try:
                return self._retry(attempt)
            except sqlite3.Error as exc:
                raise self._error(action, exc) from exc

    # -- writing -----------------------------------------------------------------------------
    def write(self, trace: RouteTrace) -> None:
        """Store one trace; it is committed when this returns (a duplicate id is a no-op).

        Raises:
            TraceStoreError: The write failed (disk full, I/O error, lock timeout, closed store).
        """
        self.write_many([trace])

    def write_many(self, traces: Iterable[RouteTrace]) -> int:
        """Store several traces in one transaction (all or none).

        Returns:
            How many were new (traces whose id is already stored are skipped).

        Raises:
            TypeError: An item is not a :class:`RouteTrace`.
            TraceStoreError: The write failed; none of the traces is stored.
        """
        rows = [trace_row(trace) for trace in traces]
        if not rows:
            return 0

        def insert(conn: Any) -> int:
            added = self._insert(conn, rows)
            self._writes_since_check += len(rows)
            if self.retention and self._writes_since_check >= self.retention.check_every:
                self._enforce(conn, self.retention)
                self._writes_since_check = 0
            return added

        added: int = self._transaction("write", insert)
        return added

    def _insert(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> int:
        """Insert rows, skipping stored trace ids; how many were new (backend-specific)."""
        before = conn.total_changes
        conn.executemany(_INSERT, rows)
        return conn.total_changes - before

    def record_feedback(self, trace_id: str, quality: float, *, source: str = "user") -> None:
        """Append a quality score for a stored trace; the latest feedback of a trace wins.

        Args:
            trace_id: The trace's id (``response_metadata["netgpt"]["trace_id"]`` of the reply).
            quality: How good the answer was, in ``[0, 1]``.
            source: Who judged it (``"user"``, ``"replay"``, a grader's name).

        Raises:
            ValueError: ``quality`` is not a number in ``[0, 1]`` or ``source`` is empty.
            LookupError: No trace with this id is stored.
            TraceStoreError: The write failed.
        """
        if isinstance(quality, bool) or not isinstance(quality, int | float):
            raise ValueError(f"quality must be a number in [0, 1], got {quality!r}")
        if not 0.0 <= quality <= 1.0:  # also rejects NaN
            raise ValueError(f"quality must be in [0, 1], got {quality!r}")
        if not isinstance(source, str) or not source:
            raise ValueError(f"source must be a non-empty string, got {source!r}")

        def append(conn: Any) -> bool:
            if conn.execute("SELECT 1 FROM traces WHERE trace_id = ?", (trace_id,)).fetchone():
                conn.execute(
                    "INSERT INTO feedback (trace_id, quality, source, recorded_at)"
                    " VALUES (?, ?, ?, ?)",
                    (trace_id, float(quality), source, time.time()),
                )
                return True
            return False

        if not self._transaction("record feedback", append):
            raise LookupError(f"no trace with id {trace_id!r} in {self.location}")

    def enforce_retention(self) -> int:
        """Apply ``retention`` now (it otherwise runs every ``check_every`` writes).

        Returns:
            How many traces were deleted (0 without retention).
        """
        retention = self.retention
        if retention is None:
            return 0
        deleted: int = self._transaction("retention", lambda c: self._enforce(c, retention))
        return deleted

    def _enforce(self, conn: Any, retention: TraceRetention) -> int:
        deleted = 0
        if retention.max_age_s is not None:
            cutoff = time.time() - retention.max_age_s
            conn.execute(
                "DELETE FROM feedback WHERE trace_id IN"
                " (SELECT trace_id FROM traces WHERE created_at < ?)",
                (cutoff,),
            )
            deleted += conn.execute("DELETE FROM traces WHERE created_at < ?", (cutoff,)).rowcount
        if retention.max_rows is not None:
            (total,) = conn.execute("SELECT count(*) FROM traces").fetchone()
            excess = total - retention.max_rows
            if excess > 0:
                oldest = "SELECT seq FROM traces ORDER BY created_at, seq LIMIT ?"
                conn.execute(
                    "DELETE FROM feedback WHERE trace_id IN"
                    f" (SELECT trace_id FROM traces WHERE seq IN ({oldest}))",
                    (excess,),
                )
                deleted += conn.execute(
                    f"DELETE FROM traces WHERE seq IN ({oldest})", (excess,)
                ).rowcount
        return deleted

    # -- reading -----------------------------------------------------------------------------
    def query(
        self,
        *,
        since: float | datetime | None = None,
        until: float | datetime | None = None,
        route: str | None = None,
        session_id: str | None = None,
        valid: bool | None = None,
        limit: int | None = None,
        batch_size: int = 1000,
    ) -> Iterator[RouteTrace]:
        """Stream stored traces, oldest first (by ``created_at``, then insertion order).

        Traces are read ``batch_size`` at a time (keyset pagination, one short read per batch), so
        memory stays bounded however many rows match. Each trace's ``quality`` is its latest
        feedback, if any. Traces written while iterating may or may not be seen.

        Args:
            since: Only traces created at or after this time (Unix seconds or a datetime).
            until: Only traces created before this time.
            route: Only traces whose answer came from this target (``final_target``).
            session_id: Only traces of this conversation.
            valid: Only traces whose tool calls were (``True``) or were not (``False``) valid.
            limit: Stop after this many traces.
            batch_size: Rows read per batch.

        Yields:
            The matching traces.

        Raises:
            ValueError: A filter has the wrong type or range.
            TraceStoreError: The file could not be read.
        """
        where, params = query_filters(since, until, route, session_id, valid)
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        return self._iterate(where, params, limit, batch_size)

    rows_skipped: int = 0
    """Rows that :meth:`query` skipped because they hold no readable trace (each one warned
    about with :class:`StoredRowWarning`)."""

    def _parse_row(self, seq: Any, body: Any) -> RouteTrace | None:
        """The trace of one stored row, or ``None`` (warned and counted) when it is unreadable."""
        try:
            trace = RouteTrace.from_json(body)
        except (ValueError, TypeError) as exc:
            reason = f"not a valid trace ({str(exc).splitlines()[0][:200]})"
        else:
            if trace.schema_version == TRACE_SCHEMA_VERSION:
                return trace
            reason = (
                f"schema_version {trace.schema_version}, this version reads {TRACE_SCHEMA_VERSION}"
            )
        self.rows_skipped += 1
        warnings.warn(
            f"{self.location}: row {seq} skipped, {reason}; "
            f"{self.rows_skipped} row(s) skipped so far",
            StoredRowWarning,
            stacklevel=3,
        )
        return None

    def _iterate(
        self, where: list[str], params: list[Any], limit: int | None, batch_size: int
    ) -> Iterator[RouteTrace]:
        remaining = limit
        cursor: tuple[float, int] | None = None
        while remaining is None or remaining > 0:
            size = batch_size if remaining is None else min(batch_size, remaining)
            clauses = list(where)
            args = list(params)
            if cursor is not None:
                clauses.append("(t.created_at, t.seq) > (?, ?)")
                args.extend(cursor)
            sql = (
                f"SELECT t.created_at, t.seq, t.body, {_LATEST_QUALITY} FROM traces t"
                f"{' WHERE ' + ' AND '.join(clauses) if clauses else ''}"
                " ORDER BY t.created_at, t.seq LIMIT ?"
            )
            rows = self._read(sql, [*args, size])
            yielded = 0
            for _created_at, seq, body, quality in rows:
                trace = self._parse_row(seq, body)
                if trace is None:
                    continue  # one bad row must not abort the whole query or export
                if quality is not None:
                    trace.quality = quality
                yielded += 1
                yield trace
            if len(rows) < size:
                return
            cursor = (rows[-1][0], rows[-1][1])
            if remaining is not None:
                remaining -= yielded

    def count(
        self,
        *,
        since: float | datetime | None = None,
        until: float | datetime | None = None,
        route: str | None = None,
        session_id: str | None = None,
        valid: bool | None = None,
    ) -> int:
        """How many stored traces match the filters (same meaning as in :meth:`query`)."""
        where, params = query_filters(since, until, route, session_id, valid)
        sql = "SELECT count(*) FROM traces t" + (" WHERE " + " AND ".join(where) if where else "")
        ((total,),) = self._read(sql, params)
        return int(total)

    def get(self, trace_id: str) -> RouteTrace | None:
        """The stored trace with this id (with its latest quality), or ``None``."""
        rows = self._read(
            f"SELECT t.body, {_LATEST_QUALITY} FROM traces t WHERE t.trace_id = ?", [trace_id]
        )
        if not rows:
            return None
        try:
            trace = RouteTrace.from_json(rows[0][0])
        except ValueError as exc:
            raise TraceStoreError(
                f"{self.location}: the row of trace {trace_id!r} is not a valid trace: "
                f"{str(exc).splitlines()[0][:200]}",
                path=self.location,
            ) from exc
        if rows[0][1] is not None:
            trace.quality = rows[0][1]
        return trace

    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check``: ``["ok"]`` for a sound file, else the problems."""
        return [str(row[0]) for row in self._read("PRAGMA integrity_check", [])]

    def _read(self, sql: str, params: list[Any]) -> list[Any]:
        with self._lock:
            try:
                conn = self._connection()
                return list(self._retry(lambda: conn.execute(sql, params).fetchall()))
            except sqlite3.Error as exc:
                raise self._error("read", exc) from exc

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection; later calls raise :class:`TraceStoreError`. Idempotent."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
            self._closed = True

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TraceStore({str(self.path)!r})"
