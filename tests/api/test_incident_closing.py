"""Closing an incident's first alert closes the repeats that joined it; leads filter."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.api.conftest import T0, build_alert
from vth.api.store import AlertFilter, AlertStore
from vth.models.workflow import StatusChange


def test_closing_the_first_alert_closes_the_repeats_with_its_outcome(store: AlertStore) -> None:
    lead = build_alert()
    repeat = build_alert(
        substance="SO2", start=T0 + timedelta(minutes=20), end=T0 + timedelta(minutes=50)
    )
    later = build_alert(
        substance="CO", start=T0 + timedelta(minutes=40), end=T0 + timedelta(minutes=70)
    )
    store.upsert_many([lead, repeat, later])
    store.change_status(later.id, StatusChange(status="acknowledged"), "k.jansen")

    store.change_status(
        lead.id, StatusChange(status="closed", outcome="confirmed_violation"), "j.devries"
    )

    for alert in (repeat, later):
        closed = store.get(alert.id)
        assert closed is not None and closed.status == "closed"
        assert closed.review is not None
        assert (closed.review.outcome, closed.review.verdict, closed.review.inspector) == (
            "confirmed_violation",
            "true_alarm",
            "j.devries",
        )
        last = store.events(alert.id)[-1]
        assert (last.actor, last.to_status) == ("j.devries", "closed")
        assert last.detail["with_incident"] == lead.id
    assert store.events(later.id)[-1].from_status == "acknowledged"
    assert store.count(AlertFilter(status="closed")) == 3


def test_closing_a_repeat_leaves_the_incident_and_the_others_open(store: AlertStore) -> None:
    lead = build_alert()
    repeat = build_alert(
        substance="SO2", start=T0 + timedelta(minutes=20), end=T0 + timedelta(minutes=50)
    )
    store.upsert_many([lead, repeat])

    store.change_status(repeat.id, StatusChange(status="closed", outcome="sensor_fault"), "x")

    first = store.get(lead.id)
    assert first is not None and first.status == "new"
    incident = store.incident(lead.id)
    assert incident is not None and incident.status == "open"


def test_the_list_shows_one_alert_per_incident_on_request(client: TestClient) -> None:
    lead = build_alert()
    repeat = build_alert(
        substance="SO2", start=T0 + timedelta(minutes=20), end=T0 + timedelta(minutes=50)
    )
    other = build_alert(start=T0 + timedelta(hours=5), end=T0 + timedelta(hours=6))
    for alert in (lead, repeat, other):
        assert client.post("/alerts", json=alert.model_dump(mode="json")).status_code == 201

    leads = client.get("/alerts", params={"incident_lead": "true"})
    repeats = client.get("/alerts", params={"incident_lead": "false"})

    assert sorted(a["id"] for a in leads.json()) == sorted([lead.id, other.id])
    assert leads.headers["x-total-count"] == "2"
    assert [a["id"] for a in repeats.json()] == [repeat.id]
    assert repeats.json()[0]["incident_id"] == lead.id
