"""The app factory: documentation, start-up and shut-down, errors, settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import vth
from tests.api.conftest import measured
from vth.api.app import create_app, create_app_from_settings
from vth.api.errors import StoreError
from vth.api.store import AlertStore
from vth.errors import VthError
from vth.models import Alert, MbaProfile
from vth.settings import Settings

EXAMPLE_PROFILES = Path(__file__).parents[2] / "examples" / "profiles"


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    assert spec["info"]["title"] == "vth-sensing"
    assert spec["info"]["version"] == vth.__version__
    assert {"/alerts", "/alerts/{alert_id}", "/profiles", "/profiles/{mba_id}", "/health"} <= set(
        spec["paths"]
    )
    assert {"get", "post"} <= set(spec["paths"]["/alerts"])
    assert client.get("/docs").status_code == 200


def test_lifespan_hooks_start_in_order_and_stop_in_reverse(
    store: AlertStore, profiles: dict[str, MbaProfile]
) -> None:
    events: list[str] = []

    def hook(name: str) -> Callable[[], AbstractContextManager[None]]:
        @contextmanager
        def run() -> Iterator[None]:
            events.append(f"start {name}")
            yield
            events.append(f"stop {name}")

        return run

    app = create_app(store=store, profiles=profiles, lifespan_hooks=[hook("gateway"), hook("loop")])
    with TestClient(app) as client:
        assert events == ["start gateway", "start loop"]
        assert client.get("/health").json()["status"] == "ok"

    assert events == ["start gateway", "start loop", "stop loop", "stop gateway"]
    assert store.ping(), "the app must not close a store it did not open"


def test_store_failure_answers_503(
    client: TestClient, store: AlertStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(alert_id: str) -> Alert | None:
        raise StoreError("alert store postgresql://vth:***@db/vth: cannot read alert x")

    monkeypatch.setattr(store, "get", down)

    response = client.get("/alerts/x")

    assert response.status_code == 503
    assert response.json() == {
        "detail": "alert store postgresql://vth:***@db/vth: cannot read alert x",
        "error": "StoreError",
    }


def test_other_vth_errors_answer_400(
    client: TestClient, store: AlertStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(alert_id: str) -> Alert | None:
        raise VthError("no such thing")

    monkeypatch.setattr(store, "get", refuse)

    response = client.get("/alerts/x")

    assert response.status_code == 400
    assert response.json() == {"detail": "no such thing", "error": "VthError"}


def test_app_from_settings_keeps_alerts_in_the_configured_database(
    tmp_path: Path, make_alert: Callable[..., Alert]
) -> None:
    database = tmp_path / "var" / "vth.db"
    settings = Settings(database_url=f"sqlite:///{database}", profiles_dir=EXAMPLE_PROFILES)
    alert = make_alert()

    with TestClient(create_app_from_settings(settings)) as client:
        assert client.post("/alerts", json=alert.model_dump(mode="json")).status_code == 201
        assert client.get("/profiles").json()[0]["id"] == "avi-rozenburg"

    assert database.exists()
    with AlertStore(f"sqlite:///{database}") as store:
        stored = store.get(alert.id)
        assert stored is not None and measured(stored) == measured(alert)
