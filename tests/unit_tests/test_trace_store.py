from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langchain_netgpt import NetGPTRouter, TraceStore
from langchain_netgpt.errors import TraceStoreError
from langchain_netgpt.testing import ScriptedChatModel
from langchain_netgpt.tracing import InMemoryTraceSink, TraceRetention, TraceSink

# Builds traces the same way in this process and in the child processes below.
_MAKE_TRACE = textwrap.dedent(
    """
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_netgpt import NetworkState, RouteTrace

    def make_trace(trace_id, created_at=None, *, target="edge", session=None, valid=None):
        extra = {} if created_at is None else {"created_at": created_at}
        return RouteTrace(
            trace_id=trace_id,
            mode="invoke",
            decided_target=target,
            score=0.7,
            threshold=0.5,
            policy="netgpt",
            reason="test",
            network=NetworkState(bandwidth_up_mbps=1, bandwidth_down_mbps=2, rtt_ms=80),
            features={"prompt_tokens": 10},
            final_target=target,
            session_id=session,
            tool_calls_valid=valid,
            messages=[HumanMessage("question " + trace_id)],
            output=AIMessage("answer " + trace_id),
            **extra,
        )
    """
)
_namespace: dict[str, object] = {}
exec(_MAKE_TRACE, _namespace)
make_trace = _namespace["make_trace"]


def _child(body: str) -> list[str]:
    return [sys.executable, "-c", _MAKE_TRACE + textwrap.dedent(body)]


@dataclass
class Backend:
    """Where a test's stores live: SQLite files in tmp_path, or schemas on a real PostgreSQL."""

    name: str
    root: str  # the folder (SQLite) or the server URL (PostgreSQL)
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")

    def location(self, name: str = "traces") -> str:
        return self.root if self.name == "postgres" else str(Path(self.root) / f"{name}.db")

    def options(self, name: str = "traces") -> dict[str, object]:
        return {"schema": f"{self.prefix}_{name}"} if self.name == "postgres" else {}

    def open(self, name: str = "traces", **kwargs: object) -> TraceStore:
        return TraceStore(self.location(name), **self.options(name), **kwargs)  # type: ignore[arg-type]

    def child_args(self, name: str = "traces") -> list[str]:
        return [self.location(name), json.dumps(self.options(name))]

    def sql(self, statement: str, name: str = "traces") -> list[tuple[object, ...]]:
        """Run one statement on the store's tables behind its back (and commit it)."""
        if self.name == "sqlite":
            with sqlite3.connect(self.location(name)) as raw:
                return raw.execute(statement).fetchall()
        import psycopg

        with psycopg.connect(self.root) as raw:
            raw.execute(f"SET search_path TO {self.options(name)['schema']}")
            cursor = raw.execute(statement)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "postgres":
        return Backend("postgres", request.getfixturevalue("postgres_url"))
    return Backend("sqlite", str(tmp_path))


@pytest.fixture
def store(backend: Backend) -> TraceStore:
    with backend.open() as opened:
        yield opened  # type: ignore[misc]


# -- basics ------------------------------------------------------------------------------------
def test_a_stored_trace_reads_back_equal_with_its_messages(store: TraceStore) -> None:
    trace = make_trace("a", 100.0)
    store.write(trace)
    (again,) = list(store.query())
    assert again == trace
    assert isinstance(again.messages[0], HumanMessage) and isinstance(again.output, AIMessage)
    assert store.get("a") == trace and store.get("missing") is None


def test_the_store_is_a_trace_sink(store: TraceStore) -> None:
    assert isinstance(store, TraceSink) and isinstance(store, TraceStore)


