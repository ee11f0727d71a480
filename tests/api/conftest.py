"""Fixtures of the alert API tests: example profiles, a store, a client, alerts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api import postgres
from vth.api.app import create_app
from vth.api.store import AlertStore
from vth.models import WORKFLOW_FIELDS, Alert, Detection, MbaProfile, load_profiles

EXAMPLE_PROFILES = Path(__file__).parents[2] / "examples" / "profiles"

AlertFactory = Callable[..., Alert]
#: Start of the alerts the fixtures build.
T0 = datetime(2025, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def profiles() -> dict[str, MbaProfile]:
    return load_profiles(EXAMPLE_PROFILES)


@pytest.fixture
def store() -> Iterator[AlertStore]:
    with AlertStore("sqlite://") as store:
        yield store


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.PostgresServer]:
    """A PostgreSQL server for the session (``VTH_TEST_POSTGRES_URL`` or a throwaway one).

    Skips the tests that need it when there is none, fails them when
    ``VTH_REQUIRE_POSTGRES=1`` (CI, where PostgreSQL is installed).
    """
    try:
        with postgres.server() as server:
            yield server
    except postgres.PostgresUnavailableError as exc:
        if postgres.required():
            pytest.fail(f"{postgres.REQUIRE_ENV}=1 but {exc}", pytrace=False)
        pytest.skip(str(exc))
    except postgres.PostgresSetupError as exc:
        pytest.fail(f"cannot start a PostgreSQL server for the tests: {exc}", pytrace=False)


@pytest.fixture
def postgres_url(postgres_server: postgres.PostgresServer) -> Iterator[str]:
    """The URL of an empty database of its own, dropped after the test."""
    with postgres_server.database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest) -> Iterator[AlertStore]:
    """A fresh store in SQLite memory, then one in a fresh PostgreSQL database."""
    url = "sqlite://" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    with AlertStore(url) as store:
        yield store


@pytest.fixture
def app(store: AlertStore, profiles: dict[str, MbaProfile]) -> FastAPI:
    return create_app(store=store, profiles=profiles)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def build_alert(**overrides: Any) -> Alert:
    """A half-hour NOx exceedance at AVI Rozenburg line 1; keyword arguments change it."""
    fields: dict[str, Any] = {
        "detector": "compliance",
        "kind": "exceedance",
        "mba_id": "avi-rozenburg",
        "source_id": "line-1",
        "sensor_id": "cems-l1",
        "substance": "NOx",
        "start": datetime(2025, 11, 22, 10, 0, tzinfo=UTC),
        "end": datetime(2025, 11, 22, 10, 30, tzinfo=UTC),
        "value": 452.0,
        "limit": 400.0,
        "unit": "mg/m3",
        "lat": 51.9051,
        "lon": 4.2449,
        "severity": "medium",
        "evidence": {"average": "30min", "samples": 30},
    }
    fields.update(overrides)
    return Alert.from_detection(Detection(**fields))


def measured(alert: Alert) -> dict[str, Any]:
    """What a detector reported of an alert, without the workflow the store adds."""
    return alert.model_dump(exclude=set(WORKFLOW_FIELDS))


@pytest.fixture
def make_alert() -> AlertFactory:
    return build_alert


@pytest.fixture
def three_alerts(store: AlertStore, make_alert: AlertFactory) -> list[Alert]:
    """Stored: 10:00 NOx exceedance, 12:00 SO2 peak (AVI Rozenburg), 14:00 gas incident Botlek."""
    alerts = [
        make_alert(),
        make_alert(
            kind="peak",
            detector="peaks",
            substance="SO2",
            start=T0 + timedelta(hours=2),
            end=T0 + timedelta(hours=2, minutes=30),
        ),
        make_alert(
            kind="gas_incident",
            detector="enose",
            mba_id="chemie-botlek",
            source_id=None,
            sensor_id="enose-12",
            substance=None,
            start=T0 + timedelta(hours=4),
            end=T0 + timedelta(hours=5),
        ),
    ]
    assert store.upsert_many(alerts) == 3
    return alerts
