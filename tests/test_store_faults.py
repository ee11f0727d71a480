"""A locked or full alert store: nothing is lost, nothing is stored twice, operators see it.

SQLite says "database is locked" when another connection holds the write lock past the
busy timeout and "database or disk is full" when the file cannot grow; the second is
made here with ``PRAGMA max_page_count``. The detection loop keeps the alerts of a round
the store refused and stores them with the next round's, records the failure where
``/health`` shows it, and an image stays spooled until its alerts are stored. The API
answers 503 naming the problem, and the same request succeeds afterwards.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from tests.api.conftest import build_alert
from tests.conftest import EXAMPLE_PROFILES
from vth import runtime
from vth.api.app import create_app
from vth.api.store import AlertStore
from vth.demo.simulator import floor_minutes
from vth.models import MbaProfile, load_profiles
from vth.runtime import Service
from vth.settings import Settings

#: Busy timeout of the store's connections in these tests (the store waits 5 s).
BUSY_TIMEOUT_MS = 200
#: Half-hours (minute offsets) of the NOx data above the limit: one exceedance each.
PEAKS = ((0, 30), (60, 90), (120, 150))
LOCKED = "database is locked"
FULL = "database or disk is full"


@dataclass
class Limits:
    """What the store's connections are held to, applied at every checkout."""

    max_page_count: int | None = None


def constrain(store: AlertStore) -> Limits:
    """Shorten the store's busy timeout; let the test cap its size (``max_page_count``)."""
    limits = Limits()

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # 1 shrinks the budget to the pages the file has; a bigger number lifts it
            pages = limits.max_page_count if limits.max_page_count is not None else 1_000_000
            cursor.execute(f"PRAGMA max_page_count={pages}")
        finally:
            cursor.close()

    event.listen(store.engine, "checkout", on_checkout)
    return limits


@dataclass
class Locker:
    """Another process's connection that can take the database's write lock."""

    path: Path

    def __post_init__(self) -> None:
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=0)

    def lock(self) -> None:
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")

    def close(self) -> None:
        if self.conn.in_transaction:
            self.release()
        self.conn.close()


def rows(path: Path) -> int:
    """Alert rows in the file, counted by a connection of its own."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM alerts").fetchone()[0])


def duplicate_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        query = "SELECT count(*) FROM (SELECT id FROM alerts GROUP BY id HAVING count(*) > 1)"
        return int(conn.execute(query).fetchone()[0])


@pytest.fixture(scope="module")
def profiles() -> dict[str, MbaProfile]:
    return load_profiles(EXAMPLE_PROFILES)


@pytest.fixture
def service(tmp_path: Path, profiles: dict[str, MbaProfile]) -> Iterator[Service]:
    settings = Settings(
        profiles_dir=EXAMPLE_PROFILES,
        database_url=f"sqlite:///{tmp_path / 'vth.db'}",
        broker_url="mqtt://127.0.0.1:1",  # never connected: the tests feed the ingestor
        quarantine_path=tmp_path / "quarantine.jsonl",
        raster_spool_dir=tmp_path / "rasters",
        records_path=tmp_path / "records.jsonl",
    )
    service = Service(settings, profiles=profiles, network_detectors=[])
    yield service
    service.store.close()


@pytest.fixture
def locker(tmp_path: Path, service: Service) -> Iterator[Locker]:
    locker = Locker(tmp_path / "vth.db")
    yield locker
    locker.close()


def feed_three_exceedances(service: Service) -> None:
    """150 minutes of AVI Rozenburg line 1 NOx, three half-hours of it above the limit."""
    start = floor_minutes(datetime.now(UTC) - timedelta(hours=3), 30)
    for minute in range(150):
        t = start + timedelta(minutes=minute)
        nox = 520.0 if any(a <= minute < b for a, b in PEAKS) else 80.0
        pack = [
            {"bn": "cems-l1:", "bt": int(t.timestamp()), "n": "NOx", "u": "mg/m3", "v": nox},
            {"n": "O2", "u": "%", "v": 11.0},
        ]
        outcome = service.ingestor.ingest(
            "vth/avi-rozenburg/cems-l1", json.dumps(pack).encode(), time.time_ns()
        )
        assert outcome.accepted == 2


def assert_reported(service: Service, problem: str, kept: int) -> None:
    """The failure is in last_errors and in the pipeline's health report, with the count."""
    store_errors = [e for e in service.last_errors if e.startswith("alert store unavailable")]
    assert len(store_errors) == 1, service.last_errors
    assert problem in store_errors[0]
    assert f"{kept} alert(s) kept for the next round" in store_errors[0]
    assert "INSERT" not in store_errors[0] and "SELECT" not in store_errors[0]
    health = service.health()
    assert health["ok"] is False
    assert health["unstored_alerts"] == kept
    assert store_errors[0] in health["detection_errors"]