def test_an_sqlite_store_is_in_wal_mode(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.db")
    with sqlite3.connect(store.path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_writing_a_stored_trace_id_again_is_a_no_op(store: TraceStore) -> None:
    store.write(make_trace("a", 1.0))
    store.write(make_trace("a", 2.0, target="cloud"))
    assert store.write_many([make_trace("a", 3.0), make_trace("b", 4.0)]) == 1
    assert [(t.trace_id, t.created_at) for t in store.query()] == [("a", 1.0), ("b", 4.0)]


def test_write_many_reports_how_many_traces_were_new(store: TraceStore) -> None:
    assert store.write_many(make_trace(f"t{i}", float(i)) for i in range(50)) == 50
    assert store.write_many([]) == 0
    assert store.count() == 50


def test_write_many_with_a_bad_item_stores_nothing(store: TraceStore) -> None:
    with pytest.raises(TypeError, match="RouteTrace"):
        store.write_many([make_trace("a", 1.0), {"trace_id": "b"}])  # type: ignore[list-item]
    assert store.count() == 0


def test_a_closed_store_refuses_writes_with_its_location(backend: Backend) -> None:
    with backend.open("t") as store:
        store.write(make_trace("a", 1.0))
    with pytest.raises(TraceStoreError, match="closed") as info:
        store.write(make_trace("b", 2.0))
    assert info.value.path == backend.location("t") == store.location
    assert backend.open("t").count() == 1


# -- querying ----------------------------------------------------------------------------------
@pytest.fixture
def filled(store: TraceStore) -> TraceStore:
    store.write_many(
        [
            make_trace("late", 30.0, target="cloud", session="s1", valid=True),
            make_trace("tie-1", 20.0, target="edge", session="s1", valid=False),
            make_trace("tie-2", 20.0, target="edge", session="s2", valid=True),
            make_trace("tie-3", 20.0, target="cloud", session="s2"),
            make_trace("early", 10.0, target="edge", session="s1", valid=True),
        ]
    )
    return store


def _ids(store: TraceStore, **filters: object) -> list[str]:
    return [t.trace_id for t in store.query(**filters)]  # type: ignore[arg-type]


def test_query_orders_by_creation_time_then_insertion_across_pages(filled: TraceStore) -> None:
    expected = ["early", "tie-1", "tie-2", "tie-3", "late"]
    assert _ids(filled) == expected
    assert _ids(filled, batch_size=1) == expected
    assert _ids(filled, batch_size=2, limit=4) == expected[:4]
    assert _ids(filled, limit=0) == []


def test_query_filters_by_time_route_session_and_validity(filled: TraceStore) -> None:
    assert _ids(filled, since=20.0, until=30.0) == ["tie-1", "tie-2", "tie-3"]
    assert _ids(filled, since=datetime.fromtimestamp(25.0, tz=UTC)) == ["late"]
    assert _ids(filled, route="cloud") == ["tie-3", "late"]
    assert _ids(filled, session_id="s1", batch_size=1) == ["early", "tie-1", "late"]
    assert _ids(filled, valid=True) == ["early", "tie-2", "late"]
    assert _ids(filled, valid=False, route="edge") == ["tie-1"]
    assert _ids(filled, route="nowhere") == []


def test_count_takes_the_same_filters_as_query(filled: TraceStore) -> None:
    for filters in ({}, {"route": "edge"}, {"session_id": "s2", "valid": True}, {"until": 20.0}):
        assert filled.count(**filters) == len(_ids(filled, **filters))  # type: ignore[arg-type]
    assert filled.count(since=20.0, route="edge") == 2


def test_query_streams_lazily_so_it_can_stop_early(filled: TraceStore) -> None:
    stream = filled.query(batch_size=2)
    assert next(stream).trace_id == "early"
    filled.write(make_trace("later", 40.0))  # the store stays writable mid-stream
    assert [t.trace_id for t in stream][-1] == "later"


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"since": "yesterday"}, "since must be Unix seconds"),
        ({"until": float("nan")}, "until must be Unix seconds"),
        ({"route": 3}, "route must be a string"),
        ({"valid": 1}, "valid must be True, False or None"),
        ({"limit": -1}, "limit must be"),
        ({"batch_size": 0}, "batch_size must be a positive int"),
    ],
)
def test_a_bad_filter_raises_naming_it(
    store: TraceStore, filters: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.query(**filters)  # type: ignore[arg-type]


# -- feedback ----------------------------------------------------------------------------------
def test_the_latest_feedback_is_the_quality_query_returns(
    backend: Backend, store: TraceStore
) -> None:
    store.write_many([make_trace("a", 1.0), make_trace("b", 2.0)])
    store.record_feedback("a", 0.2)
    store.record_feedback("a", 0.9, source="replay")
    assert [(t.trace_id, t.quality) for t in store.query()] == [("a", 0.9), ("b", None)]
    rows = backend.sql("SELECT quality, source FROM feedback ORDER BY seq")
    assert rows == [(0.2, "user"), (0.9, "replay")]  # feedback is appended, never overwritten


def test_feedback_for_an_unknown_trace_raises_lookup_error(store: TraceStore) -> None:
    with pytest.raises(LookupError, match="'nope'"):
        store.record_feedback("nope", 0.5)


@pytest.mark.parametrize("quality", [-0.1, 1.5, float("nan"), "good", True])
def test_feedback_outside_zero_one_is_refused(store: TraceStore, quality: object) -> None:
    store.write(make_trace("a", 1.0))
    with pytest.raises(ValueError, match="quality must be"):
        store.record_feedback("a", quality)  # type: ignore[arg-type]


# -- retention ---------------------------------------------------------------------------------
def test_retention_keeps_the_newest_rows_checking_every_n_writes(backend: Backend) -> None:
    keep = TraceRetention(max_rows=20, check_every=10)
    with backend.open("t", retention=keep) as store:
        for i in range(55):
            store.write(make_trace(f"t{i:02d}", 1000.0 + i))
        assert 20 <= store.count() < 20 + keep.check_every
        store.enforce_retention()
        assert _ids(store) == [f"t{i:02d}" for i in range(35, 55)]


def test_retention_by_age_drops_old_traces_and_their_feedback(backend: Backend) -> None:
    now = time.time()
    keep = TraceRetention(max_age_s=3600, check_every=3)
    with backend.open("t", retention=keep) as store:
        store.write(make_trace("old", now - 7200))
        store.record_feedback("old", 1.0)
        store.write_many([make_trace("new", now), make_trace("newer", now + 1)])  # 3rd write
        assert _ids(store) == ["new", "newer"]
        assert backend.sql("SELECT count(*) FROM feedback", "t") == [(0,)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs max_rows or max_age_s"),
        ({"max_rows": 0}, "max_rows"),
        ({"max_age_s": -1}, "max_age_s"),
    ],
)
def test_retention_without_a_positive_limit_is_refused(
    kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TraceRetention(**kwargs)  # type: ignore[arg-type]


# -- files of another kind ---------------------------------------------------------------------
def test_a_store_of_another_schema_version_is_refused(backend: Backend) -> None:
    backend.open("t").close()
    backend.sql("UPDATE meta SET value = '2' WHERE key = 'schema_version'", "t")
    with pytest.raises(TraceStoreError, match=r"schema version 2.*reads version 1") as info:
        backend.open("t")
    assert info.value.path == backend.location("t")


def test_an_sqlite_file_that_is_no_trace_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE users (name TEXT)")
    with pytest.raises(TraceStoreError, match="not a trace store"):
        TraceStore(path)


def test_a_file_that_is_not_sqlite_is_refused_with_the_cause(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are not the traces you are looking for\n" * 100)
    with pytest.raises(TraceStoreError, match=r"notes\.db.*not a database"):
        TraceStore(path)


# -- full disk (simulated with SQLite's max_page_count, via max_file_bytes) --------------------
def test_a_full_disk_raises_trace_store_error_and_keeps_what_was_stored(tmp_path: Path) -> None:
    path = tmp_path / "small.db"
    store = TraceStore(path, max_file_bytes=96 * 1024)
    stored = 0
    with pytest.raises(TraceStoreError, match=r"small\.db.*(full|SQLITE_FULL)") as info:
        for i in range(10_000):
            store.write(make_trace(f"t{i}", float(i)))
            stored += 1
    assert info.value.cause == "SQLITE_FULL" and info.value.path == str(path)
    assert stored > 0 and store.count() == stored
    assert store.integrity_check() == ["ok"]


def test_routing_carries_on_when_the_store_disk_is_full(tmp_path: Path) -> None:
    full = TraceStore(tmp_path / "full.db", max_file_bytes=64 * 1024)
    with pytest.raises(TraceStoreError):
        while True:
            full.write(make_trace(f"filler{full.count()}", 1.0))
    memory = InMemoryTraceSink()
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["edge answer"]),
        cloud=ScriptedChatModel(responses=["cloud answer"]),
        sinks=[memory],
        store=full,
    )
    reply = router.invoke("hello")
    assert reply.content in ("edge answer", "cloud answer")
    assert router.sink_errors == 1
    assert memory.traces[0].trace_id == reply.response_metadata["netgpt"]["trace_id"]


