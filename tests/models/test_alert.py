"""A detection becomes an alert with a stable id, UTC times and an advisory LHSO suggestion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from vth.models import Alert, Detection, suggest_lhso

START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def nox_detection(**changes: Any) -> Detection:
    fields: dict[str, Any] = {
        "detector": "exceedance",
        "kind": "exceedance",
        "mba_id": "avi-rozenburg",
        "source_id": "line-1",
        "sensor_id": "cems-l1",
        "substance": "NOx",
        "start": START,
        "end": START + timedelta(minutes=90),
        "value": 460.0,
        "limit": 400.0,
        "unit": "mg/m3",
        "lat": 51.9051,
        "lon": 4.2449,
        "severity": "medium",
        "evidence": {"windows": [{"start": "2026-01-05T10:00:00+00:00"}]},
    }
    fields.update(changes)
    return Detection(**fields)


def test_the_same_event_detected_twice_gets_the_same_alert_id():
    first = Alert.from_detection(nox_detection())
    again = Alert.from_detection(nox_detection(value=470.0, end=START + timedelta(hours=2)))

    assert first.id == again.id
    assert len(first.id) == 36  # a UUID


def test_an_event_starting_half_an_hour_later_gets_another_alert_id():
    first = Alert.from_detection(nox_detection())
    later = Alert.from_detection(
        nox_detection(start=START + timedelta(minutes=30), end=START + timedelta(hours=2))
    )

    assert first.id != later.id


@pytest.mark.parametrize(
    "change",
    [{"source_id": "line-2"}, {"substance": "SO2"}, {"mba_id": "chemie-botlek"}],
)
def test_another_source_substance_or_mba_gets_another_alert_id(change: dict[str, Any]):
    assert (
        Alert.from_detection(nox_detection()).id != Alert.from_detection(nox_detection(**change)).id
    )


def test_the_same_instant_in_dutch_summer_time_gives_the_same_id_and_utc_times():
    cest = timezone(timedelta(hours=2))
    local = nox_detection(
        start=START.astimezone(cest), end=(START + timedelta(minutes=90)).astimezone(cest)
    )

    alert = Alert.from_detection(local)

    assert alert.id == Alert.from_detection(nox_detection()).id
    assert alert.start == START
    assert alert.start.utcoffset() == timedelta(0)


def test_the_alert_carries_the_detection_and_an_lhso_suggestion():
    alert = Alert.from_detection(nox_detection())

    assert (alert.mba_id, alert.source_id, alert.sensor_id) == (
        "avi-rozenburg",
        "line-1",
        "cems-l1",
    )
    assert (alert.value, alert.limit, alert.unit) == (460.0, 400.0, "mg/m3")
    assert (alert.lat, alert.lon) == (51.9051, 4.2449)
    assert alert.evidence == {"windows": [{"start": "2026-01-05T10:00:00+00:00"}]}
    assert alert.lhso == suggest_lhso(460 / 400, 5400, "NOx")
    assert alert.lhso.behaviour == "unknown"


def alert_fields(**changes: Any) -> dict[str, Any]:
    fields = Alert.from_detection(nox_detection()).model_dump()
    fields.update(changes)
    return fields


def test_an_alert_without_a_time_zone_is_rejected():
    with pytest.raises(ValidationError, match="timezone"):
        Alert(**alert_fields(start=datetime(2026, 1, 5, 10, 0)))


def test_an_alert_ending_before_it_starts_is_rejected():
    with pytest.raises(ValidationError, match="end is before start"):
        Alert(**alert_fields(end=START - timedelta(seconds=1)))


def test_an_instant_alert_with_end_equal_to_start_is_fine():
    assert Alert(**alert_fields(end=START)).end == START


def test_an_alert_round_trips_through_json():
    alert = Alert.from_detection(nox_detection())

    assert Alert.model_validate_json(alert.model_dump_json()) == alert
