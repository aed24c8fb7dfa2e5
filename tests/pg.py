"""Throw-away PostgreSQL for the test suite (a pytest plugin; load it with ``pytest_plugins``).

Fixtures:

``postgresql_server`` (session)
    A real PostgreSQL server started for this test run on a free loopback port, with
    trust authentication, and stopped (and its data directory removed) at session end.
``postgresql_url`` (session)
    Async SQLAlchemy URL (``postgresql+asyncpg://user@host:port/dbname``) of a fresh, empty
    database created for the session and dropped at its end.
``postgresql_database_url`` (function)
    Same, but a database of its own for every test, dropped after the test.

How the server is started:

* not root: pytest-postgresql's process fixture factory (``factories.postgresql_proc``);
* root (CI containers, this dev box): ``initdb`` and ``postgres`` refuse to run as root, so the
  server runs as the ``postgres`` system account, in a temporary directory owned by it,
  which also holds the unix socket. ``pg_ctl stop -m fast`` and removal at session end.

Server binaries are looked up on ``PATH`` (``pg_ctl``) and then in
``/usr/lib/postgresql/<version>/bin`` (newest version first). Without them the fixtures skip
with a reason, unless the ``CI`` environment variable is set: then they fail, so that CI can
never pass by silently skipping the PostgreSQL half of the storage suite.
``make postgres`` (``.ci/ensure-postgres``) installs the binaries where it can.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from pytest_postgresql import factories
from pytest_postgresql.janitor import DatabaseJanitor
from sqlalchemy.engine import URL

PG_LIB_ROOT = Path("/usr/lib/postgresql")
"""Where Debian/Ubuntu's postgresql-<version> packages put the server binaries."""

SERVER_ACCOUNT = "postgres"
"""System account that runs the server when the tests run as root."""

SUPERUSER = "postgres"
"""Database superuser role created by initdb, used by the tests to connect."""

HOST = "127.0.0.1"
START_TIMEOUT = 30  # seconds; a start normally takes well under one
START_ATTEMPTS = 3  # a freshly picked free port can be taken before the server binds it


def find_pg_bindir() -> Path | None:
    """Directory holding ``pg_ctl``, ``initdb`` and ``postgres``, or None if there is none."""

    def complete(bindir: Path) -> bool:
        return all(os.access(bindir / exe, os.X_OK) for exe in ("pg_ctl", "initdb", "postgres"))

    on_path = shutil.which("pg_ctl")
    if on_path:
        # Resolve symlinks such as /usr/local/bin/pg_ctl -> /usr/lib/postgresql/15/bin/pg_ctl
        # so initdb and postgres are taken from the same installation.
        bindir = Path(on_path).resolve().parent
        if complete(bindir):
            return bindir

    def version_key(bindir: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name))

    for bindir in sorted(PG_LIB_ROOT.glob("*/bin"), key=version_key, reverse=True):
        if complete(bindir):
            return bindir
    return None


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> NoReturn:
    """Skip locally, but fail in CI, where the PostgreSQL tests must always run."""
    if _running_in_ci():
        pytest.fail(
            f"PostgreSQL tests cannot run: {reason}. CI is set, so this is a failure rather "
            "than a skip; install the server binaries first (`make postgres`).",
            pytrace=False,
        )
    pytest.skip(f"PostgreSQL tests skipped: {reason} (`make postgres` installs it where it can)")


@dataclass(frozen=True)
class PostgresServer:
    """Connection details of the running test server."""

    host: str
    port: int
    user: str
    password: str | None
    bindir: Path
    started_in: float  # seconds it took to initialise and start the server

    def url(self, dbname: str) -> str:
        """Async SQLAlchemy URL of ``dbname`` on this server."""
        return URL.create(
            "postgresql+asyncpg",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=dbname,
        ).render_as_string(hide_password=False)

    def janitor(self, dbname: str) -> DatabaseJanitor:
        """pytest-postgresql janitor that creates ``dbname`` on enter and drops it on exit."""
        return DatabaseJanitor(
            user=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            dbname=dbname,
            maintenance_dbname="postgres",
            connection_timeout=10,
        )


# ----------------------------------------------------------------------------- not root

_BINDIR = find_pg_bindir()

# pytest-postgresql's own process fixture, used when not running as root. Only requested (via
# request.getfixturevalue) once the binaries are known to exist, so defining it is harmless.
cib_postgresql_proc = factories.postgresql_proc(
    executable=str(_BINDIR / "pg_ctl") if _BINDIR else None,
    host=HOST,
    port=None,  # any free port
    user=SUPERUSER,
)