# --- the detection loop -------------------------------------------------------------------------


def test_a_locked_store_keeps_the_round_and_stores_it_exactly_once_afterwards(
    service: Service, locker: Locker, tmp_path: Path
):
    db = tmp_path / "vth.db"
    constrain(service.store)
    feed_three_exceedances(service)

    locker.lock()
    started = time.monotonic()
    assert service.run_detection_once() == 0  # does not raise: the loop goes on
    assert time.monotonic() - started < 3  # gave up after the (short) busy timeout
    assert_reported(service, LOCKED, kept=3)
    assert service.alerts_created == 0
    # still locked: the next round fails too and keeps the same three, not six
    assert service.run_detection_once() == 0
    assert_reported(service, LOCKED, kept=3)
    locker.release()
    assert rows(db) == 0

    assert service.run_detection_once() == 3
    assert rows(db) == 3
    assert duplicate_rows(db) == 0
    assert service.last_errors == []
    assert service.unstored == {}
    assert service.health()["unstored_alerts"] == 0
    assert service.alerts_created == 3
    assert service.run_detection_once() == 0  # found again, already stored
    assert rows(db) == 3
    assert service.detection_runs == 4
    assert (
        sorted((a.kind, a.detector) for a in service.store.list())
        == [("exceedance", "compliance")] * 3
    )


def test_a_full_store_keeps_the_round_and_stores_it_exactly_once_once_there_is_room(
    service: Service, tmp_path: Path
):
    db = tmp_path / "vth.db"
    limits = constrain(service.store)
    feed_three_exceedances(service)
    limits.max_page_count = 1  # not a page more than the file has now

    assert service.run_detection_once() == 0
    assert_reported(service, FULL, kept=3)
    assert rows(db) == 0

    limits.max_page_count = None  # room again
    assert service.run_detection_once() == 3
    assert rows(db) == 3
    assert duplicate_rows(db) == 0
    assert service.last_errors == []
    assert service.run_detection_once() == 0
    assert rows(db) == 3


def test_an_image_judged_while_the_store_is_locked_stays_spooled_until_its_alerts_are_stored(
    service: Service, locker: Locker, profiles: dict[str, MbaProfile], tmp_path: Path
):
    from vth.demo.rasters import demo_images

    db = tmp_path / "vth.db"
    spool = tmp_path / "rasters"
    constrain(service.store)
    when = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    platform, thermal = demo_images(profiles, when, tmp_path / "stac")[0]
    outcome = service.ingestor.ingest(f"vth/rasters/{platform}", thermal, time.time_ns())
    assert outcome.accepted == 2  # scenes of chemie-botlek and avi-rozenburg
    feed_three_exceedances(service)

    locker.lock()
    assert service.run_detection_once() == 0
    assert_reported(service, LOCKED, kept=5)  # 3 exceedances, 2 heat anomalies
    assert len(list(spool.glob("*.raster"))) == 1  # not unspooled: its alerts are not stored
    assert service.health()["rasters"]["pending"] == 0  # judged once, its alerts are kept
    locker.release()

    assert service.run_detection_once() == 5
    assert rows(db) == 5
    assert duplicate_rows(db) == 0
    assert list(spool.glob("*.raster")) == []
    assert service.run_detection_once() == 0
    assert rows(db) == 5
    kinds = sorted((a.kind, a.source_id or "-") for a in service.store.list(limit=10))
    assert kinds == [
        ("exceedance", "line-1"),
        ("exceedance", "line-1"),
        ("exceedance", "line-1"),
        ("heat_anomaly", "-"),
        ("heat_anomaly", "furnace-1"),
    ]
    # judged once: the flare within its permit is recorded once, not once per round
    records = (tmp_path / "records.jsonl").read_text().splitlines()
    assert [json.loads(r)["source_id"] for r in records] == ["flare-1"]


