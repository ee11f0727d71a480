"""Event-level metrics on hand-made labels and detections, numbers worked out by hand.

All times are hours after ``T0`` (2026-03-02 00:00 UTC); ``at(10)`` is 10:00.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vth.detectors.tuning.labels import Label
from vth.detectors.tuning.metrics import (
    METRIC_COLUMNS,
    EventMetrics,
    MatchOptions,
    event_metrics,
)
from vth.models.detection import Detection

T0 = datetime(2026, 3, 2, tzinfo=UTC)
HOUR = 3600.0
MONTH_DAYS = 30.436875
#: One day: 1 / 30.436875 months.
DAY_SPAN = (T0, T0 + timedelta(days=1))


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def det(
    start: float,
    end: float,
    *,
    mba: str = "A",
    sensor: str | None = "s1",
    kind: str = "peak",
) -> Detection:
    return Detection.model_validate(
        {
            "detector": "test",
            "kind": kind,
            "mba_id": mba,
            "sensor_id": sensor,
            "start": at(start),
            "end": at(end),
        }
    )


def lab(
    start: float,
    end: float,
    *,
    mba: str | None = "A",
    sensor: str | None = None,
    kind: str | None = None,
    truth: bool = True,
) -> Label:
    return Label(mba_id=mba, sensor=sensor, start=at(start), end=at(end), kind=kind, truth=truth)


def score(
    detections: list[Detection],
    labels: list[Label],
    *,
    sensors: int = 1,
    span: tuple[datetime, datetime] = DAY_SPAN,
    early: float = 0.0,
    late: float = 0.0,
) -> EventMetrics:
    options = MatchOptions(early=timedelta(hours=early), late=timedelta(hours=late))
    return event_metrics(detections, labels, sensors=sensors, span=span, options=options)


# --- matching ----------------------------------------------------------------------------


def test_exact_overlap_is_a_perfect_score() -> None:
    # label A 10-12, detection A/s1 10-12: caught at its start.
    m = score([det(10, 12)], [lab(10, 12)])
    assert (m.labels, m.detected, m.detections, m.true_detections) == (1, 1, 1, 1)
    assert (m.false_alarms, m.confirmed_false_alarms) == (0, 0)
    assert m.precision == 1.0 and m.recall == 1.0 and m.f1 == 1.0
    # ttd = 10:00 - 10:00 = 0; early_score 1 (first detection at the label's start)
    assert m.time_to_detect_median_s == 0.0 and m.time_to_detect_mean_s == 0.0
    assert m.early_score == 1.0
    assert m.false_alarms_per_sensor_month == 0.0
    assert m.false_alarms_by_sensor == {}
    assert m.per_label["detected"].tolist() == [True]
    assert m.per_detection["matched"].tolist() == [True]


def test_one_detection_overlapping_two_labels_detects_both_and_counts_once() -> None:
    # labels 10-12 and 13-15; one detection 11-14 overlaps both.
    m = score([det(11, 14)], [lab(10, 12), lab(13, 15)])
    assert (m.labels, m.detected) == (2, 2)
    assert (m.detections, m.true_detections, m.false_alarms) == (1, 1, 0)
    assert m.precision == 1.0 and m.recall == 1.0
    # ttd: 11-10 = +1h, 11-13 = -2h -> median = mean = -0.5h = -1800 s
    assert m.per_label["time_to_detect_s"].tolist() == [HOUR, -2 * HOUR]
    assert m.time_to_detect_median_s == -1800.0
    assert m.time_to_detect_mean_s == -1800.0
    # early: label 1: 1 - 1h/2h = 0.5; label 2: detection before its start -> 1; mean 0.75
    assert m.per_label["early_score"].tolist() == [0.5, 1.0]
    assert m.early_score == 0.75


def test_two_detections_of_one_label_count_it_once_from_the_first() -> None:
    # label 10-14; detections 13-15 and 11-12 (given out of order): first is 11:00.
    m = score([det(13, 15), det(11, 12)], [lab(10, 14)])
    assert (m.labels, m.detected) == (1, 1)
    assert (m.detections, m.true_detections, m.false_alarms) == (2, 2, 0)
    assert m.precision == 1.0 and m.recall == 1.0
    assert len(m.per_label) == 1
    # ttd = 11 - 10 = 1h; early = 1 - 1h/4h = 0.75
    assert m.time_to_detect_median_s == HOUR
    assert m.time_to_detect_mean_s == HOUR
    assert m.early_score == 0.75


def test_median_and_mean_time_to_detect_differ() -> None:
    # labels 0-2, 10-12, 20-24; detections 0-1, 11-12, 23-24 (one per label)
    m = score([det(0, 1), det(11, 12), det(23, 24)], [lab(0, 2), lab(10, 12), lab(20, 24)])
    # ttd 0, 1h, 3h -> median 1h = 3600 s, mean 4h/3 = 4800 s
    assert m.time_to_detect_median_s == 3600.0
    assert m.time_to_detect_mean_s == pytest.approx(4800.0)
    # early: 1, 1 - 1/2 = 0.5, 1 - 3/4 = 0.25 -> mean 1.75/3
    assert m.early_score == pytest.approx(1.75 / 3)


def test_early_detection_counts_only_with_early_tolerance() -> None:
    labels = [lab(10, 12)]
    detections = [det(8, 9)]  # ends an hour before the label starts

    # without tolerance: a false alarm and a missed label
    m = score(detections, labels)
    assert (m.detected, m.true_detections, m.false_alarms) == (0, 0, 1)
    assert m.precision == 0.0 and m.recall == 0.0
    assert m.f1 == 0.0  # both 0 -> 0, not NaN
    assert m.early_score == 0.0
    assert math.isnan(m.time_to_detect_median_s) and math.isnan(m.time_to_detect_mean_s)
    assert m.false_alarms_by_sensor == {"s1": 1}

    # 30 min early: window 09:30-12:00, still no overlap with 08-09
    assert score(detections, labels, early=0.5).detected == 0

    # 2 h early: window 08:00-12:00 -> caught, 2 h before the label started
    m = score(detections, labels, early=2)
    assert (m.detected, m.true_detections, m.false_alarms) == (1, 1, 0)
    assert m.precision == 1.0 and m.recall == 1.0 and m.f1 == 1.0
    assert m.time_to_detect_median_s == -2 * HOUR  # negative: before the label
    assert m.time_to_detect_mean_s == -2 * HOUR
    assert m.early_score == 1.0


def test_late_detection_counts_only_with_late_tolerance() -> None:
    labels = [lab(10, 12)]
    detections = [det(13, 14)]  # starts an hour after the label ends

    m = score(detections, labels)
    assert (m.detected, m.false_alarms) == (0, 1)
    assert m.precision == 0.0 and m.recall == 0.0 and m.early_score == 0.0

    assert score(detections, labels, late=0.5).detected == 0  # window ends 12:30

    # 2 h late: window 10:00-14:00 (length 4 h); first detection at 13:00
    m = score(detections, labels, late=2)
    assert (m.detected, m.false_alarms) == (1, 0)
    assert m.precision == 1.0 and m.recall == 1.0
    assert m.time_to_detect_median_s == 3 * HOUR
    # early = 1 - 3h/4h = 0.25
    assert m.early_score == 0.25


def test_detections_of_another_sensor_mba_or_kind_do_not_match() -> None:
    label = lab(10, 12, mba="A", sensor="s1", kind="peak")
    detections = [
        det(10, 12, mba="A", sensor="s2"),  # other sensor
        det(10, 12, mba="B", sensor=None),  # other MBA, no sensor
        det(10, 12, mba="A", sensor="s1", kind="exceedance"),  # other kind
    ]
    m = score(detections, [label])
    assert (m.detected, m.true_detections, m.false_alarms) == (0, 0, 3)
    assert m.precision == 0.0 and m.recall == 0.0
    # detections without a sensor count under their MBA
    assert m.false_alarms_by_sensor == {"B": 1, "s1": 1, "s2": 1}
    assert list(m.false_alarms_by_sensor) == ["B", "s1", "s2"]  # sorted

    # the right one among them matches; the others stay false alarms
    m = score([*detections, det(11, 12, mba="A", sensor="s1")], [label])
    assert (m.detected, m.true_detections, m.false_alarms) == (1, 1, 3)
    assert m.precision == 0.25 and m.recall == 1.0
    assert m.per_detection["matched"].tolist() == [False, False, False, True]


def test_label_without_kind_matches_any_kind() -> None:
    m = score([det(10, 11, kind="exceedance"), det(10, 11, kind="peak")], [lab(10, 12)])
    assert (m.detected, m.true_detections, m.false_alarms) == (1, 2, 0)


def test_mba_label_matches_any_sensor_of_the_mba() -> None:
    label = lab(10, 12, mba="A", sensor=None)
    detections = [
        det(10, 11, mba="A", sensor="s1"),
        det(10, 11, mba="A", sensor=None),
        det(10, 11, mba="B", sensor="s1"),
    ]
    m = score(detections, [label])
    assert m.per_detection["matched"].tolist() == [True, True, False]
    assert (m.detected, m.true_detections, m.false_alarms) == (1, 2, 1)
    assert m.false_alarms_by_sensor == {"s1": 1}


def test_sensor_label_matches_sensorless_detection_by_its_mba() -> None:
    label = lab(10, 12, mba="A", sensor="s1")
    detections = [
        det(10, 11, mba="A", sensor="s1"),  # the sensor
        det(10, 11, mba="A", sensor=None),  # no sensor, same MBA -> matches by MBA
        det(10, 11, mba="B", sensor=None),  # no sensor, other MBA
        det(10, 11, mba="A", sensor="s2"),  # another sensor of the MBA: not the label's
    ]
    m = score(detections, [label])
    assert m.per_detection["matched"].tolist() == [True, True, False, False]
    assert m.false_alarms_by_sensor == {"B": 1, "s2": 1}


def test_sensor_label_without_mba_needs_the_sensor() -> None:
    label = lab(10, 12, mba=None, sensor="s1")
    m = score([det(10, 11, mba="A", sensor=None), det(10, 11, mba="A", sensor="s1")], [label])
    assert m.per_detection["matched"].tolist() == [False, True]


# --- empty inputs ------------------------------------------------------------------------


def test_no_labels_makes_every_detection_a_false_alarm() -> None:
    detections = [det(1, 2, sensor="s1"), det(3, 4, sensor="s2")]
    span = (T0, T0 + timedelta(days=MONTH_DAYS))  # exactly one month
    m = score(detections, [], sensors=2, span=span)
    assert (m.labels, m.detected, m.detections, m.true_detections) == (0, 0, 2, 0)
    assert m.false_alarms == 2
    assert m.precision == 0.0
    assert math.isnan(m.recall) and math.isnan(m.f1) and math.isnan(m.early_score)
    assert math.isnan(m.time_to_detect_median_s) and math.isnan(m.time_to_detect_mean_s)
    # 2 false alarms / (2 sensors x 1 month)
    assert m.months == pytest.approx(1.0)
    assert m.false_alarms_per_sensor_month == pytest.approx(1.0)
    assert m.false_alarms_by_sensor == {"s1": 1, "s2": 1}
    assert m.per_label.empty


def test_no_detections_misses_every_label() -> None:
    m = score([], [lab(10, 12), lab(14, 15)])
    assert (m.labels, m.detected, m.detections, m.false_alarms) == (2, 0, 0, 0)
    assert math.isnan(m.precision)
    assert m.recall == 0.0
    assert math.isnan(m.f1)  # precision NaN -> f1 NaN
    assert m.early_score == 0.0
    assert math.isnan(m.time_to_detect_median_s)
    assert m.false_alarms_per_sensor_month == 0.0
    assert m.per_label["detected"].tolist() == [False, False]
    assert m.per_label["early_score"].tolist() == [0.0, 0.0]
    assert m.per_label["time_to_detect_s"].isna().all()
    assert m.per_detection.empty


def test_both_empty() -> None:
    m = score([], [])
    assert (m.labels, m.detected, m.detections, m.true_detections) == (0, 0, 0, 0)
    assert (m.false_alarms, m.confirmed_false_alarms) == (0, 0)
    for value in (m.precision, m.recall, m.f1, m.early_score, m.time_to_detect_mean_s):
        assert math.isnan(value)
    assert m.false_alarms_per_sensor_month == 0.0
    assert m.false_alarms_by_sensor == {}
    assert m.per_label.empty and m.per_detection.empty


# --- confirmed non-events ----------------------------------------------------------------


def test_false_labels_confirm_false_alarms_and_are_not_events() -> None:
    labels = [lab(10, 12), lab(14, 16, truth=False)]
    detections = [
        det(10, 11),  # the true event
        det(15, 16),  # inside the closed false alarm: a confirmed false alarm
        det(20, 21),  # a false alarm nobody confirmed
    ]
    m = score(detections, labels)
    assert m.labels == 1  # the truth=False label is no event
    assert (m.detected, m.detections, m.true_detections) == (1, 3, 1)
    assert (m.false_alarms, m.confirmed_false_alarms) == (2, 1)
    # precision 1/3, recall 1, f1 = 2 * (1/3) * 1 / (4/3) = 0.5
    assert m.precision == pytest.approx(1 / 3)
    assert m.recall == 1.0
    assert m.f1 == pytest.approx(0.5)
    assert m.per_detection["confirmed_false"].tolist() == [False, True, False]
    assert len(m.per_label) == 1


def test_detection_matching_a_true_label_is_not_a_confirmed_false_alarm() -> None:
    # one detection 11-15 overlapping both the event 10-12 and the non-event 14-16
    m = score([det(11, 15)], [lab(10, 12), lab(14, 16, truth=False)])
    assert (m.true_detections, m.false_alarms, m.confirmed_false_alarms) == (1, 0, 0)


def test_only_false_labels_leave_recall_undefined() -> None:
    m = score([det(14, 15)], [lab(14, 16, truth=False)])
    assert m.labels == 0
    assert math.isnan(m.recall)
    assert (m.false_alarms, m.confirmed_false_alarms) == (1, 1)
    assert m.precision == 0.0


# --- early score -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_start", "expected"),
    [
        # label 10-14, late 2 h -> window ends 16:00, 6 h after the label's start
        (9.0, 1.0),  # before the start
        (10.0, 1.0),  # at the start
        (11.5, 0.75),  # 1 - 1.5/6
        (13.0, 0.5),  # 1 - 3/6
        (15.0, 1 / 6),  # 1 - 5/6 (after the label, within the late tolerance)
    ],
)
def test_early_score_falls_linearly_to_the_end_of_the_window(
    first_start: float, expected: float
) -> None:
    m = score([det(first_start, first_start + 1.5)], [lab(10, 14)], late=2)
    assert m.detected == 1
    assert m.early_score == pytest.approx(expected)
    assert m.time_to_detect_median_s == pytest.approx((first_start - 10) * HOUR)


def test_early_score_averages_over_labels_with_missed_as_zero() -> None:
    # label 10-12 caught at its start (1), label 20-22 missed (0) -> 0.5
    m = score([det(10, 11)], [lab(10, 12), lab(20, 22)])
    assert m.per_label["early_score"].tolist() == [1.0, 0.0]
    assert m.early_score == 0.5
    assert m.recall == 0.5 and m.precision == 1.0
    assert m.f1 == pytest.approx(2 * 0.5 / 1.5)


# --- false alarms per sensor per month ---------------------------------------------------


def test_false_alarms_per_sensor_month() -> None:
    # span of half a month, 4 sensors watched: exposure 2 sensor-months
    span = (T0, T0 + timedelta(days=MONTH_DAYS / 2))
    detections = [
        det(10, 11, sensor="s1"),  # matches the label
        det(20, 21, sensor="s1"),
        det(30, 31, sensor="s1"),
        det(40, 41, mba="B", sensor=None),
    ]
    m = score(detections, [lab(10, 12)], sensors=4, span=span)
    assert m.false_alarms == 3
    assert m.sensors == 4
    assert m.months == pytest.approx(0.5)
    assert m.false_alarms_per_sensor_month == pytest.approx(3 / (4 * 0.5))  # 1.5
    assert m.false_alarms_by_sensor == {"B": 1, "s1": 2}


def test_false_alarms_per_sensor_month_is_nan_without_exposure() -> None:
    assert math.isnan(score([det(1, 2)], [], sensors=0).false_alarms_per_sensor_month)
    empty_span = score([det(1, 2)], [], span=(T0, T0))
    assert empty_span.months == 0.0
    assert math.isnan(empty_span.false_alarms_per_sensor_month)
    # a reversed span counts as no time at all
    assert score([det(1, 2)], [], span=(at(24), T0)).months == 0.0


def test_one_day_is_a_thirtieth_of_a_month() -> None:
    m = score([det(1, 2)], [], sensors=1, span=DAY_SPAN)
    assert m.months == pytest.approx(1 / MONTH_DAYS)
    assert m.false_alarms_per_sensor_month == pytest.approx(MONTH_DAYS)


# --- API ---------------------------------------------------------------------------------


def test_as_row_has_the_metric_columns_in_order() -> None:
    m = score([det(10, 12), det(20, 21)], [lab(10, 12)])
    row = m.as_row()
    assert tuple(row) == METRIC_COLUMNS
    for key, value in row.items():
        assert value == getattr(m, key)


def test_negative_tolerances_raise() -> None:
    with pytest.raises(ValueError, match="negative"):
        MatchOptions(early=timedelta(minutes=-1))
    with pytest.raises(ValueError, match="negative"):
        MatchOptions(late=timedelta(seconds=-1))
    assert MatchOptions() == MatchOptions(early=timedelta(0), late=timedelta(0))


def test_negative_sensors_raise() -> None:
    with pytest.raises(ValueError, match="sensors"):
        score([], [], sensors=-1)


def test_default_options_are_no_tolerance() -> None:
    labels, detections = [lab(10, 12)], [det(13, 14)]
    default = event_metrics(detections, labels, sensors=1, span=DAY_SPAN)
    assert default.as_row() == score(detections, labels).as_row()
    assert default.detected == 0


# --- properties --------------------------------------------------------------------------

_places = st.sampled_from(["A", "B"])
_sensors = st.sampled_from([None, "s1", "s2"])
_kinds = st.sampled_from(["peak", "exceedance"])


@st.composite
def _detections(draw: st.DrawFn) -> Detection:
    start = draw(st.integers(0, 47))
    length = draw(st.integers(0, 6))
    kind = draw(_kinds)
    return det(start, start + length, mba=draw(_places), sensor=draw(_sensors), kind=kind)


@st.composite
def _labels(draw: st.DrawFn) -> Label:
    start = draw(st.integers(0, 47))
    length = draw(st.integers(0, 6))
    sensor = draw(_sensors)
    mba = draw(st.sampled_from([None, "A", "B"]) if sensor else _places)
    kind = draw(st.sampled_from([None, "peak", "exceedance"]))
    truth = draw(st.booleans())
    return lab(start, start + length, mba=mba, sensor=sensor, kind=kind, truth=truth)


def _fraction_or_nan(value: float) -> bool:
    return math.isnan(value) or 0.0 <= value <= 1.0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    detections=st.lists(_detections(), max_size=8),
    labels=st.lists(_labels(), max_size=8),
    early=st.integers(0, 5),
    late=st.integers(0, 5),
)
def test_metric_invariants_and_tolerance_monotonicity(
    detections: list[Detection], labels: list[Label], early: int, late: int
) -> None:
    strict = score(detections, labels, sensors=2)
    loose = score(detections, labels, sensors=2, early=early, late=late)
    for m in (strict, loose):
        assert _fraction_or_nan(m.precision)
        assert _fraction_or_nan(m.recall)
        assert _fraction_or_nan(m.f1)
        assert _fraction_or_nan(m.early_score)
        assert m.true_detections + m.false_alarms == m.detections == len(detections)
        assert m.labels == sum(label.truth for label in labels)
        assert 0 <= m.detected <= m.labels
        assert 0 <= m.confirmed_false_alarms <= m.false_alarms
        assert sum(m.false_alarms_by_sensor.values()) == m.false_alarms
        assert math.isnan(m.precision) == (m.detections == 0)
        assert math.isnan(m.recall) == (m.labels == 0)
    # wider windows only add matches
    assert loose.detected >= strict.detected
    assert loose.true_detections >= strict.true_detections
    if strict.labels:
        assert loose.recall >= strict.recall
        assert loose.early_score >= strict.early_score - 1e-12
    if strict.detections:
        assert loose.precision >= strict.precision
