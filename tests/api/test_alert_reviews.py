"""Closing an alert with an outcome gives it a review: a verdict that labels it for tuning."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import T0
from vth.api.store import AlertFilter, AlertStore
from vth.api.workflow import WorkflowError
from vth.detectors.tuning.labels import labels_from_alerts
from vth.models import Alert, AlertReview
from vth.models.workflow import LhsoDecision, Outcome, StatusChange

AlertFactory = Callable[..., Alert]


def close(
    store: AlertStore,
    alert: Alert,
    outcome: Outcome = "no_violation",
    actor: str = "j.devries",
    note: str | None = None,
) -> Alert:
    change = StatusChange(status="closed", outcome=outcome, note=note)
    closed = store.change_status(alert.id, change, actor)
    assert closed is not None
    return closed


# --- the store ---------------------------------------------------------------------------


def test_closing_an_alert_records_the_review(store: AlertStore, make_alert: AlertFactory) -> None:
    alert = make_alert()
    store.upsert(alert)

    before = datetime.now(UTC)
    closed = close(store, alert, "no_violation", "j.devries", "calibration run of the analyser")
    after = datetime.now(UTC)

    review = closed.review
    assert review is not None
    assert (review.verdict, review.outcome) == ("false_alarm", "no_violation")
    assert (review.inspector, review.note) == ("j.devries", "calibration run of the analyser")
    assert before <= review.closed_at <= after
    assert review.closed_at.utcoffset() == timedelta(0)
    assert closed.status == "closed"
    assert closed.model_dump(exclude={"review", "status"}) == store.list()[0].model_dump(
        exclude={"review", "status"}
    )
    assert store.get(alert.id) == closed
    assert store.count() == 1


@pytest.mark.parametrize(
    ("kind", "detector", "outcome", "verdict"),
    [
        ("exceedance", "compliance", "confirmed_violation", "true_alarm"),
        ("exceedance", "compliance", "no_violation", "false_alarm"),
        ("exceedance", "compliance", "sensor_fault", "false_alarm"),
        ("sensor_fault", "quality", "sensor_fault", "true_alarm"),
        ("sensor_fault", "quality", "no_violation", "false_alarm"),
    ],
)
def test_the_verdict_follows_from_the_outcome_and_the_kind(
    store: AlertStore,
    make_alert: AlertFactory,
    kind: str,
    detector: str,
    outcome: Outcome,
    verdict: str,
) -> None:
    alert = make_alert(kind=kind, detector=detector)
    store.upsert(alert)

    review = close(store, alert, outcome).review

    assert review is not None and (review.verdict, review.outcome) == (verdict, outcome)


def test_closing_an_unknown_alert_gives_none_and_stores_nothing(store: AlertStore) -> None:
    change = StatusChange(status="closed", outcome="no_violation")

    assert store.change_status("no-such-alert", change, "j.devries") is None
    assert store.count() == 0


def test_a_closed_alert_keeps_its_first_review(store: AlertStore, make_alert: AlertFactory) -> None:
    alert = make_alert()
    store.upsert(alert)
    review = close(store, alert, "no_violation").review

    with pytest.raises(WorkflowError, match="closed"):
        close(store, alert, "confirmed_violation", actor="a.bakker")

    stored = store.get(alert.id)
    assert stored is not None and stored.review == review


def test_storing_the_alert_again_when_it_grew_keeps_the_review_and_status(
    store: AlertStore, make_alert: AlertFactory
) -> None:
    first = make_alert()
    store.upsert(first)
    review = close(store, first, "confirmed_violation").review
    grown = make_alert(end=T0 + timedelta(hours=3), value=700.0, severity="high")
    assert grown.id == first.id and grown.review is None and grown.status == "new"

    assert store.upsert(grown) is False
    assert store.upsert_many([grown]) == 0

    stored = store.get(first.id)
    assert stored is not None
    assert (stored.review, stored.status) == (review, "closed")
    assert (stored.end, stored.value, stored.severity) == (grown.end, 700.0, "high")
    assert stored.created_at == first.created_at
    assert store.count(AlertFilter(reviewed=True)) == 1


def test_a_review_or_status_carried_in_a_stored_alert_is_ignored(
    store: AlertStore, make_alert: AlertFactory
) -> None:
    carried = {
        "review": AlertReview(verdict="true_alarm", inspector="the detector"),
        "status": "closed",
        "incident_id": "made-up",
        "lhso_decision": LhsoDecision(consequence=4, behaviour="D"),
    }
    new = make_alert().model_copy(update=carried)

    assert store.upsert(new) is True
    stored = store.get(new.id)
    assert stored is not None
    assert (stored.review, stored.status, stored.incident_id, stored.lhso_decision) == (
        None,
        "new",
        new.id,
        None,
    )

    review = close(store, new).review
    assert store.upsert(new) is False
    again = store.get(new.id)
    assert again is not None
    assert (again.review, again.status, again.incident_id) == (review, "closed", new.id)
    assert store.count(AlertFilter(status="new")) == 0


def test_reviewed_filter_in_list_and_count(store: AlertStore, three_alerts: list[Alert]) -> None:
    nox, so2, gas = three_alerts
    close(store, nox, "no_violation")
    close(store, gas, "confirmed_violation")
    store.change_status(so2.id, StatusChange(status="in_inspection"), "j.devries")

    closed = store.list(AlertFilter(reviewed=True))
    still_open = store.list(AlertFilter(reviewed=False))

    assert [a.id for a in closed] == [gas.id, nox.id]
    assert [a.review.verdict for a in closed if a.review] == ["true_alarm", "false_alarm"]
    assert [a.id for a in still_open] == [so2.id]
    assert still_open[0].review is None, "in inspection is not reviewed yet"
    assert store.count(AlertFilter(reviewed=True)) == 2
    assert store.count(AlertFilter(reviewed=False)) == 1
    assert store.count(AlertFilter(reviewed=None)) == 3
    assert store.count(AlertFilter(mba_id="avi-rozenburg", reviewed=True)) == 1
    assert [a.id for a in store.list(AlertFilter(mba_id="avi-rozenburg", reviewed=False))] == [
        so2.id
    ]


def test_closed_alerts_become_labels_for_tuning(
    store: AlertStore, three_alerts: list[Alert]
) -> None:
    nox, _so2, gas = three_alerts
    close(store, nox, "no_violation", note="calibration")
    close(store, gas, "confirmed_violation", actor="a.bakker")

    labels = labels_from_alerts(store.list(AlertFilter(reviewed=True)))

    assert [(label.mba_id, label.kind, label.truth) for label in labels] == [
        ("avi-rozenburg", "exceedance", False),
        ("chemie-botlek", "gas_incident", True),
    ]
    assert labels[0].note == f"alert {nox.id} closed as false_alarm by j.devries: calibration"
    assert labels[1].note == f"alert {gas.id} closed as true_alarm by a.bakker"


def test_the_review_survives_reopening_a_file_database(
    tmp_path: Path, make_alert: AlertFactory
) -> None:
    url = f"sqlite:///{tmp_path / 'vth.db'}"
    alert = make_alert()
    with AlertStore(url) as store:
        store.upsert(alert)
        review = close(store, alert).review
    with AlertStore(url) as store:
        got = store.get(alert.id)
        assert got is not None and got.review == review and got.status == "closed"
        assert store.count(AlertFilter(reviewed=True)) == 1


# --- the deprecated API: POST /alerts/{id}/review ----------------------------------------


def test_post_review_closes_the_alert(
    client: TestClient, store: AlertStore, make_alert: AlertFactory
) -> None:
    alert = make_alert()
    store.upsert(alert)
    body = {"verdict": "false_alarm", "inspector": "j.devries", "note": "calibration"}

    before = datetime.now(UTC)
    response = client.post(f"/alerts/{alert.id}/review", json=body)
    after = datetime.now(UTC)

    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["id"], data["status"]) == (alert.id, "closed")
    assert data["review"]["verdict"] == "false_alarm"
    assert data["review"]["outcome"] == "no_violation"
    assert data["review"]["inspector"] == "anonymous", "who closed it, not who the body names"
    assert data["review"]["note"] == "calibration"
    assert data["review"]["closed_at"].endswith("Z")
    closed = Alert.model_validate(data)
    assert closed.review is not None
    assert before <= closed.review.closed_at <= after
    assert client.get(f"/alerts/{alert.id}").json() == data
    events = client.get(f"/alerts/{alert.id}/events").json()
    assert (events[-1]["from_status"], events[-1]["to_status"]) == ("new", "closed")


@pytest.mark.parametrize(
    ("body", "outcome", "verdict"),
    [
        ({"verdict": "true_alarm"}, "confirmed_violation", "true_alarm"),
        ({"verdict": "false_alarm"}, "no_violation", "false_alarm"),
        ({"verdict": "false_alarm", "outcome": "sensor_fault"}, "sensor_fault", "false_alarm"),
        (
            {"verdict": "false_alarm", "outcome": "confirmed_violation"},
            "confirmed_violation",
            "true_alarm",
        ),
    ],
    ids=["true-alarm", "false-alarm", "outcome-given", "outcome-wins"],
)
def test_post_review_maps_the_verdict_to_an_outcome(
    client: TestClient,
    store: AlertStore,
    make_alert: AlertFactory,
    body: dict[str, str],
    outcome: str,
    verdict: str,
) -> None:
    alert = make_alert()
    store.upsert(alert)

    response = client.post(f"/alerts/{alert.id}/review", json=body)

    assert response.status_code == 200, response.text
    review = response.json()["review"]
    assert (review["outcome"], review["verdict"]) == (outcome, verdict)


def test_post_review_ignores_the_closing_time_in_the_body(
    client: TestClient, store: AlertStore, make_alert: AlertFactory
) -> None:
    alert = make_alert()
    store.upsert(alert)

    response = client.post(
        f"/alerts/{alert.id}/review",
        json={"verdict": "true_alarm", "closed_at": "2025-11-23T10:00:00+01:00"},
    )

    assert response.status_code == 200, response.text
    closed_at = datetime.fromisoformat(response.json()["review"]["closed_at"])
    assert closed_at.utcoffset() == timedelta(0)
    assert datetime.now(UTC) - closed_at < timedelta(minutes=1), "closed now"


def test_a_second_review_is_409_and_keeps_the_first(
    client: TestClient, store: AlertStore, make_alert: AlertFactory
) -> None:
    alert = make_alert()
    store.upsert(alert)
    first = client.post(f"/alerts/{alert.id}/review", json={"verdict": "true_alarm"})
    assert first.status_code == 200

    second = client.post(f"/alerts/{alert.id}/review", json={"verdict": "false_alarm"})

    assert second.status_code == 409
    assert second.json()["error"] == "WorkflowError"
    assert "closed" in second.json()["detail"]
    assert client.get(f"/alerts/{alert.id}").json()["review"] == first.json()["review"]


def test_post_review_of_an_unknown_alert_is_404(client: TestClient, store: AlertStore) -> None:
    response = client.post("/alerts/no-such-alert/review", json={"verdict": "true_alarm"})

    assert response.status_code == 404
    assert "no-such-alert" in response.json()["detail"]
    assert store.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"verdict": "maybe"},
        {"verdict": "TRUE_ALARM"},
        {},
        {"verdict": "true_alarm", "outcome": "perhaps"},
        {"verdict": "true_alarm", "closed_at": "2025-11-23T09:00:00"},
        {"verdict": "true_alarm", "closed_at": "yesterday"},
        {"verdict": "true_alarm", "inspector": "x" * 201},
    ],
    ids=[
        "unknown-verdict",
        "verdict-case",
        "no-verdict",
        "bad-outcome",
        "naive-closed-at",
        "bad-time",
        "long",
    ],
)
def test_an_invalid_review_is_422_and_changes_nothing(
    client: TestClient, store: AlertStore, make_alert: AlertFactory, body: dict[str, object]
) -> None:
    alert = make_alert()
    store.upsert(alert)

    response = client.post(f"/alerts/{alert.id}/review", json=body)

    assert response.status_code == 422, response.text
    stored = store.get(alert.id)
    assert stored is not None and stored.review is None and stored.status == "new"


def test_the_review_endpoint_is_marked_deprecated(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/alerts/{alert_id}/review"]["post"]

    assert operation["deprecated"] is True


def test_a_detector_posting_the_grown_alert_keeps_the_review(
    client: TestClient, make_alert: AlertFactory
) -> None:
    first = make_alert()
    client.post("/alerts", json=first.model_dump(mode="json"))
    closed = client.post(f"/alerts/{first.id}/review", json={"verdict": "true_alarm"})
    assert closed.status_code == 200

    grown = make_alert(end=T0 + timedelta(hours=2), value=612.0)
    again = client.post("/alerts", json=grown.model_dump(mode="json"))

    assert again.status_code == 200
    assert again.json()["review"] == closed.json()["review"]
    assert again.json()["status"] == "closed"
    assert again.json()["end"] == "2025-11-22T12:00:00Z"


def test_list_filters_by_reviewed_with_matching_total_count(
    client: TestClient, three_alerts: list[Alert]
) -> None:
    nox, so2, gas = three_alerts
    for alert, verdict in ((nox, "false_alarm"), (gas, "true_alarm")):
        response = client.post(f"/alerts/{alert.id}/review", json={"verdict": verdict})
        assert response.status_code == 200

    closed = client.get("/alerts", params={"reviewed": "true"})
    still_open = client.get("/alerts", params={"reviewed": "false"})
    every = client.get("/alerts")
    avi_closed = client.get("/alerts", params={"reviewed": "true", "mba_id": "avi-rozenburg"})
    page = client.get("/alerts", params={"reviewed": "true", "limit": 1})

    assert [a["id"] for a in closed.json()] == [gas.id, nox.id]
    assert [a["review"]["verdict"] for a in closed.json()] == ["true_alarm", "false_alarm"]
    assert closed.headers["x-total-count"] == "2"
    assert [a["id"] for a in still_open.json()] == [so2.id]
    assert still_open.json()[0]["review"] is None
    assert still_open.headers["x-total-count"] == "1"
    assert every.headers["x-total-count"] == "3"
    assert [a["id"] for a in avi_closed.json()] == [nox.id]
    assert avi_closed.headers["x-total-count"] == "1"
    assert [a["id"] for a in page.json()] == [gas.id]
    assert page.headers["x-total-count"] == "2"


def test_reviewed_must_be_a_boolean(client: TestClient) -> None:
    assert client.get("/alerts", params={"reviewed": "perhaps"}).status_code == 422


def test_a_review_or_status_in_a_posted_alert_is_ignored_and_the_stored_one_kept(
    client: TestClient, make_alert: AlertFactory
) -> None:
    alert = make_alert()
    sneaky = alert.model_copy(
        update={"review": AlertReview(verdict="false_alarm"), "status": "closed"}
    ).model_dump(mode="json")

    assert client.post("/alerts", json=sneaky).status_code == 201
    posted = client.get(f"/alerts/{alert.id}").json()
    assert (posted["review"], posted["status"]) == (None, "new")

    client.post(f"/alerts/{alert.id}/review", json={"verdict": "true_alarm"})
    assert client.post("/alerts", json=sneaky).status_code == 200
    kept = client.get(f"/alerts/{alert.id}").json()
    assert (kept["review"]["verdict"], kept["status"]) == ("true_alarm", "closed")
