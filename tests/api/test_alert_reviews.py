"""Inspectors close alerts with a verdict; the store keeps it and the API records it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Column, MetaData, Table, create_engine, insert, inspect

from vth.api.store import AlertFilter, AlertRow, AlertStore
from vth.models import Alert, AlertReview

AlertFactory = Callable[..., Alert]
T0 = datetime(2025, 11, 22, 10, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def false_alarm(**overrides: object) -> AlertReview:
    fields: dict[str, object] = {
        "verdict": "false_alarm",
        "closed_at": datetime(2025, 11, 23, 9, 0, tzinfo=UTC),
        "inspector": "j.devries",
        "note": "calibration run of the analyser",
    }
    fields.update(overrides)
    return AlertReview.model_validate(fields)


# --- the store ---------------------------------------------------------------------------


def test_review_returns_the_alert_with_its_verdict(
    store: AlertStore, make_alert: AlertFactory
) -> None:
    alert = make_alert()
    store.upsert(alert)
    review = false_alarm()

    reviewed = store.review(alert.id, review)

    assert reviewed is not None
    assert reviewed.review == review
    assert reviewed.model_dump(exclude={"review"}) == alert.model_dump(exclude={"review"})
    assert store.count() == 1


def test_review_of_an_unknown_alert_is_none_and_stores_nothing(store: AlertStore) -> None:
    assert store.review("no-such-alert", false_alarm()) is None
    assert store.count() == 0


def test_a_later_review_replaces_the_earlier_one(
    store: AlertStore, make_alert: AlertFactory
) -> None:
    alert = make_alert()
    store.upsert(alert)
    store.review(alert.id, false_alarm())
    second = AlertReview(
        verdict="true_alarm", closed_at=datetime(2025, 11, 24, 8, 0, tzinfo=UTC), inspector="b"
    )

    reviewed = store.review(alert.id, second)

    assert reviewed is not None and reviewed.review == second
    stored = store.get(alert.id)
    assert stored is not None and stored.review == second
    assert stored.review.note is None


def test_storing_the_alert_again_when_it_grew_keeps_the_review(
    store: AlertStore, make_alert: AlertFactory
) -> None:
    first = make_alert()
    store.upsert(first)
    review = false_alarm()
    store.review(first.id, review)
    grown = make_alert(end=T0 + timedelta(hours=3), value=700.0, severity="high")
    assert grown.id == first.id and grown.review is None

    assert store.upsert(grown) is False
    assert store.upsert_many([grown]) == 0

    stored = store.get(first.id)
    assert stored is not None
    assert stored.review == review
    assert (stored.end, stored.value, stored.severity) == (grown.end, 700.0, "high")
    assert stored.created_at == first.created_at
    assert store.count(AlertFilter(reviewed=True)) == 1


def test_storing_an_alert_that_carries_a_review_sets_it(
    store: AlertStore, make_alert: AlertFactory
) -> None:
    review = false_alarm()
    new = make_alert().model_copy(update={"review": review})
    assert store.upsert(new) is True
    stored = store.get(new.id)
    assert stored is not None and stored.review == review

    other = make_alert(substance="SO2")
    store.upsert(other)
    true_alarm = AlertReview(verdict="true_alarm", closed_at=T0 + timedelta(days=1))
    assert store.upsert(other.model_copy(update={"review": true_alarm})) is False
    stored_other = store.get(other.id)
    assert stored_other is not None and stored_other.review == true_alarm


def test_reviewed_filter_in_list_and_count(store: AlertStore, three_alerts: list[Alert]) -> None:
    nox, so2, gas = three_alerts
    store.review(nox.id, false_alarm())
    store.review(gas.id, AlertReview(verdict="true_alarm"))

    closed = store.list(AlertFilter(reviewed=True))
    still_open = store.list(AlertFilter(reviewed=False))

    assert [a.id for a in closed] == [gas.id, nox.id]
    assert all(a.review is not None for a in closed)
    assert [a.id for a in still_open] == [so2.id]
    assert still_open[0].review is None
    assert store.count(AlertFilter(reviewed=True)) == 2
    assert store.count(AlertFilter(reviewed=False)) == 1
    assert store.count(AlertFilter(reviewed=None)) == 3
    assert store.count(AlertFilter(mba_id="avi-rozenburg", reviewed=True)) == 1
    assert [a.id for a in store.list(AlertFilter(mba_id="avi-rozenburg", reviewed=False))] == [
        so2.id
    ]


def test_the_review_reads_back_with_an_aware_utc_closed_at(
    store: AlertStore, make_alert: AlertFactory
) -> None:
    alert = make_alert()
    store.upsert(alert)
    store.review(alert.id, false_alarm(closed_at=datetime(2025, 11, 23, 10, 0, tzinfo=CET)))

    got = store.get(alert.id)
    listed = store.list()

    assert got is not None and got.review is not None
    assert listed[0].review == got.review
    closed_at = got.review.closed_at
    assert closed_at == datetime(2025, 11, 23, 9, 0, tzinfo=UTC)
    assert closed_at.utcoffset() == timedelta(0)
    assert got.review.verdict == "false_alarm"
    assert got.review.inspector == "j.devries"
    assert got.review.note == "calibration run of the analyser"


def test_the_review_survives_reopening_a_file_database(
    tmp_path: Path, make_alert: AlertFactory
) -> None:
    url = f"sqlite:///{tmp_path / 'vth.db'}"
    alert = make_alert()
    with AlertStore(url) as store:
        store.upsert(alert)
        store.review(alert.id, false_alarm())
    with AlertStore(url) as store:
        got = store.get(alert.id)
        assert got is not None and got.review == false_alarm()
        assert store.count(AlertFilter(reviewed=True)) == 1


# --- migration of a database an older version created -------------------------------------


def old_alerts_table(metadata: MetaData) -> Table:
    """The alerts table as versions before reviews created it: every column but review."""
    return Table(
        AlertRow.__tablename__,
        metadata,
        *(
            Column(c.name, c.type, primary_key=c.primary_key)
            for c in AlertRow.__table__.columns
            if c.name != "review"
        ),
    )


def test_opening_an_old_database_adds_the_review_column(
    tmp_path: Path, make_alert: AlertFactory
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    alert = make_alert()
    engine = create_engine(url)
    try:
        metadata = MetaData()
        table = old_alerts_table(metadata)
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                insert(table).values(
                    id=alert.id,
                    mba_id=alert.mba_id,
                    source_id=alert.source_id,
                    sensor_id=alert.sensor_id,
                    detector=alert.detector,
                    kind=alert.kind,
                    substance=alert.substance,
                    start=alert.start,
                    end=alert.end,
                    value=alert.value,
                    limit=alert.limit,
                    unit=alert.unit,
                    severity=alert.severity,
                    created_at=alert.created_at,
                    updated_at=alert.created_at,
                    body=alert.model_dump(mode="json", exclude={"review"}),
                )
            )
        assert "review" not in {c["name"] for c in inspect(engine).get_columns("alerts")}
    finally:
        engine.dispose()

    with AlertStore(url) as store:
        columns = {c["name"] for c in inspect(store.engine).get_columns("alerts")}
        assert "review" in columns

        old = store.get(alert.id)
        assert old == alert
        assert old is not None and old.review is None
        assert store.count(AlertFilter(reviewed=False)) == 1
        assert store.count(AlertFilter(reviewed=True)) == 0

        reviewed = store.review(alert.id, false_alarm())
        assert reviewed is not None and reviewed.review == false_alarm()
        assert [a.id for a in store.list(AlertFilter(reviewed=True))] == [alert.id]

    with AlertStore(url) as again:  # opening a migrated database adds nothing twice
        got = again.get(alert.id)
        assert got is not None and got.review == false_alarm()


# --- the API -----------------------------------------------------------------------------


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
    assert data["id"] == alert.id
    assert data["review"]["verdict"] == "false_alarm"
    assert data["review"]["inspector"] == "j.devries"
    assert data["review"]["note"] == "calibration"
    assert data["review"]["closed_at"].endswith("Z")
    closed = Alert.model_validate(data)
    assert closed.review is not None
    assert before - timedelta(seconds=1) <= closed.review.closed_at <= after + timedelta(seconds=1)

    got = client.get(f"/alerts/{alert.id}").json()
    assert got["review"] == data["review"]
    stored = store.get(alert.id)
    assert stored is not None and stored.review == closed.review


def test_post_review_with_closed_at_in_another_zone_reads_back_in_utc(
    client: TestClient, store: AlertStore, make_alert: AlertFactory
) -> None:
    alert = make_alert()
    store.upsert(alert)

    response = client.post(
        f"/alerts/{alert.id}/review",
        json={"verdict": "true_alarm", "closed_at": "2025-11-23T10:00:00+01:00"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["review"] == {
        "verdict": "true_alarm",
        "closed_at": "2025-11-23T09:00:00Z",
        "inspector": None,
        "note": None,
    }


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
        {"verdict": "true_alarm", "closed_at": "2025-11-23T09:00:00"},
        {"verdict": "true_alarm", "closed_at": "yesterday"},
        {"verdict": "true_alarm", "inspector": "x" * 201},
    ],
    ids=["unknown-verdict", "verdict-case", "no-verdict", "naive-closed-at", "bad-time", "long"],
)
def test_an_invalid_review_is_422_and_changes_nothing(
    client: TestClient, store: AlertStore, make_alert: AlertFactory, body: dict[str, object]
) -> None:
    alert = make_alert()
    store.upsert(alert)

    response = client.post(f"/alerts/{alert.id}/review", json=body)

    assert response.status_code == 422, response.text
    stored = store.get(alert.id)
    assert stored is not None and stored.review is None


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


def test_a_review_in_a_posted_alert_is_ignored_and_the_stored_one_kept(
    client: TestClient, store: AlertStore, make_alert: AlertFactory
) -> None:
    alert = make_alert()
    sneaky = alert.model_copy(update={"review": false_alarm()}).model_dump(mode="json")
    assert client.post("/alerts", json=sneaky).status_code == 201
    assert client.get(f"/alerts/{alert.id}").json()["review"] is None
    client.post(f"/alerts/{alert.id}/review", json={"verdict": "true_alarm"})
    assert client.post("/alerts", json=sneaky).status_code == 200
    assert client.get(f"/alerts/{alert.id}").json()["review"]["verdict"] == "true_alarm"
