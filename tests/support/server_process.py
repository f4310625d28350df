"""A real `mlgov server` subprocess on a free 127.0.0.1 port, for tests over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Mapping


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    env: Mapping[str, str], *args: str, ready_timeout: float = 120
) -> tuple[subprocess.Popen[str], str]:
    """The server started with `env` (and extra `args`, e.g. --workers 4), once its OpenAPI
    document answers; returns the process and its base URL (without /api/v1)."""
    import httpx

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlgov.cli.main", "server", "--port", str(port), *args],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout
    while True:
        try:
            httpx.get(f"{url}/api/v1/openapi.json", timeout=1)
            return proc, url
        except httpx.TransportError:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read() if proc.stdout else "exited") from None
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"no answer within {ready_timeout} s") from None
            time.sleep(0.2)


def stop_server(proc: subprocess.Popen[str]) -> str:
    """Stop it; returns everything it printed (tests check no secret is in it)."""
    proc.terminate()
    return proc.communicate(timeout=30)[0]


def own_database(url: str, suffix: str) -> str:
    """A database of the caller's own beside the one `url` names (another suite may be using
    that one, or running this same test at once: the name carries this process's id), empty;
    returns its URL. `drop_database` removes it."""
    import os

    from sqlalchemy import create_engine, make_url, text

    base = make_url(url)
    name = f"{base.database}_{suffix}_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    own = base.set(database=name)
    engine = create_engine(own)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return own.render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Remove a database `own_database` made (its server stopped: nobody is connected)."""
    from sqlalchemy import create_engine, make_url, text

    own = make_url(url)
    admin = create_engine(own.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)'))
    admin.dispose()
