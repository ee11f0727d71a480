"""The store's schema comes from the Alembic migrations, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Float,
    Index,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from tests.api import postgres
from tests.api.conftest import build_alert
from vth.api.errors import StoreError
from vth.api.schema import alembic_config, upgrade_schema
from vth.api.store import AlertFilter, AlertStore
from vth.api.tables import UtcDateTime, _Base
from vth.models import Alert, AlertReview
from vth.models.workflow import StatusChange

T0 = datetime(2025, 11, 22, 10, 0, tzinfo=UTC)
TABLES = {"alembic_version", "alerts", "alert_events", "incidents", "outbox"}
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: an SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/vth.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def version(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, _Base.metadata))


def legacy_alerts(*, review: bool) -> Table:
    """The alerts table as the store created it before Alembic (with ``create_all``)."""
    metadata = MetaData()
    columns = [
        Column("id", String(64), primary_key=True),
        Column("mba_id", String, nullable=False),
        Column("source_id", String),
        Column("sensor_id", String),
        Column("detector", String, nullable=False),
        Column("kind", String(32), nullable=False),
        Column("substance", String),
        Column("start", UtcDateTime(), nullable=False),
        Column("end", UtcDateTime(), nullable=False),
        Column("value", Float),
        Column("limit", Float),
        Column("unit", String),
        Column("severity", String(16), nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
        Column("body", JSON, nullable=False),
    ]
    if review:
        columns.append(Column("review", JSON(none_as_null=True), nullable=True))
    return Table(
        "alerts",
        metadata,
        *columns,
        Index("ix_alerts_mba_id_start", "mba_id", "start"),
        Index("ix_alerts_kind", "kind"),
    )


def legacy_row(alert: Alert) -> dict[str, Any]:
    body = alert.model_dump(mode="json", exclude={"review", "status", "incident_id"})
    body.pop("lhso_decision", None)
    return {
        "id": alert.id,
        "mba_id": alert.mba_id,
        "source_id": alert.source_id,
        "sensor_id": alert.sensor_id,
        "detector": alert.detector,
        "kind": alert.kind,
        "substance": alert.substance,
        "start": alert.start,
        "end": alert.end,
        "value": alert.value,
        "limit": alert.limit,
        "unit": alert.unit,
        "severity": alert.severity,
        "created_at": alert.created_at,
        "updated_at": alert.created_at,
        "body": body,
    }


def two_alerts() -> list[Alert]:
    return [
        build_alert(),
        build_alert(substance="SO2", start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2)),
    ]


def test_an_empty_database_is_upgraded_to_the_newest_revision(engine: Engine) -> None:
    upgrade_schema(engine)

    assert version(engine) == HEAD == "0004_lhso_history_index"
    assert set(inspect(engine).get_table_names()) == TABLES


def test_the_migrated_schema_is_what_tables_py_declares(engine: Engine) -> None:
    upgrade_schema(engine)

    assert schema_differences(engine) == []


def test_the_declarations_differ_from_an_older_revision(engine: Engine) -> None:
    """The comparison above does see differences, e.g. the workflow missing."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002_review")

    differences = [str(d) for d in schema_differences(engine)]

    assert any("outbox" in d for d in differences)
    assert any("status" in d for d in differences)


def test_an_in_memory_sqlite_database_on_one_connection_is_upgraded() -> None:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        upgrade_schema(engine)
        upgrade_schema(engine)

        assert version(engine) == HEAD
        assert set(inspect(engine).get_table_names()) == TABLES
    finally:
        engine.dispose()


@pytest.mark.parametrize("with_review", [False, True], ids=["0001", "0002"])
def test_a_database_from_before_alembic_keeps_its_alerts(
    engine: Engine, db_url: str, with_review: bool
) -> None:
    alerts = two_alerts()
    review = AlertReview(
        verdict="false_alarm",
        closed_at=T0 + timedelta(days=1),
        inspector="j.devries",
        note="calibration run",
    )
    table = legacy_alerts(review=with_review)
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        rows = [legacy_row(a) for a in alerts]
        if with_review:
            rows[0]["review"] = review.model_dump(mode="json")
            rows[1]["review"] = None
        conn.execute(insert(table), rows)

    with AlertStore(db_url) as store:
        assert version(store.engine) == HEAD
        assert store.count() == 2
        for alert in alerts:
            stored = store.get(alert.id)
            assert stored is not None
            expected = alert
            if with_review and alert.id == alerts[0].id:
                expected = alert.model_copy(update={"review": review})
            assert stored == expected
            assert (stored.status, stored.incident_id, stored.lhso_decision) == ("new", None, None)
        assert store.count(AlertFilter(status="new")) == 2
        assert store.count(AlertFilter(reviewed=True)) == (1 if with_review else 0)
        assert schema_differences(store.engine) == []

        # The workflow goes on from there: an old alert moves on, a new one opens an
        # incident (the old alerts belong to none).
        changed = store.change_status(alerts[1].id, StatusChange(status="acknowledged"), "insp")
        assert changed is not None
        assert changed.status == "acknowledged"
        assert [e.action for e in store.events(alerts[1].id)] == ["status"]
        new = build_alert(substance="CO")
        assert store.upsert(new) is True
        stored_new = store.get(new.id)
        assert stored_new is not None
        assert stored_new.incident_id == new.id
        assert store.count() == 3


