"""Fixtures of the alert API tests: example profiles, a store, a client, alerts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vth.api.app import create_app
from vth.api.store import AlertStore
from vth.models import Alert, Detection, MbaProfile, load_profiles

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
