"""Shared fixtures: where the real data lives, and a real PostgreSQL server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()
TRACES = SHARED_DATA / "network-traces"
BFCL = SHARED_DATA / "bfcl"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared data folder is missing: {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for the session: ``$NETGPT_TEST_POSTGRES_URL``, or a throwaway
    cluster started from the distribution's binaries (skipped only when they are not installed).
    """
    given = os.environ.get("NETGPT_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    from langchain_netgpt.testing.postgres_server import (
        PostgresNotInstalledError,
        TemporaryPostgres,
    )

    try:
        server = TemporaryPostgres().start()
    except PostgresNotInstalledError as exc:
        pytest.skip(f"PostgreSQL is not installed here: {exc}")
    try:
        yield server.url
    finally:
        server.stop()
