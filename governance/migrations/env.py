"""Alembic environment. mlgov runs migrations programmatically (mlgov.governance.store);
the connection comes in through config.attributes, so no alembic.ini is needed at run time."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from mlgov.governance.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    # Developer path (`alembic revision --autogenerate` with -x url=...).
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    assert url, "pass -x url=... (or set sqlalchemy.url)"
    engine = create_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