def test_the_router_opens_a_store_from_a_path_or_url_and_writes_every_step(
    backend: Backend,
) -> None:
    router = NetGPTRouter(
        edge=ScriptedChatModel(responses=["a", "b"]),
        cloud=ScriptedChatModel(responses=["c", "d"]),
        store=backend.location("router"),  # a PostgreSQL URL opens the default 'netgpt' schema
    )
    replies = [router.invoke("one"), router.invoke("two")]
    assert isinstance(router.store, TraceStore)
    for reply in replies:
        stored = router.store.get(reply.response_metadata["netgpt"]["trace_id"])
        assert stored is not None and stored.output is not None
        assert stored.output.content == reply.content
    assert router.sink_errors == 0


# -- concurrency and crashes -------------------------------------------------------------------
def test_a_write_waits_for_another_writer_to_release_the_lock(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.db", busy_timeout_s=5)
    other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    threading.Timer(0.2, lambda: other.execute("COMMIT")).start()
    store.write(make_trace("a", 1.0))
    assert store.count() == 1
    other.close()


def test_a_write_blocked_past_the_busy_timeout_raises_naming_the_cause(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.db", busy_timeout_s=0.2)
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(TraceStoreError, match="locked") as info:
        store.write(make_trace("a", 1.0))
    assert info.value.cause == "SQLITE_BUSY"
    other.execute("ROLLBACK")
    store.write(make_trace("a", 1.0))  # the store is usable again once the lock is free
    assert store.count() == 1
    other.close()


def _start_writers(backend: Backend, writer: str, count: int) -> list[subprocess.Popen[str]]:
    """Child processes that open the store, say ready, and write once told to go."""
    children = [
        subprocess.Popen(
            [*_child(writer), *backend.child_args("shared"), str(k)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(count)
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return children


def _go(children: list[subprocess.Popen[str]]) -> None:
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.close()


_WRITER = """
    import json, sys
    from langchain_netgpt import TraceStore
    location, options, k = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    with TraceStore(location, synchronous="NORMAL", **options) as store:
        print("ready", flush=True)
        sys.stdin.readline()  # start together with the others (imports take a while)
        for j in range(N):
            store.write(make_trace(f"p{k}-{j}"))
"""


def test_concurrent_threads_and_processes_lose_and_duplicate_nothing(backend: Backend) -> None:
    backend.open("shared").close()  # created up front; the writers race on writes, not creation
    children = _start_writers(backend, "N = 200\n" + textwrap.dedent(_WRITER), 4)
    # NORMAL skips the fsync per commit (1600 fsyncs would dominate the run); locking and
    # transactions, which this test is about, are the same as with FULL.
    store = backend.open("shared", synchronous="NORMAL")
    errors: list[BaseException] = []

    def write_hundred(k: int) -> None:
        try:
            for j in range(100):
                store.write(make_trace(f"t{k}-{j}"))
        except BaseException as exc:  # pragma: no cover - reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=write_hundred, args=(k,)) for k in range(8)]
    _go(children)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [child.wait(timeout=120) for child in children] == [0, 0, 0, 0]
    assert errors == []
    ids = [t.trace_id for t in store.query()]
    expected = {f"p{k}-{j}" for k in range(4) for j in range(200)}
    expected |= {f"t{k}-{j}" for k in range(8) for j in range(100)}
    assert len(ids) == len(set(ids)) == 1600
    assert set(ids) == expected
    assert store.integrity_check() == ["ok"]


def test_four_processes_writing_five_hundred_traces_each_store_exactly_two_thousand(
    backend: Backend,
) -> None:
    backend.open("shared").close()
    children = _start_writers(backend, "N = 500\n" + textwrap.dedent(_WRITER), 4)
    _go(children)
    assert [child.wait(timeout=180) for child in children] == [0, 0, 0, 0]
    with backend.open("shared") as store:
        ids = [t.trace_id for t in store.query(batch_size=333)]
        assert store.count() == 2000 and store.integrity_check() == ["ok"]
    assert len(ids) == len(set(ids)) == 2000
    assert set(ids) == {f"p{k}-{j}" for k in range(4) for j in range(500)}
    assert backend.sql("SELECT count(*) FROM traces", "shared") == [(2000,)]


def test_a_writer_killed_mid_write_loses_at_most_the_trace_in_flight(backend: Backend) -> None:
    writer = """
        import json, sys
        from langchain_netgpt import TraceStore
        store = TraceStore(sys.argv[1], **json.loads(sys.argv[2]))
        for j in range(1_000_000):
            store.write(make_trace(f"c{j}"))
            print(f"c{j}", flush=True)  # printed only once the write has returned
    """
    child = subprocess.Popen(
        [*_child(writer), *backend.child_args("crash")], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    committed = []
    for line in child.stdout:
        committed.append(line.strip())
        if len(committed) == 150:
            break
    child.send_signal(signal.SIGKILL)
    committed += [line.strip() for line in child.stdout]  # lines already in the pipe
    assert child.wait(timeout=30) == -signal.SIGKILL

    with backend.open("crash") as store:
        assert store.integrity_check() == ["ok"]
        stored = [t.trace_id for t in store.query()]
    assert set(committed) <= set(stored)
    assert len(stored) - len(committed) in (0, 1)  # at most the write in flight at the kill
    assert stored[: len(committed)] == committed
