"""A throwaway PostgreSQL server for tests, notebooks and benchmarks.

:class:`TemporaryPostgres` runs the distribution's own PostgreSQL binaries (``initdb``, ``pg_ctl``)
on a fresh cluster in a temporary folder, listening on a free loopback port, and removes it all on
:meth:`~TemporaryPostgres.stop`. Nothing is downloaded: install the server first
(``apt-get install postgresql`` on Debian/Ubuntu, ``brew install postgresql`` on macOS).
``initdb`` refuses to run as root, so as root the cluster is created and run as the ``postgres``
system user (which the Debian package creates).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["PostgresNotInstalledError", "TemporaryPostgres", "find_postgres_bindir"]


class PostgresNotInstalledError(RuntimeError):
    """The PostgreSQL server binaries (``initdb``, ``pg_ctl``, ``postgres``) are not installed."""


def find_postgres_bindir() -> Path | None:
    """The folder holding ``initdb``/``pg_ctl``/``postgres``, or ``None`` when not installed.

    Looks at ``$NETGPT_PG_BINDIR``, then ``PATH``, then Debian's ``/usr/lib/postgresql/*/bin``
    (newest version first).
    """
    env = os.environ.get("NETGPT_PG_BINDIR")
    candidates = [Path(env)] if env else []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.name.split(".")],
        reverse=True,
    )
    candidates += [Path(p) for p in debian]
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class TemporaryPostgres:
    """A PostgreSQL cluster of its own, on ``127.0.0.1`` and a free port, for as long as needed.

    The cluster trusts local connections (no password) and is deleted on :meth:`stop`. Its
    :attr:`url` names the ``postgres`` database as user ``netgpt``.

    Args:
        bindir: Folder of the server binaries (default: :func:`find_postgres_bindir`).
        fsync: Whether the server fsyncs (off by default: a test cluster needs no durability
            across power loss, and fsync makes a shared CI disk the bottleneck).
        startup_timeout_s: How long to wait for the server to accept connections.

    Raises:
        PostgresNotInstalledError: No server binaries were found.

    Example:
        .. code-block:: python

            from langchain_netgpt.testing.postgres_server import TemporaryPostgres
            from langchain_netgpt.tracing import TraceStore

            with TemporaryPostgres() as server:
                with TraceStore(server.url) as store:
                    assert store.count() == 0
    """

    def __init__(
        self,
        *,
        bindir: str | os.PathLike[str] | None = None,
        fsync: bool = False,
        startup_timeout_s: float = 60.0,
    ) -> None:
        found = Path(bindir) if bindir is not None else find_postgres_bindir()
        if found is None:
            raise PostgresNotInstalledError(
                "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH, in "
                "$NETGPT_PG_BINDIR or under /usr/lib/postgresql/*/bin; install them with "
                "`apt-get install postgresql` (Debian/Ubuntu) or `brew install postgresql`"
            )
        self.bindir = found
        self.fsync = fsync
        self.startup_timeout_s = startup_timeout_s
        self.port: int | None = None
        self._folder: Path | None = None
        self._user: str | None = None

    @property
    def url(self) -> str:
        """``postgresql://netgpt@127.0.0.1:PORT/postgres`` of the running server."""
        if self.port is None:
            raise RuntimeError("the temporary PostgreSQL server is not running; call start()")
        return f"postgresql://netgpt@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    def start(self) -> Self:
        """Create the cluster and start the server; returns once it accepts connections.

        Raises:
            RuntimeError: ``initdb`` or the server failed (its output is in the message).
        """
        if self.port is not None:
            return self
        self._folder = Path(tempfile.mkdtemp(prefix="netgpt-pg-"))
        if os.geteuid() == 0:
            # initdb refuses root: run the cluster as the unprivileged postgres user.
            self._user = "postgres"
            user = pwd.getpwnam(self._user)
            os.chown(self._folder, user.pw_uid, user.pw_gid)
        data = self._folder / "data"
        done = self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "netgpt",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        if done.returncode != 0:
            self._cleanup()
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr.strip()}")
        self.port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self._folder} -c max_connections=200 "
            f"-c fsync={'on' if self.fsync else 'off'}"
        )
        done = self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self._folder / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(int(self.startup_timeout_s)),
            "start",
        )
        if done.returncode != 0:
            log = self._log_tail()
            self.port = None
            self._cleanup()
            raise RuntimeError(f"PostgreSQL did not start ({done.stdout.strip()}): {log}")
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self.port is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"PostgreSQL on port {self.port} did not accept connections")

    def _log_tail(self) -> str:
        log = self._folder / "server.log" if self._folder else None
        if log is None or not log.is_file():
            return "(no server log)"
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete the cluster. Idempotent."""
        if self._folder is not None and self.port is not None:
            data = str(self._folder / "data")
            self._run(str(self.bindir / "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop")
        self.port = None
        self._cleanup()

    def _cleanup(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"port={self.port}" if self.port is not None else "stopped"
        return f"TemporaryPostgres({state})"
