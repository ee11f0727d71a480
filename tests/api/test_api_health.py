"""A load balancer and the control room read /health to see whether all is well."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import vth
from vth.api.store import AlertStore
from vth.models import Alert


def test_a_fresh_service_is_healthy(
    client: TestClient, store: AlertStore, make_alert: Callable[..., Alert]
) -> None:
    store.upsert(make_alert())

    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": vth.__version__,
        "store": True,
        "profiles": 4,
        "alerts": 1,
        "components": {},
    }


def test_components_report_their_own_health(app: FastAPI, client: TestClient) -> None:
    app.state.health_checks["gateway"] = lambda: {
        "connected": True,
        "received": 10,
        "quarantined": 1,
    }

    body = client.get("/health").json()

    assert body["status"] == "ok"
    assert body["components"] == {"gateway": {"connected": True, "received": 10, "quarantined": 1}}


def test_a_component_that_is_not_ok_degrades_the_service(app: FastAPI, client: TestClient) -> None:
    app.state.health_checks["gateway"] = lambda: {"ok": False, "connected": False}

    response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"


def test_a_failing_health_check_is_reported_not_raised(app: FastAPI, client: TestClient) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("detection loop stopped")

    app.state.health_checks["detection"] = broken

    body = client.get("/health").json()

    assert body["status"] == "degraded"
    assert body["components"]["detection"] == {
        "ok": False,
        "error": "RuntimeError: detection loop stopped",
    }


def test_an_unreachable_store_degrades_the_service(
    client: TestClient, store: AlertStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "ping", lambda: False)

    response = client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["store"], body["alerts"]) == ("degraded", False, None)
