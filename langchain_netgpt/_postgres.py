"""PostgreSQL plumbing shared by the trace store and the shared routing state (psycopg 3).

Everything that touches ``psycopg`` imports it through :func:`import_psycopg`, so
``import langchain_netgpt`` never needs it and a missing driver raises an ``ImportError`` that
names the extra to install (``langchain-netgpt[postgres]``).
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from langchain_netgpt.errors import MissingExtraError

__all__ = [
    "connect",
    "import_psycopg",
    "is_postgres_url",
    "qmark_to_format",
    "quote_ident",
    "redact_url",
]

_SCHEMES = ("postgresql://", "postgres://")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def is_postgres_url(value: object) -> bool:
    """Whether ``value`` is a ``postgresql://`` (or ``postgres://``) URL rather than a path."""
    return isinstance(value, str) and value.lower().startswith(_SCHEMES)


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages, reprs and traces)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def import_psycopg() -> Any:
    """The ``psycopg`` module (psycopg 3).

    Raises:
        MissingExtraError: psycopg is not installed (``pip install 'langchain-netgpt[postgres]'``).
    """
    try:
        import psycopg
    except ImportError as exc:
        raise MissingExtraError("psycopg", "postgres") from exc
    return psycopg


def quote_ident(name: str, *, what: str) -> str:
    """``name`` as a safe SQL identifier (lower-case letters, digits, ``_``; at most 63 chars).

    Raises:
        ValueError: ``name`` is not such an identifier.
    """
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ValueError(
            f"{what} must be a lower-case SQL identifier (letters, digits, _; at most 63 "
            f"characters, not starting with a digit), got {name!r}"
        )
    return f'"{name}"'


def qmark_to_format(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's ``%s`` (our SQL holds no literal ``?`` or ``%``)."""
    return sql.replace("?", "%s")


def connect(url: str, *, connect_timeout_s: float, application_name: str) -> Any:
    """Open a psycopg connection in autocommit mode.

    Callers group statements in ``with conn.transaction():`` blocks, so no statement ever leaves
    a transaction open (a ``SET`` outside a block applies to the session at once).

    Raises:
        MissingExtraError: psycopg is not installed.
        psycopg.Error: The server cannot be reached or refused the login.
    """
    psycopg = import_psycopg()
    return psycopg.connect(
        url,
        autocommit=True,
        connect_timeout=max(1, round(connect_timeout_s)),
        # The pid in the name tells, in pg_stat_activity, which process holds a connection.
        application_name=f"{application_name[:40]}-{os.getpid()}",
    )