def test_upgrading_again_changes_nothing(db_url: str) -> None:
    alert = build_alert()
    with AlertStore(db_url) as first:
        first.upsert(alert)
    with AlertStore(db_url) as second, AlertStore(db_url) as third:
        assert second.get(alert.id) == third.get(alert.id)
        assert second.get(alert.id) is not None
        assert version(second.engine) == HEAD
        assert second.count() == 1


def test_two_workers_starting_at_once_both_get_the_schema(db_url: str) -> None:
    engines = [create_engine(db_url) for _ in range(2)]
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def start(engine: Engine) -> None:
        barrier.wait()
        try:
            upgrade_schema(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert version(engines[0]) == HEAD
    finally:
        for engine in engines:
            engine.dispose()


def test_the_migrations_go_down_and_up_again(engine: Engine) -> None:
    upgrade_schema(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001_alerts")
    assert set(inspect(engine).get_table_names()) == {"alembic_version", "alerts"}
    assert "review" not in {c["name"] for c in inspect(engine).get_columns("alerts")}

    upgrade_schema(engine)

    assert schema_differences(engine) == []


def test_a_database_of_a_newer_version_raises_store_error_with_the_password_masked(
    db_url: str,
) -> None:
    url = make_url(db_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(password="s3cret")  # the test server trusts any password
    engine = create_engine(url)
    try:
        upgrade_schema(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))

        with pytest.raises(StoreError, match="0099_future") as caught:
            upgrade_schema(engine)
    finally:
        engine.dispose()

    message = str(caught.value)
    assert "s3cret" not in message
    assert url.render_as_string(hide_password=True) in message


def test_an_unreachable_postgresql_raises_store_error_with_the_password_masked() -> None:
    port = postgres.closed_port()
    url = f"postgresql+psycopg://inspector:s3cret@127.0.0.1:{port}/vth?connect_timeout=2"

    with pytest.raises(StoreError, match="cannot create the alerts table") as caught:
        AlertStore(url)

    message = str(caught.value)
    assert "s3cret" not in message
    assert f"inspector:***@127.0.0.1:{port}/vth" in message


@pytest.mark.postgres
def test_times_are_utc_whatever_the_postgresql_session_time_zone(postgres_url: str) -> None:
    amsterdam = make_url(postgres_url).update_query_dict(
        {"options": "-c timezone=Europe/Amsterdam"}
    )
    alert = build_alert()

    with AlertStore(amsterdam.render_as_string(hide_password=False)) as store:
        store.upsert(alert)
        stored = store.get(alert.id)
        assert stored is not None
        assert (stored.start, stored.end) == (alert.start, alert.end)
        assert stored.start.utcoffset() == timedelta(0)
        assert store.count(AlertFilter(since=alert.end, until=alert.start)) == 1
        incident = store.incident(alert.id)
        assert incident is not None
        assert incident.start == alert.start


# --- found on PostgreSQL ------------------------------------------------------------------


@pytest.mark.postgres
def test_writers_storing_the_same_alert_at_once_do_not_deadlock_on_postgresql(
    postgres_url: str,
) -> None:
    """Replays, step by step, a race that eight threads storing one alert hit often.

    A stores the alert (new). B read "no such alert" just before A committed, so it
    takes the insert path: it joins A's incident (locking it) and then inserts the
    alert row, which waits for C. C updates the alert (locking its row) and then
    widens the incident, which waits for B.
    """
    alert = build_alert()
    grown = build_alert(end=T0 + timedelta(hours=1), value=500.0)
    b_read = threading.Event()
    a_stored = threading.Event()
    c_updated_alert = threading.Event()
    b_locked_incident = threading.Event()
    errors: list[BaseException] = []

    def before(statement: str) -> None:
        who = threading.current_thread().name
        if who == "B" and statement.startswith("SELECT incidents.id"):
            a_stored.wait(5)
        elif who == "B" and statement.startswith("INSERT INTO alerts "):
            c_updated_alert.wait(5)
        elif who == "C" and statement.startswith("UPDATE incidents"):
            b_locked_incident.wait(5)

    def after(statement: str) -> None:
        who = threading.current_thread().name
        if who == "B" and statement.startswith("SELECT alerts.incident_id"):
            b_read.set()
        elif who == "B" and statement.startswith("UPDATE incidents"):
            b_locked_incident.set()
        elif who == "C" and statement.startswith("UPDATE alerts"):
            c_updated_alert.set()

    with AlertStore(postgres_url) as store:
        event.listen(store.engine, "before_cursor_execute", lambda *a: before(a[2]))
        event.listen(store.engine, "after_cursor_execute", lambda *a: after(a[2]))

        def write(stored: Alert) -> None:
            try:
                store.upsert(stored)
            except BaseException as exc:
                errors.append(exc)

        b = threading.Thread(target=write, args=(alert,), name="B")
        c = threading.Thread(target=write, args=(grown,), name="C")
        b.start()
        assert b_read.wait(5)
        assert store.upsert(alert) is True  # A
        a_stored.set()
        c.start()
        b.join(15)
        c.join(15)

        assert errors == []
        assert store.count() == 1
