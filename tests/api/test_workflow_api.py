"""Inspectors move alerts through the workflow over HTTP (open access acts as admin)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import T0, build_alert
from vth.api.app import create_app
from vth.api.outbox import RetryPolicy
from vth.api.store import AlertStore
from vth.api.workflow import WorkflowPolicy
from vth.models import Alert, MbaProfile

#: The open API's principal: every request acts as this admin.
ANONYMOUS = "anonymous"
NO_WAIT = RetryPolicy(base_s=0, jitter=0, lease_s=0)


@dataclass
class Forwarding:
    """A client of an app whose store queues new alerts for 'hook', forwarded ones for 'zaken'."""

    client: TestClient
    store: AlertStore


@pytest.fixture
def forwarding(profiles: dict[str, MbaProfile]) -> Iterator[Forwarding]:
    policy = WorkflowPolicy(targets={"hook": "new", "zaken": "forward"})
    with (
        AlertStore("sqlite://", policy) as store,
        TestClient(create_app(store=store, profiles=profiles)) as client,
    ):
        yield Forwarding(client, store)


def alert_at(hours: float, **overrides: Any) -> Alert:
    """The NOx exceedance of ``build_alert``, starting ``hours`` after T0, half an hour long."""
    start = T0 + timedelta(hours=hours)
    return build_alert(start=start, end=start + timedelta(minutes=30), **overrides)


def post(client: TestClient, alert: Alert) -> dict[str, Any]:
    response = client.post("/alerts", json=alert.model_dump(mode="json"))
    assert response.status_code in (200, 201), response.text
    data: dict[str, Any] = response.json()
    return data


def set_status(client: TestClient, alert_id: str, status: str, **fields: Any) -> Any:
    return client.post(f"/alerts/{alert_id}/status", json={"status": status, **fields})


# --- moving an alert on ------------------------------------------------------------------


def test_an_inspector_takes_an_alert_through_every_step(client: TestClient) -> None:
    alert = build_alert()
    assert post(client, alert)["status"] == "new"

    for status in ("acknowledged", "forwarded", "in_inspection"):
        response = set_status(client, alert.id, status, note=f"now {status}")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
        assert response.json()["review"] is None

    before = datetime.now(UTC)
    closed = set_status(client, alert.id, "closed", outcome="confirmed_violation", note="fined")
    after = datetime.now(UTC)

    assert closed.status_code == 200, closed.text
    review = closed.json()["review"]
    assert closed.json()["status"] == "closed"
    assert {k: review[k] for k in ("verdict", "outcome", "inspector", "note")} == {
        "verdict": "true_alarm",
        "outcome": "confirmed_violation",
        "inspector": ANONYMOUS,
        "note": "fined",
    }
    assert review["closed_at"].endswith("Z")
    closed_at = datetime.fromisoformat(review["closed_at"])
    assert before <= closed_at <= after
    assert client.get(f"/alerts/{alert.id}").json() == closed.json()


def test_an_inspector_may_close_a_false_alarm_straight_away(client: TestClient) -> None:
    alert = build_alert()
    post(client, alert)

    response = set_status(client, alert.id, "closed", outcome="no_violation")

    assert response.status_code == 200, response.text
    assert response.json()["review"]["verdict"] == "false_alarm"


@pytest.mark.parametrize(
    ("done", "wanted"),
    [
        ("acknowledged", "acknowledged"),
        ("forwarded", "acknowledged"),
        ("in_inspection", "forwarded"),
    ],
)
def test_going_back_is_a_conflict_naming_both_statuses(
    client: TestClient, done: str, wanted: str
) -> None:
    alert = build_alert()
    post(client, alert)
    set_status(client, alert.id, done)

    response = set_status(client, alert.id, wanted)

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "WorkflowError"
    assert f"is {done}" in body["detail"] and f"back to {wanted}" in body["detail"]
    assert client.get(f"/alerts/{alert.id}").json()["status"] == done


@pytest.mark.parametrize(
    "change",
    [{"status": "acknowledged"}, {"status": "closed", "outcome": "confirmed_violation"}],
    ids=["acknowledge", "close-again"],
)
def test_a_closed_alert_is_a_conflict_whatever_comes_next(
    client: TestClient, change: dict[str, str]
) -> None:
    alert = build_alert()
    post(client, alert)
    closed = set_status(client, alert.id, "closed", outcome="no_violation").json()

    response = client.post(f"/alerts/{alert.id}/status", json=change)

    assert response.status_code == 409
    assert "closed" in response.json()["detail"]
    assert client.get(f"/alerts/{alert.id}").json() == closed


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"status": "closed"}, "needs an outcome"),
        ({"status": "acknowledged", "outcome": "no_violation"}, "only when closing"),
        ({"status": "new"}, "status"),
        ({"status": "closed", "outcome": "probably"}, "outcome"),
        ({"status": "acknowledged", "by": "me"}, "by"),
    ],
    ids=["close-without-outcome", "outcome-too-early", "back-to-new", "bad-outcome", "extra"],
)
def test_an_invalid_change_is_422_and_changes_nothing(
    client: TestClient, body: dict[str, str], problem: str
) -> None:
    alert = build_alert()
    post(client, alert)

    response = client.post(f"/alerts/{alert.id}/status", json=body)

    assert response.status_code == 422
    assert problem in response.text
    assert client.get(f"/alerts/{alert.id}").json()["status"] == "new"
    assert len(client.get(f"/alerts/{alert.id}/events").json()) == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/alerts/no-such-alert/status", {"status": "acknowledged"}),
        ("POST", "/alerts/no-such-alert/lhso", {"consequence": 2, "behaviour": "A"}),
        ("GET", "/alerts/no-such-alert/events", None),
        ("GET", "/alerts/no-such-alert/deliveries", None),
    ],
    ids=["status", "lhso", "events", "deliveries"],
)
def test_an_unknown_alert_is_404(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = client.request(method, path, json=body)

    assert response.status_code == 404
    assert "no-such-alert" in response.json()["detail"]


# --- reading the workflow ----------------------------------------------------------------


def test_alerts_are_listed_by_status_and_incident(
    client: TestClient, store: AlertStore, three_alerts: list[Alert]
) -> None:
    nox, so2, gas = three_alerts
    member = alert_at(0.25, substance="SO2")  # overlaps the NOx exceedance: joins it
    post(client, member)
    set_status(client, so2.id, "acknowledged")
    set_status(client, gas.id, "closed", outcome="confirmed_violation")

    def ids(**params: str) -> tuple[list[str], str]:
        response = client.get("/alerts", params=params)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()], response.headers["x-total-count"]

    assert ids(status="new") == ([member.id, nox.id], "2")
    assert ids(status="acknowledged") == ([so2.id], "1")
    assert ids(status="closed") == ([gas.id], "1")
    assert ids(status="forwarded") == ([], "0")
    assert ids(incident_id=nox.id) == ([member.id, nox.id], "2")
    assert ids(incident_id=nox.id, status="new", limit="1") == ([member.id], "2")
    assert ids(incident_id=gas.id, status="new") == ([], "0")
    assert client.get("/alerts", params={"status": "reopened"}).status_code == 422


def test_the_audit_trail_of_an_alert_reads_oldest_first(client: TestClient) -> None:
    alert = build_alert()
    post(client, alert)
    set_status(client, alert.id, "acknowledged", note="seen")
    set_status(client, alert.id, "closed", outcome="sensor_fault")

    response = client.get(f"/alerts/{alert.id}/events")

    assert response.status_code == 200
    events = response.json()
    assert [
        (e["action"], e["actor"], e["from_status"], e["to_status"], e["detail"]) for e in events
    ] == [
        ("stored", ANONYMOUS, None, "new", {}),
        ("status", ANONYMOUS, "new", "acknowledged", {"note": "seen"}),
        ("status", ANONYMOUS, "acknowledged", "closed", {"outcome": "sensor_fault"}),
    ]
    assert all(e["alert_id"] == alert.id and e["at"].endswith("Z") for e in events)


def test_incidents_are_listed_with_their_alerts(client: TestClient) -> None:
    first, member = alert_at(0, severity="medium"), alert_at(0.5, substance="SO2", severity="high")
    elsewhere = alert_at(2, mba_id="chemie-botlek")
    for alert in (first, member, elsewhere):
        post(client, alert)
    set_status(client, elsewhere.id, "closed", outcome="no_violation")

    every = client.get("/incidents").json()
    still_open = client.get("/incidents", params={"status": "open"}).json()
    closed = client.get("/incidents", params={"status": "closed"}).json()
    alerts = client.get(f"/incidents/{first.id}/alerts")

    assert [i["id"] for i in every] == [elsewhere.id, first.id]
    assert [i["id"] for i in still_open] == [first.id]
    assert [i["id"] for i in closed] == [elsewhere.id]
    incident = still_open[0]
    assert (incident["alert_count"], incident["severity"], incident["status"]) == (
        2,
        "high",
        "open",
    )
    assert (incident["start"], incident["end"]) == ("2025-11-22T10:00:00Z", "2025-11-22T11:00:00Z")
    assert alerts.status_code == 200
    assert [a["id"] for a in alerts.json()] == [member.id, first.id]
    assert {a["incident_id"] for a in alerts.json()} == {first.id}
    assert client.get("/incidents", params={"status": "done"}).status_code == 422


def test_the_alerts_of_an_unknown_incident_are_404(client: TestClient) -> None:
    response = client.get("/incidents/no-such-incident/alerts")

    assert response.status_code == 404
    assert "no-such-incident" in response.json()["detail"]


# --- forwarding --------------------------------------------------------------------------


def test_a_new_alert_is_queued_for_the_new_targets_and_forwarding_adds_the_others(
    forwarding: Forwarding,
) -> None:
    client = forwarding.client
    alert = build_alert()
    post(client, alert)

    queued = client.get(f"/alerts/{alert.id}/deliveries").json()
    set_status(client, alert.id, "forwarded")
    forwarded = client.get(f"/alerts/{alert.id}/deliveries").json()

    assert [(d["target"], d["status"], d["attempts"]) for d in queued] == [("hook", "pending", 0)]
    assert [(d["target"], d["status"]) for d in forwarded] == [
        ("hook", "pending"),
        ("zaken", "pending"),
    ]
    assert all(d["next_attempt_at"].endswith("Z") for d in forwarded)
    post(client, build_alert(end=T0 + timedelta(hours=2)))
    assert client.get(f"/alerts/{alert.id}/deliveries").json() == forwarded, "never again"


def test_an_alert_joining_an_incident_has_no_deliveries(forwarding: Forwarding) -> None:
    client = forwarding.client
    first, member = alert_at(0), alert_at(0.25, substance="SO2")
    post(client, first)
    post(client, member)

    assert client.get(f"/alerts/{member.id}/deliveries").json() == []
    assert len(client.get(f"/alerts/{first.id}/deliveries").json()) == 1


def test_a_failed_delivery_is_retried_on_request(forwarding: Forwarding) -> None:
    client, store = forwarding.client, forwarding.store
    alert = build_alert()
    post(client, alert)
    (claim,) = store.claim_deliveries(NO_WAIT, ["hook"])
    store.delivery_failed(claim, "410 Gone", NO_WAIT, permanent=True)
    failed = client.get(f"/alerts/{alert.id}/deliveries").json()
    assert [(d["status"], d["last_error"], d["next_attempt_at"]) for d in failed] == [
        ("failed", "410 Gone", None)
    ]

    response = client.post(f"/alerts/{alert.id}/deliveries/hook/retry")

    assert response.status_code == 200, response.text
    (hook,) = response.json()
    assert (hook["target"], hook["status"], hook["attempts"]) == ("hook", "pending", 1)
    assert hook["next_attempt_at"] is not None
    assert response.json() == client.get(f"/alerts/{alert.id}/deliveries").json()
    assert [c.alert_id for c in store.claim_deliveries(NO_WAIT, ["hook"])] == [alert.id]


@pytest.mark.parametrize(
    "path",
    [
        "/alerts/{id}/deliveries/hook/retry",  # pending, not failed
        "/alerts/{id}/deliveries/zaken/retry",  # never queued there
        "/alerts/no-such-alert/deliveries/hook/retry",
    ],
    ids=["pending", "not-queued", "unknown-alert"],
)
def test_retrying_what_did_not_fail_is_404(forwarding: Forwarding, path: str) -> None:
    alert = build_alert()
    post(forwarding.client, alert)

    response = forwarding.client.post(path.format(id=alert.id))

    assert response.status_code == 404
    detail = response.json()["detail"]
    if "no-such-alert" in path:
        assert detail == "alert no-such-alert not found"
    else:
        assert "no failed delivery" in detail


# --- the LHSO decision -------------------------------------------------------------------


def test_an_inspector_decides_on_the_lhso_suggestion(client: TestClient) -> None:
    alert = build_alert()
    suggested = post(client, alert)["lhso"]

    before = datetime.now(UTC)
    first = client.post(
        f"/alerts/{alert.id}/lhso",
        json={"consequence": 3, "behaviour": "B", "note": "twice this year", "decided_by": "x"},
    )
    after = datetime.now(UTC)
    second = client.post(f"/alerts/{alert.id}/lhso", json={"consequence": 2, "behaviour": "A"})

    assert first.status_code == 200, first.text
    decision = first.json()["lhso_decision"]
    assert (decision["consequence"], decision["behaviour"]) == (3, "B")
    assert decision["decided_by"] == ANONYMOUS, "the service says who decided"
    assert before <= datetime.fromisoformat(decision["decided_at"]) <= after
    assert first.json()["lhso"] == suggested, "the suggestion stays beside the decision"
    assert second.json()["lhso_decision"]["consequence"] == 2
    assert second.json()["lhso_decision"]["note"] is None
    assert (
        client.get(f"/alerts/{alert.id}").json()["lhso_decision"] == second.json()["lhso_decision"]
    )
    events = client.get(f"/alerts/{alert.id}/events").json()
    assert [e["action"] for e in events] == ["stored", "lhso", "lhso"]
    assert events[1]["detail"] == {"consequence": 3, "behaviour": "B", "note": "twice this year"}


@pytest.mark.parametrize(
    "body",
    [
        {"consequence": 5, "behaviour": "A"},
        {"consequence": 2, "behaviour": "E"},
        {"consequence": 2},
    ],
    ids=["consequence-5", "behaviour-E", "no-behaviour"],
)
def test_an_lhso_decision_outside_the_matrix_is_422(
    client: TestClient, body: dict[str, Any]
) -> None:
    alert = build_alert()
    post(client, alert)

    assert client.post(f"/alerts/{alert.id}/lhso", json=body).status_code == 422
    assert client.get(f"/alerts/{alert.id}").json()["lhso_decision"] is None


# --- the workflow belongs to the service -------------------------------------------------


def test_a_posted_alert_cannot_set_its_own_workflow(client: TestClient) -> None:
    alert = build_alert()
    body = alert.model_dump(mode="json") | {
        "status": "closed",
        "review": {"verdict": "true_alarm", "outcome": "confirmed_violation"},
        "incident_id": "some-other-incident",
        "lhso_decision": {"consequence": 4, "behaviour": "D"},
    }

    created = client.post("/alerts", json=body)

    assert created.status_code == 201, created.text
    data = created.json()
    assert (data["status"], data["review"], data["incident_id"], data["lhso_decision"]) == (
        "new",
        None,
        alert.id,
        None,
    )
    assert client.get("/incidents/some-other-incident/alerts").status_code == 404


def test_posting_an_alert_again_keeps_the_workflow_the_service_set(client: TestClient) -> None:
    alert = build_alert()
    post(client, alert)
    set_status(client, alert.id, "in_inspection")
    client.post(f"/alerts/{alert.id}/lhso", json={"consequence": 3, "behaviour": "B"})
    before = client.get(f"/alerts/{alert.id}").json()
    body = build_alert(end=T0 + timedelta(hours=2)).model_dump(mode="json") | {
        "status": "new",
        "review": None,
        "incident_id": None,
        "lhso_decision": None,
    }

    again = client.post("/alerts", json=body)

    assert again.status_code == 200, again.text
    data = again.json()
    assert data["end"] == "2025-11-22T12:00:00Z"
    for field in ("status", "review", "incident_id", "lhso_decision", "created_at"):
        assert data[field] == before[field], field