def test_alerts_kept_beyond_the_cap_drop_the_oldest_and_say_so(
    service: Service, locker: Locker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setattr(runtime, "MAX_UNSTORED_ALERTS", 2)
    constrain(service.store)
    feed_three_exceedances(service)

    locker.lock()
    assert service.run_detection_once() == 0
    assert_reported(service, LOCKED, kept=2)
    assert service.last_errors[0].endswith(
        "2 alert(s) kept for the next round, 1 older one(s) dropped"
    )
    kept = sorted(a.start for a in service.unstored.values())
    locker.release()

    # the dropped one is still in the buffer: found and stored again
    assert service.run_detection_once() == 3
    assert rows(tmp_path / "vth.db") == 3
    assert sorted(a.start for a in service.store.list())[1:] == kept


# --- the API ------------------------------------------------------------------------------------


@pytest.fixture
def api(tmp_path: Path, profiles: dict[str, MbaProfile]) -> Iterator[tuple[TestClient, Limits]]:
    with AlertStore(f"sqlite:///{tmp_path / 'api.db'}") as store:
        limits = constrain(store)
        with TestClient(create_app(store=store, profiles=profiles)) as client:
            yield client, limits


def test_posting_an_alert_while_the_store_is_locked_answers_503_then_succeeds_once(
    api: tuple[TestClient, Limits], tmp_path: Path
):
    client, _ = api
    alert = build_alert().model_dump(mode="json")
    locker = Locker(tmp_path / "api.db")
    try:
        locker.lock()
        refused = client.post("/alerts", json=alert)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "StoreError"
        assert LOCKED in refused.json()["detail"]
        assert "INSERT" not in refused.text and "Traceback" not in refused.text
        locker.release()
    finally:
        locker.close()

    assert client.post("/alerts", json=alert).status_code == 201
    assert client.post("/alerts", json=alert).status_code == 200
    assert rows(tmp_path / "api.db") == 1


def test_posting_an_alert_while_the_disk_is_full_answers_503_then_succeeds_once(
    api: tuple[TestClient, Limits], tmp_path: Path
):
    client, limits = api
    # its evidence needs pages of its own: it cannot fit in the free space of a page
    alert = build_alert(evidence={"note": "x" * 20_000}).model_dump(mode="json")
    limits.max_page_count = 1

    refused = client.post("/alerts", json=alert)
    assert refused.status_code == 503, refused.text
    assert FULL in refused.json()["detail"]
    assert "INSERT" not in refused.text and "Traceback" not in refused.text
    assert rows(tmp_path / "api.db") == 0

    limits.max_page_count = None
    assert client.post("/alerts", json=alert).status_code == 201
    assert rows(tmp_path / "api.db") == 1


def test_a_database_error_past_the_store_answers_503_without_the_sql(
    api: tuple[TestClient, Limits], monkeypatch: pytest.MonkeyPatch
):
    client, _ = api
    store = client.app.state.store  # type: ignore[attr-defined]

    def locked(alert_id: str) -> None:
        raise OperationalError(
            "SELECT body FROM alerts WHERE id = ?", ("secret-id",), sqlite3.OperationalError(LOCKED)
        )

    monkeypatch.setattr(store, "get", locked)
    response = client.get("/alerts/x")

    assert response.status_code == 503
    assert response.json() == {
        "detail": "alert store unavailable: database is locked",
        "error": "StoreError",
    }
