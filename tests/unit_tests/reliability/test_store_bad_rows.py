"""One unreadable row of a TraceStore is skipped and counted, not fatal to the query or export."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from langchain_netgpt.errors import TraceStoreError
from langchain_netgpt.export.kinds import export_dataset
from langchain_netgpt.export.sources import read_traces
from langchain_netgpt.tracing import TraceStore
from langchain_netgpt.tracing.store import StoredRowWarning
from tests.unit_tests.test_tracing import _trace


@pytest.fixture
def store_with_a_bad_row(tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "traces.db"
    traces = [_trace(i) for i in range(5)]
    with TraceStore(path) as store:
        store.write_many(traces)
    with sqlite3.connect(path) as conn:
        conn.execute(
            'UPDATE traces SET body = \'{"not": "a trace"\' WHERE trace_id = ?',
            (traces[1].trace_id,),
        )
        newer = traces[3].to_json().replace('"schema_version":1', '"schema_version":2', 1)
        conn.execute("UPDATE traces SET body = ? WHERE trace_id = ?", (newer, traces[3].trace_id))
    return path, [t.trace_id for t in traces]


def test_a_query_skips_and_counts_unreadable_rows(
    store_with_a_bad_row: tuple[Path, list[str]],
) -> None:
    path, ids = store_with_a_bad_row
    with TraceStore(path) as store:
        with pytest.warns(StoredRowWarning) as caught:
            read = [t.trace_id for t in store.query(batch_size=2)]
        assert read == [ids[0], ids[2], ids[4]]
        assert store.rows_skipped == 2
    messages = [str(w.message) for w in caught]
    assert any("not a valid trace" in m for m in messages)
    assert any("schema_version 2" in m for m in messages)


def test_a_limit_counts_only_traces_returned(store_with_a_bad_row: tuple[Path, list[str]]) -> None:
    path, ids = store_with_a_bad_row
    with TraceStore(path) as store, pytest.warns(StoredRowWarning):
        assert [t.trace_id for t in store.query(limit=3, batch_size=2)] == [ids[0], ids[2], ids[4]]


def test_getting_an_unreadable_row_names_it(store_with_a_bad_row: tuple[Path, list[str]]) -> None:
    path, ids = store_with_a_bad_row
    with TraceStore(path) as store:
        with pytest.raises(TraceStoreError, match=ids[1]):
            store.get(ids[1])


def test_an_export_from_the_store_goes_on_past_a_bad_row(
    store_with_a_bad_row: tuple[Path, list[str]], tmp_path: Path
) -> None:
    path, _ = store_with_a_bad_row
    with pytest.warns(StoredRowWarning):
        summary = export_dataset(
            "router", read_traces(path), tmp_path / "router.jsonl", format="jsonl"
        )
    assert summary.rows_written == 3
