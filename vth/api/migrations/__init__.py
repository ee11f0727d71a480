"""Alembic migrations of the alert store's schema.

There is no ``alembic.ini``: :mod:`vth.api.schema` configures Alembic with this
folder as its script location and hands it the connection to migrate. A new revision
goes into ``versions/`` and brings the database to what ``vth/api/tables.py``
declares (``tests/api/test_migrations.py`` checks that they agree).
"""
