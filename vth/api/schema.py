"""Bring the alert store's database to the current schema with Alembic.

The revisions live in :mod:`vth.api.migrations`; there is no ``alembic.ini``. A
database made before the store used Alembic (an ``alerts`` table but no
``alembic_version``) is stamped first with the revision its columns show, then
upgraded like any other. The whole upgrade runs in one transaction, under a lock, so
two API workers starting at once do not both migrate: on PostgreSQL a transaction
advisory lock, on SQLite ``BEGIN IMMEDIATE`` (the database's write lock).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, inspect, text

from vth.api.errors import StoreError

#: The folder of ``env.py`` and ``versions/``.
MIGRATIONS = Path(__file__).with_name("migrations")
#: The revision whose schema an ``alerts`` table without ``review`` has.
FIRST = "0001_alerts"
#: The revision whose schema an ``alerts`` table with ``review`` (and no workflow) has.
REVIEW = "0002_review"
#: Key of the PostgreSQL advisory lock held while migrating ("vth-sch" in ASCII).
_LOCK_KEY = 0x7674682D736368


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration of the store's migrations, migrating ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_schema(engine: Engine) -> None:
    """Create the store's tables, or upgrade them, to the newest revision.

    Database errors are raised as they come (:class:`sqlalchemy.exc.SQLAlchemyError`;
    the store reports them); Alembic's own (e.g. a database stamped with a revision
    this version does not know, written by a newer one) as :class:`StoreError`.
    """
    try:
        with engine.begin() as conn:
            _lock(conn)
            config = alembic_config(conn)
            legacy = _legacy_revision(conn)
            if legacy is not None:
                command.stamp(config, legacy)
            command.upgrade(config, "head")
    except CommandError as exc:
        shown = engine.url.render_as_string(hide_password=True)
        raise StoreError(f"alert store {shown}: cannot upgrade the schema: {exc}") from exc


def _lock(conn: Connection) -> None:
    """Hold off other migrating workers until this transaction ends."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    elif dialect == "sqlite":
        # pysqlite starts no transaction before DDL; take the write lock now, so the
        # checks below and the migration see and change one state.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _legacy_revision(conn: Connection) -> str | None:
    """The revision of a database made before Alembic; None when Alembic knows it."""
    found = inspect(conn)
    if found.has_table("alembic_version") or not found.has_table("alerts"):
        return None
    columns = {column["name"] for column in found.get_columns("alerts")}
    return REVIEW if "review" in columns else FIRST
