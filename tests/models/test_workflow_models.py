"""The workflow's building blocks: a status change, which moves are allowed, the verdict."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from vth.models import verdict_of
from vth.models.workflow import (
    STATUS_ORDER,
    AlertEvent,
    AlertStatus,
    LhsoDecision,
    Outcome,
    StatusChange,
    can_move,
)

CET = timezone(timedelta(hours=1))


# --- StatusChange ------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["acknowledged", "forwarded", "in_inspection"])
def test_an_inspector_moves_an_alert_on_without_an_outcome(status: str) -> None:
    change = StatusChange.model_validate({"status": status, "note": "on my way"})

    assert change.status == status
    assert change.outcome is None
    assert change.note == "on my way"


@pytest.mark.parametrize("outcome", ["confirmed_violation", "no_violation", "sensor_fault"])
def test_closing_carries_what_the_inspection_found(outcome: Outcome) -> None:
    change = StatusChange(status="closed", outcome=outcome)

    assert (change.status, change.outcome, change.note) == ("closed", outcome, None)


def test_closing_without_an_outcome_is_refused() -> None:
    with pytest.raises(ValidationError, match="closing an alert needs an outcome"):
        StatusChange.model_validate({"status": "closed"})


@pytest.mark.parametrize("status", ["acknowledged", "forwarded", "in_inspection"])
def test_an_outcome_before_closing_is_refused(status: str) -> None:
    with pytest.raises(ValidationError, match="only when closing"):
        StatusChange.model_validate({"status": status, "outcome": "no_violation"})


@pytest.mark.parametrize(
    "body",
    [
        {"status": "new"},
        {"status": "reopened"},
        {"status": "CLOSED", "outcome": "no_violation"},
        {"status": "closed", "outcome": "maybe"},
        {},
        {"status": "acknowledged", "note": "x" * 4001},
        {"status": "acknowledged", "inspector": "j.devries"},
    ],
    ids=["back-to-new", "unknown", "case", "unknown-outcome", "empty", "long-note", "extra"],
)
def test_an_invalid_status_change_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        StatusChange.model_validate(body)


def test_a_status_change_cannot_be_altered() -> None:
    change = StatusChange(status="acknowledged")

    with pytest.raises(ValidationError):
        change.status = "closed"  # type: ignore[misc]


# --- can_move ----------------------------------------------------------------------------


def test_the_statuses_run_from_new_to_closed() -> None:
    assert STATUS_ORDER == ("new", "acknowledged", "forwarded", "in_inspection", "closed")


@pytest.mark.parametrize(
    ("current", "wanted"), list(itertools.combinations(STATUS_ORDER, 2)), ids=str
)
def test_every_move_forward_is_allowed_also_skipping_steps(
    current: AlertStatus, wanted: AlertStatus
) -> None:
    assert can_move(current, wanted)


@pytest.mark.parametrize(
    ("current", "wanted"),
    [(b, a) for a, b in itertools.combinations(STATUS_ORDER, 2)] + [(s, s) for s in STATUS_ORDER],
    ids=str,
)
def test_moving_back_or_staying_put_is_not_allowed(
    current: AlertStatus, wanted: AlertStatus
) -> None:
    assert not can_move(current, wanted)


def test_nothing_moves_on_from_closed() -> None:
    assert not any(can_move("closed", wanted) for wanted in STATUS_ORDER)


# --- verdict_of --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "kind", "verdict"),
    [
        ("confirmed_violation", "exceedance", "true_alarm"),
        ("confirmed_violation", "gas_incident", "true_alarm"),
        ("confirmed_violation", "sensor_fault", "true_alarm"),
        ("no_violation", "exceedance", "false_alarm"),
        ("no_violation", "sensor_fault", "false_alarm"),
        ("sensor_fault", "exceedance", "false_alarm"),
        ("sensor_fault", "methane_plume", "false_alarm"),
        ("sensor_fault", "sensor_fault", "true_alarm"),
    ],
)
def test_the_verdict_follows_from_the_outcome_and_the_kind_of_alert(
    outcome: Outcome, kind: str, verdict: str
) -> None:
    assert verdict_of(outcome, kind) == verdict


# --- decisions and events ----------------------------------------------------------------


def test_an_lhso_decision_stays_within_the_matrix() -> None:
    decision = LhsoDecision(consequence=3, behaviour="B")
    assert (decision.decided_by, decision.decided_at) == (None, None)
    for bad in ({"consequence": 0, "behaviour": "A"}, {"consequence": 5, "behaviour": "A"}):
        with pytest.raises(ValidationError):
            LhsoDecision.model_validate(bad)
    with pytest.raises(ValidationError):
        LhsoDecision.model_validate({"consequence": 2, "behaviour": "E"})


def test_decision_and_event_times_read_as_utc() -> None:
    at = datetime(2025, 11, 23, 10, 0, tzinfo=CET)

    decision = LhsoDecision(consequence=2, behaviour="A", decided_at=at)
    event = AlertEvent(alert_id="a", at=at, actor="j.devries", action="status")

    assert decision.decided_at == event.at == datetime(2025, 11, 23, 9, 0, tzinfo=UTC)
    assert decision.decided_at is not None and decision.decided_at.utcoffset() == timedelta(0)
    assert event.at.tzinfo == UTC
