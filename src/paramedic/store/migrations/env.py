"""Alembic environment: runs on the connection ``paramedic.store.migrate`` hands over.

Without one (a developer generating a revision), it connects to the
``sqlalchemy.url`` option of the config.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from paramedic.store.migrate import VERSION_TABLE
from paramedic.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    handed: Connection | None = context.config.attributes.get("connection")
    if handed is not None:
        _run(handed)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("paramedic migrations run through Store.open(), or set sqlalchemy.url")
    with create_engine(url).connect() as connection:
        _run(connection)
        connection.commit()


_main()
