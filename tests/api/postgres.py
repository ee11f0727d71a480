"""A throwaway PostgreSQL server for the store tests, and a fresh database per test.

``VTH_TEST_POSTGRES_URL`` names a server to use instead (its user must be allowed to
create databases). Otherwise a cluster is made with ``initdb`` in a temporary folder
and started with ``pg_ctl`` on a free loopback port, its socket in that folder too;
as root, both run as the ``postgres`` user (they refuse to run as root).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

#: Set by CI where PostgreSQL is installed: a missing server fails the tests.
REQUIRE_ENV = "VTH_REQUIRE_POSTGRES"
#: A server to test against instead of a throwaway cluster.
URL_ENV = "VTH_TEST_POSTGRES_URL"
#: The superuser of a throwaway cluster (trust authentication, no password).
_USER = "vth"
#: How long starting a server may take.
_START_TIMEOUT_S = 20


class PostgresUnavailableError(Exception):
    """No PostgreSQL to test against: neither a URL nor the server programs."""


class PostgresSetupError(Exception):
    """The server programs are there but the cluster did not start."""


def required() -> bool:
    """Whether the tests must fail instead of skip without PostgreSQL."""
    return os.environ.get(REQUIRE_ENV, "") == "1"


@dataclass
class PostgresServer:
    """A PostgreSQL server the tests own databases on.

    ``url`` reaches its maintenance database; :meth:`database` makes a fresh one.
    """

    url: URL
    _names: Iterator[int] = field(default_factory=itertools.count)

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """Create an empty database, yield its URL, drop it (and its connections)."""
        name = f"vth_test_{os.getpid()}_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
        try:
            yield self.url.set(database=name).render_as_string(hide_password=False)
        finally:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(statement))
        finally:
            engine.dispose()


@contextlib.contextmanager
def server() -> Iterator[PostgresServer]:
    """The server of ``VTH_TEST_POSTGRES_URL``, else a throwaway cluster while in use.

    Raises
    ------
    PostgresUnavailableError
        When there is no URL and no ``initdb``/``pg_ctl``.
    PostgresSetupError
        When the cluster cannot be made or started.
    """
    given = os.environ.get(URL_ENV)
    if given:
        yield PostgresServer(make_url(given))
        return
    initdb, pg_ctl = find_programs()
    with _cluster(initdb, pg_ctl) as url:
        yield PostgresServer(url)


def find_programs() -> tuple[Path, Path]:
    """``initdb`` and ``pg_ctl`` of one PostgreSQL installation."""
    folders = [
        *(Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p),
        *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True),
        Path("/usr/local/bin"),
    ]
    for folder in folders:
        initdb, pg_ctl = folder / "initdb", folder / "pg_ctl"
        if os.access(initdb, os.X_OK) and os.access(pg_ctl, os.X_OK):
            return initdb, pg_ctl
    raise PostgresUnavailableError(
        f"no PostgreSQL server programs (initdb, pg_ctl) on PATH, in "
        f"/usr/lib/postgresql/*/bin or /usr/local/bin, and {URL_ENV} is not set; "
        "install PostgreSQL (Debian: apt-get install postgresql) or set the URL"
    )


@contextlib.contextmanager
def _cluster(initdb: Path, pg_ctl: Path) -> Iterator[URL]:
    """Make and start a cluster in a temporary folder; stop and delete it afterwards."""
    owner = _owner()
    # Not under pytest's tmp_path: as root that lies in a folder only root can enter.
    base = Path(tempfile.mkdtemp(prefix="vth-pg-"))
    try:
        if owner is not None:
            os.chown(base, owner.pw_uid, owner.pw_gid)
        data, log = base / "data", base / "server.log"
        initdb_options = ["-U", _USER, "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"]
        _run(owner, [str(initdb), "-D", str(data), *initdb_options])
        port = _free_port()
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={port}",
                f"-c unix_socket_directories={base}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c timezone=UTC",
            ]
        )
        start = [str(pg_ctl), "start", "-D", str(data), "-l", str(log), "-w"]
        _run(owner, [*start, "-t", str(_START_TIMEOUT_S), "-o", options], log=log)
        try:
            yield URL.create(
                "postgresql+psycopg",
                username=_USER,
                host="127.0.0.1",
                port=port,
                database="postgres",
            )
        finally:
            _run(owner, [str(pg_ctl), "stop", "-D", str(data), "-m", "immediate", "-w"])
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _owner() -> pwd.struct_passwd | None:
    """The user to run the server as: None for ourselves, ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresSetupError(
            "running as root, which PostgreSQL refuses, and there is no 'postgres' user "
            "to run it as"
        ) from None


def _run(
    owner: pwd.struct_passwd | None,
    command: Sequence[str],
    *,
    log: Path | None = None,
) -> None:
    """Run a server program (as ``owner``); raise with its output when it fails."""
    args = list(command)
    if owner is not None:
        if shutil.which("runuser"):
            args = ["runuser", "-u", owner.pw_name, "--", *args]
        else:
            args = ["su", owner.pw_name, "-s", "/bin/sh", "-c", shlex.join(args)]
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=_START_TIMEOUT_S + 10,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PostgresSetupError(f"{shlex.join(args)}: {exc}") from exc
    if done.returncode != 0:
        server_log = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        raise PostgresSetupError(
            f"{shlex.join(args)} exited with {done.returncode}:\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}{server_log}"
        )


def _free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def closed_port() -> int:
    """A loopback port nothing listens on (connecting to it is refused at once)."""
    return _free_port()
