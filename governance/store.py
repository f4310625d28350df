"""Engine, sessions and schema management for the governance database.

Writers are serialized: on SQLite every write transaction starts with BEGIN IMMEDIATE (so two
processes never both read the audit head and fork the chain); on PostgreSQL the audit append
takes the head row with SELECT ... FOR UPDATE.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mlgov.governance.errors import ExternalError, NotInitialized, Unavailable

# The newest migration in governance/migrations/versions (a test keeps them in step).
SCHEMA_HEAD = "0016"
_READONLY = "mlgov_readonly"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get(_READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            _sqlite_setup(self.engine)
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        self._reader = sessionmaker(
            self.engine.execution_options(**{_READONLY: True}), expire_on_commit=False
        )
        # Per thread: a server runs several requests, each in its own transaction.
        self._local = threading.local()

    @property
    def in_transaction(self) -> bool:
        return getattr(self._local, "depth", 0) > 0

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run `action` once the write transaction in progress has committed (now, if none is).

        For what reaches outside the database, such as a webhook with a 5 s timeout: never
        while the transaction holds its write lock, and never for a change rolled back."""
        if not self.in_transaction:
            action()
            return
        self._local.pending.append(action)

    @property
    def display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction: commits when the block ends, rolls back on any exception.

        Actions queued with `after_commit` run after the outermost one commits."""
        local = self._local
        outermost = not self.in_transaction
        if outermost:
            local.pending = []
        local.depth = getattr(local, "depth", 0) + 1
        try:
            with self._writer() as session:
                try:
                    with session.begin():
                        yield session
                except OperationalError as exc:
                    what = f"governance database {self.display_url} failed"
                    raise database_failure(exc, what) from exc
        except BaseException:
            local.depth -= 1
            if outermost:
                local.pending = []
            raise
        local.depth -= 1
        if outermost:
            pending, local.pending = local.pending, []
            for action in pending:
                action()

    @contextmanager
    def read(self) -> Iterator[Session]:
        # Committing a read-only transaction writes nothing, and unlike a rollback it leaves
        # loaded objects readable after the block (expire_on_commit is off).
        with self._reader() as session:
            with session.begin():
                yield session

    # --- schema ---------------------------------------------------------------------------

    def revision(self) -> str | None:
        try:
            with self.engine.connect().execution_options(**{_READONLY: True}) as conn:
                if not inspect(conn).has_table("alembic_version"):
                    return None
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except OperationalError as exc:
            raise database_failure(
                exc, f"cannot open governance database {self.display_url}"
            ) from exc

    def check_current(self) -> None:
        rev = self.revision()
        if rev is None:
            raise NotInitialized(
                f"governance database {self.display_url} is not initialized",
                hint="run `mlgov init` first",
            )
        if rev != SCHEMA_HEAD:
            known = sorted(p.name.split("_")[0] for p in _versions_dir().glob("[0-9]*.py"))
            if rev in known:
                raise NotInitialized(
                    f"governance database schema is at revision {rev}, this mlgov needs "
                    f"{SCHEMA_HEAD}",
                    hint="run `mlgov init` to upgrade it (data is kept)",
                )
            raise NotInitialized(
                f"governance database schema revision {rev} is unknown to this mlgov "
                "(written by a newer version?)"
            )

    def upgrade(self) -> str | None:
        """Create or migrate the schema to the newest revision; returns the previous one."""
        from alembic import command
        from alembic.config import Config

        before = self.revision()
        cfg = Config()
        cfg.set_main_option("script_location", str(_versions_dir().parent))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return before


def _versions_dir() -> Path:
    return Path(__file__).resolve().parent / "migrations" / "versions"


# SQLite reports a schema problem with the same exception class as a busy or missing file.
_SCHEMA_PROBLEMS = ("no such table", "no such column", "syntax error", "has no column")


def database_failure(exc: OperationalError, what: str) -> ExternalError:
    """Unavailable (exit 3: retry later) unless the database answered with a schema problem."""
    reason = str(exc.orig)
    if any(p in reason.lower() for p in _SCHEMA_PROBLEMS):
        return ExternalError(f"{what}: {reason}")
    return Unavailable(f"{what}: {reason}")
