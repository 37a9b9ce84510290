"""Schema migrations, run by ``Store.open``: Alembic driven from code, no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, func, select

from paramedic import __version__
from paramedic.errors import StoreError
from paramedic.store.connect import MISSING_HINT, Target

MIGRATIONS = Path(__file__).with_name("migrations")

VERSION_TABLE = "paramedic_schema_version"
"""Alembic's version table, named so it cannot clash with another tool's in a shared database."""

MIGRATION_LOCK = 0x706172616D656401
"""PostgreSQL advisory lock that keeps two agents from migrating at once."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations, bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this version of paramedic knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    """The schema revision of the database behind ``connection``; None when it has none."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(connection: Connection, target: Target, *, create: bool) -> None:
    """Bring the schema to the head revision inside the caller's (write) transaction."""
    if target.dialect == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
    current = current_revision(connection)
    if current is None and not create:
        raise StoreError(
            f"the state store {target.shown} holds no paramedic tables; {MISSING_HINT}"
        )
    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    if current is not None and current not in known:
        raise StoreError(
            f"the state store {target.shown} has schema revision {current}, newer than "
            f"paramedic {__version__} knows; upgrade paramedic"
        )
    if current == script.get_current_head():
        return
    try:
        command.upgrade(alembic_config(connection), "head")
    except CommandError as exc:
        raise StoreError(f"cannot migrate the state store {target.shown}: {exc}") from exc
