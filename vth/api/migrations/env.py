"""Alembic environment of the alert store: migrates the connection it is handed.

:func:`vth.api.schema.upgrade_schema` puts an open connection (in a transaction) in
``config.attributes["connection"]``; the migrations run in that transaction. SQLite
changes tables in batch mode (copy and swap) where ``ALTER TABLE`` cannot.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from vth.api.tables import _Base


def run_migrations(connection: Connection) -> None:
    """Run the pending migrations (or the stamp) on ``connection``."""
    context.configure(
        connection=connection,
        target_metadata=_Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Migrate the connection in the config's attributes; there is no offline mode."""
    if context.is_offline_mode():
        raise RuntimeError("the alert store's migrations run online only (no SQL scripts)")
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "the alert store's migrations need a connection in "
            'config.attributes["connection"]; use vth.api.schema.upgrade_schema'
        )
    run_migrations(connection)


main()
