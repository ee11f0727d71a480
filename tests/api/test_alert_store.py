"""The alert store keeps one alert per id, on SQLite (file or memory) or PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

import vth.api.workflow as workflow_module
from tests.api.conftest import measured
from vth.api.errors import StoreError
from vth.api.store import AlertFilter, AlertStore
from vth.errors import VthError
from vth.models import Alert

AlertFactory = Callable[..., Alert]
T0 = datetime(2025, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(any_store: AlertStore) -> AlertStore:
    """The tests here that take ``store`` run on SQLite and on PostgreSQL."""
    return any_store


def test_a_growing_exceedance_updates_end_and_value_under_the_same_id(
    store: AlertStore, make_alert: AlertFactory
) -> None:
    first = make_alert()
    grown = make_alert(end=T0 + timedelta(hours=3), value=700.0, severity="high")

    assert store.upsert(first) is True
    assert store.upsert(grown) is False

    stored = store.get(first.id)
    assert stored is not None
    assert (stored.end, stored.value, stored.severity) == (grown.end, 700.0, "high")
    assert stored.created_at == first.created_at
    assert store.count() == 1
    assert store.count(AlertFilter(since=T0 + timedelta(hours=2))) == 1, (
        "the end column follows too"
    )


def test_stored_times_come_back_as_aware_utc(store: AlertStore, make_alert: AlertFactory) -> None:
    alert = make_alert()
    store.upsert(alert)

    stored = store.get(alert.id)

    assert stored is not None
    for moment in (stored.start, stored.end, stored.created_at):
        assert moment.tzinfo is not None
        assert moment.utcoffset() == timedelta(0)
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT start, updated_at FROM alerts")).one()
    assert str(row.start).startswith("2025-11-22 10:00:00"), "stored as UTC on SQLite"


def test_upsert_many_counts_new_alerts_in_one_go(
    store: AlertStore, make_alert: AlertFactory
) -> None:
    a = make_alert()
    b = make_alert(substance="SO2")

    assert store.upsert_many([a, b, a]) == 2
    assert store.upsert_many([a, make_alert(substance="CO")]) == 1
    assert store.upsert_many([]) == 0
    assert store.count() == 3


def test_list_orders_by_start_descending_then_id(
    store: AlertStore, make_alert: AlertFactory
) -> None:
    same_start = [make_alert(substance=s) for s in ("NOx", "SO2", "CO")]
    later = make_alert(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2))
    store.upsert_many([*same_start, later])

    listed = store.list()

    assert measured(listed[0]) == measured(later)
    assert [a.id for a in listed[1:]] == sorted(a.id for a in same_start)
    assert [a.id for a in store.list(limit=2, offset=1)] == [a.id for a in listed[1:3]]


def test_naive_filter_times_are_refused(store: AlertStore) -> None:
    with pytest.raises(ValueError, match="since must be timezone-aware"):
        store.list(AlertFilter(since=datetime(2025, 11, 22, 10, 0)))


def test_a_file_store_keeps_alerts_across_restarts(
    tmp_path: Path, make_alert: AlertFactory
) -> None:
    url = f"sqlite:///{tmp_path}/nested/dir/vth.db"
    alert = make_alert()

    with AlertStore(url) as store:
        store.upsert(alert)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    with AlertStore(url) as reopened:
        reread = reopened.get(alert.id)
        assert reread is not None and measured(reread) == measured(alert)
        assert reopened.count(AlertFilter(mba_id="avi-rozenburg")) == 1


def test_a_database_path_inside_a_file_raises_store_error(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "alerts.txt"
    not_a_directory.write_text("I am a file\n")

    with pytest.raises(StoreError, match=r"alerts\.txt") as caught:
        AlertStore(f"sqlite:///{not_a_directory}/vth.db")

    assert isinstance(caught.value, VthError)


def test_a_file_that_is_not_a_database_raises_store_error(tmp_path: Path) -> None:
    garbage = tmp_path / "vth.db"
    garbage.write_bytes(b"this is not an SQLite database" * 100)

    with pytest.raises(StoreError, match="cannot create the alerts table"):
        AlertStore(f"sqlite:///{garbage}")


def test_store_errors_mask_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        AlertStore("postgresql+psycopg://inspector:s3cret@127.0.0.1:9/vth")

    message = str(caught.value)
    assert "s3cret" not in message
    assert "inspector:***@127.0.0.1:9/vth" in message


def test_a_broken_url_raises_store_error() -> None:
    with pytest.raises(StoreError, match="invalid database URL"):
        AlertStore("not a url")


@pytest.mark.parametrize("where", ["memory", "file"])
def test_eight_threads_storing_the_same_alert_leave_one_row(
    where: str, tmp_path: Path, make_alert: AlertFactory
) -> None:
    url = "sqlite://" if where == "memory" else f"sqlite:///{tmp_path}/vth.db"
    versions = [make_alert(end=T0 + timedelta(minutes=30 + i), value=450.0 + i) for i in range(8)]
    barrier = threading.Barrier(len(versions))
    created: list[bool] = []
    errors: list[BaseException] = []

    with AlertStore(url) as store:

        def write(alert: Alert) -> None:
            barrier.wait()
            try:
                created.append(store.upsert(alert))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(a,)) for a in versions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert sorted(created) == [False] * 7 + [True]
        assert store.count() == 1
        stored = store.get(versions[0].id)
        assert stored is not None
        assert stored.value in {a.value for a in versions}


def test_losing_an_insert_race_to_another_writer_falls_back_to_an_update(
    tmp_path: Path, make_alert: AlertFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/vth.db"
    first = make_alert()
    grown = make_alert(end=T0 + timedelta(hours=1), value=500.0)
    real_write = workflow_module.store_alert
    calls = 0

    with AlertStore(url) as ours, AlertStore(url) as theirs:

        def racing_write(conn: Connection, alert: Alert, *args: Any) -> bool:
            # As on PostgreSQL: our UPDATE found no row, then another worker stored the
            # same alert first, so our INSERT violates the primary key.
            nonlocal calls
            calls += 1
            if calls == 1:
                with theirs.engine.begin() as other:
                    real_write(other, first, *args)
                raise IntegrityError("INSERT INTO alerts ...", {}, Exception("duplicate key"))
            return real_write(conn, alert, *args)

        monkeypatch.setattr(workflow_module, "store_alert", racing_write)

        assert ours.upsert(grown) is False
        assert calls == 2
        stored = ours.get(first.id)
        assert stored is not None
        assert (stored.value, stored.created_at) == (500.0, first.created_at)
        assert ours.count() == 1


def test_a_write_that_keeps_conflicting_gives_up_with_store_error(
    store: AlertStore, make_alert: AlertFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def always_conflicting(conn: Connection, alert: Alert, *args: Any) -> bool:
        raise IntegrityError("INSERT INTO alerts ...", {}, Exception("duplicate key"))

    monkeypatch.setattr(workflow_module, "store_alert", always_conflicting)

    with pytest.raises(StoreError, match=r"cannot store 1 alert\(s\): Exception: duplicate key"):
        store.upsert(make_alert())


def test_ping_tells_whether_the_database_answers(store: AlertStore) -> None:
    assert store.ping() is True
