"""A real PostgreSQL server for the store's tests, started by the test session itself.

``initdb`` + ``pg_ctl`` (Debian's ``postgresql``; ``.ci/sysdeps`` installs it
when missing) run a throw-away cluster in a temporary folder, listening on a
free loopback port with trust authentication. PostgreSQL refuses to run as
root, so when the tests run as root the server runs as ``nobody``. Import the
fixtures into a test module: ``from pg_server import pg_server, pg_url``.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

_DB_COUNTER = itertools.count()


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(f"PostgreSQL's {name} not found on PATH or in /usr/lib/postgresql/*/bin; "
                           "run .ci/sysdeps (installs Debian's postgresql)")
    return candidates[-1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "nobody", "--", *argv]


@pytest.fixture(scope="session")
def pg_server():
    """``(host, port)`` of a running PostgreSQL server; stopped at the end of the session."""
    root = Path(tempfile.mkdtemp(prefix="gliopet-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        import pwd

        nobody = pwd.getpwnam("nobody")
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
    os.chmod(root, 0o700)
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    subprocess.run(_as_server_user([_binary("initdb"), "-D", str(data), "-U", "gliopet", "--auth=trust",
                                    "--encoding=UTF8", "--no-sync"]),
                   check=True, capture_output=True, env=env)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_server_user([_binary("pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options,
                                    "-w", "-t", "60", "start"]), check=True, capture_output=True, env=env)
    try:
        yield ("127.0.0.1", port)
    finally:
        subprocess.run(_as_server_user([_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True, env=env)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server) -> str:
    """URL of a new, empty database on the session's server (one per test)."""
    import psycopg

    host, port = pg_server
    name = f"gliopet_test_{os.getpid()}_{next(_DB_COUNTER)}"
    with psycopg.connect(host=host, port=port, user="gliopet", dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://gliopet@{host}:{port}/{name}"
