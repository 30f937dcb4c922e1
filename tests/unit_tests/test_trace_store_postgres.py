"""What only the PostgreSQL store does (the shared behaviour is in test_trace_store.py)."""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from typer.testing import CliRunner

from langchain_netgpt import NetworkState, RouteTrace, TraceStore
from langchain_netgpt.cli import app
from langchain_netgpt.errors import MissingExtraError, TraceStoreError
from langchain_netgpt.export import read_router_data
from langchain_netgpt.testing.postgres_server import _free_port
from langchain_netgpt.tracing.postgres import PostgresTraceStore


def _trace(trace_id: str, text: str = "question") -> RouteTrace:
    return RouteTrace(
        trace_id=trace_id,
        mode="invoke",
        decided_target="edge",
        score=0.7,
        threshold=0.5,
        policy="netgpt",
        reason="test",
        network=NetworkState(bandwidth_up_mbps=1, bandwidth_down_mbps=2, rtt_ms=80),
        features={},
        final_target="edge",
        messages=[HumanMessage(text)],
        output=AIMessage("answer"),
    )


@pytest.fixture
def schema() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def store(postgres_url: str, schema: str) -> Iterator[TraceStore]:
    with TraceStore(postgres_url, schema=schema) as opened:
        yield opened


def test_a_postgresql_url_opens_a_postgres_store(store: TraceStore, postgres_url: str) -> None:
    assert isinstance(store, PostgresTraceStore) and isinstance(store, TraceStore)
    assert store.location == postgres_url


def test_the_password_never_shows_in_repr_or_errors() -> None:
    url = f"postgresql://netgpt:s3cret-pw@127.0.0.1:{_free_port()}/postgres"
    with pytest.raises(TraceStoreError) as info:
        TraceStore(url, busy_timeout_s=1)
    assert "s3cret-pw" not in str(info.value) and "s3cret-pw" not in info.value.path
    assert "netgpt:***@127.0.0.1" in str(info.value)


def test_an_unreachable_server_raises_trace_store_error_naming_it() -> None:
    port = _free_port()
    with pytest.raises(TraceStoreError, match=rf"127\.0\.0\.1:{port}.*cannot open"):
        TraceStore(f"postgresql://netgpt@127.0.0.1:{port}/postgres", busy_timeout_s=1)


def test_a_schema_holding_other_tables_is_refused(postgres_url: str, schema: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as raw:
        raw.execute(f"CREATE SCHEMA {schema}")
        raw.execute(f"CREATE TABLE {schema}.users (name TEXT)")
    with pytest.raises(TraceStoreError, match=r"not a trace store.*users"):
        TraceStore(postgres_url, schema=schema)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schema": "Robert'); DROP TABLE traces;--"}, "schema must be a lower-case SQL"),
        ({"max_file_bytes": 1 << 20}, "max_file_bytes applies to SQLite files only"),
        ({"busy_timeout_s": 0}, "busy_timeout_s must be a positive number"),
        ({"synchronous": "OFF"}, "synchronous must be"),
    ],
)
def test_bad_options_are_refused_naming_them(
    postgres_url: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TraceStore(postgres_url, **kwargs)  # type: ignore[arg-type]


def test_a_trace_holding_a_nul_character_is_stored_whole(store: TraceStore) -> None:
    trace = _trace("nul", "before\x00after")
    store.write(trace)
    assert store.get("nul") == trace


def test_a_write_waits_for_a_table_lock_and_times_out_past_busy_timeout(
    postgres_url: str, schema: str
) -> None:
    TraceStore(postgres_url, schema=schema).close()
    other = psycopg.connect(postgres_url)
    other.execute(f"LOCK TABLE {schema}.traces IN EXCLUSIVE MODE")  # another writer's lock
    waiting = TraceStore(postgres_url, schema=schema, busy_timeout_s=5)
    threading.Timer(0.3, other.commit).start()
    waiting.write(_trace("a"))  # waits for the lock, then succeeds
    assert waiting.count() == 1

    other.execute(f"LOCK TABLE {schema}.traces IN EXCLUSIVE MODE")
    hurried = TraceStore(postgres_url, schema=schema, busy_timeout_s=0.3)
    with pytest.raises(TraceStoreError, match="lock timeout") as info:
        hurried.write(_trace("b"))
    assert info.value.cause == "LockNotAvailable"
    other.rollback()
    hurried.write(_trace("b"))  # usable again once the lock is free
    assert hurried.count() == 2
    other.close()


def test_a_dropped_connection_is_reopened_and_the_write_goes_through(
    store: TraceStore, postgres_url: str
) -> None:
    store.write(_trace("before"))
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name LIKE 'netgpt-traces-%' AND pid <> pg_backend_pid()"
        )
    store.write(_trace("after"))
    assert [t.trace_id for t in store.query()] == ["before", "after"]


def test_without_psycopg_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingExtraError, match=r"langchain-netgpt\[postgres\]"):
        TraceStore(postgres_url)


def test_netgpt_export_reads_a_store_given_by_url(postgres_url: str, tmp_path: Path) -> None:
    session = f"export-{uuid.uuid4().hex}"  # the default schema is shared with other tests
    with TraceStore(postgres_url) as default_schema:
        default_schema.write_many(
            [_trace(f"{session}-{i}").model_copy(update={"session_id": session}) for i in range(3)]
        )
    out = tmp_path / "sft.jsonl"
    result = CliRunner().invoke(
        app,
        ["export", "--store", postgres_url, "--session", session, "--kind", "router",
         "--format", "jsonl", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(read_router_data(out).rows) == 3
