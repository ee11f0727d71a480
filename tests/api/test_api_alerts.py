"""Inspectors and detectors use /alerts to submit, find and read alerts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import measured
from vth.api.store import AlertStore
from vth.models import Alert

AlertFactory = Callable[..., Alert]
T0 = datetime(2025, 11, 22, 10, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def test_posted_alert_reads_back_with_every_field_and_utc_times(
    client: TestClient, make_alert: AlertFactory
) -> None:
    alert = make_alert(
        start=datetime(2025, 11, 22, 11, 0, tzinfo=CET),
        end=datetime(2025, 11, 22, 11, 30, tzinfo=CET),
    )

    posted = client.post("/alerts", json=alert.model_dump(mode="json"))
    assert posted.status_code == 201, posted.text
    assert posted.headers["location"].endswith(f"/alerts/{alert.id}")

    got = client.get(f"/alerts/{alert.id}")
    assert got.status_code == 200
    body = got.json()
    assert body["start"] == "2025-11-22T10:00:00Z"
    assert body["end"] == "2025-11-22T10:30:00Z"
    read = Alert.model_validate(body)
    assert measured(read) == measured(alert)
    assert read.status == "new" and read.incident_id == alert.id
    assert read.start.utcoffset() == timedelta(0)
    assert read.created_at == alert.created_at
    assert read.lhso == alert.lhso
    assert read.evidence == {"average": "30min", "samples": 30}


def test_posting_the_same_alert_twice_keeps_one_alert(
    client: TestClient, store: AlertStore, make_alert: AlertFactory
) -> None:
    alert = make_alert()
    first = client.post("/alerts", json=alert.model_dump(mode="json"))
    again = client.post("/alerts", json=alert.model_dump(mode="json"))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert store.count() == 1


def test_a_growing_exceedance_posted_again_updates_end_and_value(
    client: TestClient, make_alert: AlertFactory
) -> None:
    first = make_alert()
    grown = make_alert(end=T0 + timedelta(hours=2), value=612.0, severity="high")
    assert grown.id == first.id

    client.post("/alerts", json=first.model_dump(mode="json"))
    response = client.post("/alerts", json=grown.model_dump(mode="json"))

    assert response.status_code == 200
    stored = Alert.model_validate(client.get(f"/alerts/{first.id}").json())
    assert stored.end == T0 + timedelta(hours=2)
    assert stored.value == 612.0
    assert stored.severity == "high"
    assert stored.created_at == first.created_at


def ids(response_json: list[dict[str, object]]) -> list[object]:
    return [a["id"] for a in response_json]


def test_alerts_are_listed_newest_first_with_the_total_count(
    client: TestClient, three_alerts: list[Alert]
) -> None:
    response = client.get("/alerts")

    assert response.status_code == 200
    assert response.headers["x-total-count"] == "3"
    assert ids(response.json()) == [a.id for a in reversed(three_alerts)]


def test_an_inspector_filters_alerts_by_mba_and_kind(
    client: TestClient, three_alerts: list[Alert]
) -> None:
    avi = client.get("/alerts", params={"mba_id": "avi-rozenburg"})
    peaks = client.get("/alerts", params={"kind": "peak"})
    nox = client.get("/alerts", params={"substance": "NOx", "source_id": "line-1"})

    assert ids(avi.json()) == [three_alerts[1].id, three_alerts[0].id]
    assert avi.headers["x-total-count"] == "2"
    assert ids(peaks.json()) == [three_alerts[1].id]
    assert ids(nox.json()) == [three_alerts[0].id]


def test_since_and_until_select_alerts_overlapping_the_period(
    client: TestClient, three_alerts: list[Alert]
) -> None:
    since = client.get("/alerts", params={"since": "2025-11-22T12:15:00Z"})
    until = client.get("/alerts", params={"until": "2025-11-22T13:00:00+01:00"})
    both = client.get(
        "/alerts", params={"since": "2025-11-22T10:30:00Z", "until": "2025-11-22T12:00:00Z"}
    )

    assert ids(since.json()) == [three_alerts[2].id, three_alerts[1].id]
    assert ids(until.json()) == [three_alerts[1].id, three_alerts[0].id]
    assert ids(both.json()) == [three_alerts[1].id, three_alerts[0].id]
    assert both.headers["x-total-count"] == "2"


def test_alerts_are_paged_with_limit_and_offset(
    client: TestClient, three_alerts: list[Alert]
) -> None:
    page = client.get("/alerts", params={"limit": 2, "offset": 1})

    assert ids(page.json()) == [three_alerts[1].id, three_alerts[0].id]
    assert page.headers["x-total-count"] == "3"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
        {"kind": "explosion"},
        {"since": "2025-11-22T12:00:00"},  # no time zone
        {"until": "yesterday"},
    ],
)
def test_invalid_list_parameters_are_rejected(
    client: TestClient, params: dict[str, object]
) -> None:
    assert client.get("/alerts", params=params).status_code == 422


def test_unknown_alert_is_404(client: TestClient) -> None:
    response = client.get("/alerts/does-not-exist")

    assert response.status_code == 404
    assert response.json() == {"detail": "alert does-not-exist not found"}


def test_alert_for_an_unknown_mba_is_rejected_and_not_stored(
    client: TestClient, store: AlertStore, make_alert: AlertFactory
) -> None:
    alert = make_alert(mba_id="nowhere")

    response = client.post("/alerts", json=alert.model_dump(mode="json"))

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("unknown mba_id 'nowhere'; known: ")
    assert "avi-rozenburg" in detail
    assert store.count() == 0


def test_alert_ending_before_it_starts_is_rejected(
    client: TestClient, make_alert: AlertFactory
) -> None:
    body = make_alert().model_dump(mode="json")
    body["end"] = "2025-11-22T09:00:00Z"

    response = client.post("/alerts", json=body)

    assert response.status_code == 422
    assert "end is before start" in response.text


def test_alert_without_required_fields_is_rejected(
    client: TestClient, make_alert: AlertFactory
) -> None:
    body = make_alert().model_dump(mode="json")
    del body["detector"], body["lhso"]

    response = client.post("/alerts", json=body)

    assert response.status_code == 422
    missing = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert missing == {("body", "detector"), ("body", "lhso")}


def test_quicklook_is_served_as_png_or_404(client: TestClient, make_alert: AlertFactory) -> None:
    import base64

    png = b"\x89PNG\r\n\x1a\n" + b"0" * 20
    with_picture = make_alert(
        kind="heat_anomaly", evidence={"quicklook_png": base64.b64encode(png).decode()}
    )
    later, latest = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    without = make_alert(kind="heat_anomaly", start=later, end=later, evidence={})
    broken = make_alert(
        kind="heat_anomaly", start=latest, end=latest, evidence={"quicklook_png": "%%%"}
    )
    for alert in (with_picture, without, broken):
        assert client.post("/alerts", json=alert.model_dump(mode="json")).status_code == 201

    got = client.get(f"/alerts/{with_picture.id}/quicklook.png")
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/png"
    assert got.content == png
    assert client.get(f"/alerts/{without.id}/quicklook.png").status_code == 404
    assert "no quicklook" in client.get(f"/alerts/{without.id}/quicklook.png").json()["detail"]
    assert client.get(f"/alerts/{broken.id}/quicklook.png").status_code == 404
    assert client.get("/alerts/nope/quicklook.png").status_code == 404