# ------------------------------------------------------------------------------- root


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class _RootStartedServer:
    """A server run as the ``postgres`` account by a root test process."""

    def __init__(self, bindir: Path, account: pwd.struct_passwd) -> None:
        self.bindir = bindir
        self.account = account
        self.workdir = Path(tempfile.mkdtemp(prefix="cib-pg-"))
        os.chown(self.workdir, account.pw_uid, account.pw_gid)
        os.chmod(self.workdir, 0o700)
        self.datadir = self.workdir / "data"
        self.logfile = self.workdir / "postgresql.log"
        self.port = 0
        self.started = False

    def _run(self, *argv: str, timeout: float = START_TIMEOUT + 10) -> subprocess.CompletedProcess:
        """Run a PostgreSQL binary as the server account (setuid in the child, like runuser)."""
        return subprocess.run(
            [str(self.bindir / argv[0]), *argv[1:]],
            user=self.account.pw_uid,
            group=self.account.pw_gid,
            extra_groups=[],
            cwd=self.workdir,
            # A clean environment: stray PGDATA/PGPORT/... from the caller must not leak in.
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "HOME": str(self.workdir)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no server log)"

    def start(self) -> None:
        result = self._run(
            "initdb",
            "--pgdata",
            str(self.datadir),
            f"--username={SUPERUSER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )

        conf = self.datadir / "postgresql.conf"
        base_conf = conf.read_text()
        for _attempt in range(START_ATTEMPTS):
            self.port = _free_port()
            # Appending as root keeps the file owned by the server account.
            conf.write_text(
                base_conf
                + "\n# test server settings\n"
                + f"listen_addresses = '{HOST}'\n"
                + f"port = {self.port}\n"
                + f"unix_socket_directories = '{self.workdir}'\n"
                + "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
            result = self._run(
                "pg_ctl",
                "start",
                "--pgdata",
                str(self.datadir),
                "--log",
                str(self.logfile),
                "--wait",
                "--timeout",
                str(START_TIMEOUT),
            )
            if result.returncode == 0:
                self.started = True
                return
            log = self._log_tail()
            if "already in use" not in log:
                break
        raise RuntimeError(
            f"pg_ctl start failed ({result.returncode}):\n{result.stdout}{result.stderr}\n"
            f"server log:\n{log}"
        )

    def stop(self) -> None:
        try:
            if self.started:
                result = self._run(
                    "pg_ctl", "stop", "--pgdata", str(self.datadir), "-m", "fast", "-w"
                )
                if result.returncode != 0:
                    self._run("pg_ctl", "stop", "--pgdata", str(self.datadir), "-m", "immediate")
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def postgresql_server(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    """A PostgreSQL server started for this test run (see the module docstring)."""
    if _BINDIR is None:
        _unavailable(
            f"no PostgreSQL server binaries (pg_ctl, initdb, postgres) on PATH "
            f"or under {PG_LIB_ROOT}/*/bin"
        )
    begun = time.monotonic()

    if os.geteuid() != 0:
        proc = request.getfixturevalue("cib_postgresql_proc")
        yield PostgresServer(
            host=proc.host,
            port=int(proc.port),
            user=proc.user,
            password=proc.password,
            bindir=_BINDIR,
            started_in=time.monotonic() - begun,
        )
        return

    try:
        account = pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        _unavailable(
            f"running as root, and PostgreSQL refuses to run as root, but there is no "
            f"'{SERVER_ACCOUNT}' system account to run it as"
        )

    server = _RootStartedServer(_BINDIR, account)
    try:
        server.start()
        yield PostgresServer(
            host=HOST,
            port=server.port,
            user=SUPERUSER,
            password=None,
            bindir=_BINDIR,
            started_in=time.monotonic() - begun,
        )
    finally:
        server.stop()


def _unique_dbname(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def postgresql_url(postgresql_server: PostgresServer) -> Iterator[str]:
    """Async SQLAlchemy URL of a fresh, empty database shared by the whole session."""
    dbname = _unique_dbname("cib_session")
    with postgresql_server.janitor(dbname):
        yield postgresql_server.url(dbname)


@pytest.fixture
def postgresql_database_url(postgresql_server: PostgresServer) -> Iterator[str]:
    """Async SQLAlchemy URL of a fresh, empty database of this test's own, dropped afterwards."""
    dbname = _unique_dbname("cib_test")
    with postgresql_server.janitor(dbname):
        yield postgresql_server.url(dbname)
