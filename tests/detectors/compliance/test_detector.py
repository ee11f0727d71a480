"""Inspectors get one detection per run of averages above the permit's emission limit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vth.detectors import DetectorError
from vth.detectors.compliance import ComplianceDetector
from vth.models import Alert, Detection, MbaProfile
from vth.sensing import ReferenceConditionError, make_stream_dataset, open_streams

from ..builders import GASTURBINE_NC, half_hours, minute_times, one_limit_profile, stream


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def spans(detections: list[Detection]) -> list[tuple[str, str]]:
    """(start, end) of each detection as 'HH:MM' in UTC, for readable asserts."""
    return [(d.start.strftime("%H:%M"), d.end.strftime("%H:%M")) for d in detections]


def avi_nox(values: np.ndarray, start: str = "2026-01-05T10:00", **kw: Any) -> Any:
    """AVI Rozenburg line 1 NOx, already at the permit's 11 % O2."""
    return stream(
        "avi-rozenburg", start, {"NOx": values}, attrs={"NOx": {"reference_o2": 11.0}}, **kw
    )


# --- EU IED Annex VI worked examples (AVI Rozenburg, NOx half-hour limit 400, CI 10 %) -----


def test_half_hour_of_440_is_validated_to_400_and_does_not_exceed_the_limit_of_400(
    profiles: dict[str, MbaProfile],
):
    # 440 - 10 % of 400 = 400, and only a validated average ABOVE the limit exceeds it
    ds = avi_nox(half_hours(440, 440))

    assert ComplianceDetector().detect(ds, profiles["avi-rozenburg"]) == []


def test_half_hour_exceedance_after_confidence_interval_raises_one_detection(
    profiles: dict[str, MbaProfile],
):
    # 460 - 40 = 420 > 400
    ds = avi_nox(half_hours(300, 460, 300))

    [d] = ComplianceDetector().detect(ds, profiles["avi-rozenburg"])

    assert (d.detector, d.kind, d.mba_id, d.source_id, d.sensor_id, d.substance) == (
        "compliance",
        "exceedance",
        "avi-rozenburg",
        "line-1",
        "cems-l1",
        "NOx",
    )
    assert (d.start, d.end) == (utc("2026-01-05T10:30"), utc("2026-01-05T11:00"))
    assert d.value == pytest.approx(420.0)
    assert (d.limit, d.unit) == (400.0, "mg/m3")
    assert d.severity == "low"  # 420 / 400 = 1.05
    assert d.evidence["limit"]["average"] == "30min"
    assert d.evidence["confidence_interval_subtracted"] == pytest.approx(40.0)


def test_three_consecutive_exceeding_half_hours_become_one_detection_at_the_worst_value(
    profiles: dict[str, MbaProfile],
):
    ds = avi_nox(half_hours(460, 500, 470, 300))

    [d] = ComplianceDetector().detect(ds, profiles["avi-rozenburg"])

    assert (d.start, d.end) == (utc("2026-01-05T10:00"), utc("2026-01-05T11:30"))
    assert d.value == pytest.approx(500 - 40)
    assert d.severity == "medium"  # 460 / 400 = 1.15
    assert d.evidence["n_windows"] == 3
    assert [w["validated"] for w in d.evidence["windows"]] == [420.0, 460.0, 430.0]
    assert [w["average"] for w in d.evidence["windows"]] == [460.0, 500.0, 470.0]
    assert Alert.from_detection(d).lhso.consequence == 1


def test_a_half_hour_without_data_splits_a_run_in_two(profiles: dict[str, MbaProfile]):
    times = np.concatenate(
        [minute_times("2026-01-05T10:00", 30), minute_times("2026-01-05T11:00", 30)]
    )
    ds = avi_nox(half_hours(500, 500), times=times)

    detections = ComplianceDetector().detect(ds, profiles["avi-rozenburg"])

    assert spans(detections) == [("10:00", "10:30"), ("11:00", "11:30")]


def test_a_half_hour_of_invalid_samples_splits_a_run_in_two(profiles: dict[str, MbaProfile]):
    ds = avi_nox(half_hours(500, np.nan, 500))

    detections = ComplianceDetector().detect(ds, profiles["avi-rozenburg"])

    assert spans(detections) == [("10:00", "10:30"), ("11:00", "11:30")]


@pytest.mark.parametrize(("missing", "detected"), [(8, False), (7, True)])
def test_a_half_hour_below_the_minimum_coverage_is_not_judged(
    profiles: dict[str, MbaProfile], missing: int, detected: bool
):
    # min_coverage 0.75 of 30 one-minute samples: 22 valid (0.73) is too few, 23 (0.77) enough
    values = half_hours(300, 600, 300)
    values[30 : 30 + missing] = np.nan

    detections = ComplianceDetector().detect(avi_nox(values), profiles["avi-rozenburg"])

    assert spans(detections) == ([("10:30", "11:00")] if detected else [])
    if detected:
        assert detections[0].evidence["windows"][0]["coverage"] == pytest.approx(23 / 30, abs=1e-4)


def test_the_detector_min_coverage_parameter_overrides_the_permit(
    profiles: dict[str, MbaProfile],
):
    values = half_hours(600)
    values[:15] = np.nan  # coverage 0.5

    strict = ComplianceDetector().detect(avi_nox(values), profiles["avi-rozenburg"])
    lenient = ComplianceDetector(min_coverage=0.5).detect(
        avi_nox(values), profiles["avi-rozenburg"]
    )

    assert strict == []
    assert spans(lenient) == [("10:00", "10:30")]
    assert lenient[0].evidence["min_coverage"] == 0.5


def test_the_half_hour_still_filling_up_is_not_judged_until_it_is_complete(
    profiles: dict[str, MbaProfile],
):
    detector = ComplianceDetector(min_coverage=0.1)
    up_to_1044 = avi_nox(np.full(45, 600.0))
    up_to_1059 = avi_nox(np.full(60, 600.0))

    assert spans(detector.detect(up_to_1044, profiles["avi-rozenburg"])) == [("10:00", "10:30")]
    assert spans(detector.detect(up_to_1059, profiles["avi-rozenburg"])) == [("10:00", "11:00")]


def test_the_daily_limit_is_judged_once_the_day_is_complete(profiles: dict[str, MbaProfile]):
    # NOx daily limit 200 with CI 20 % (40): a whole day at 250 validates to 210 > 200
    ds = avi_nox(np.full(24 * 60, 250.0), start="2026-01-05T00:00")

    [d] = ComplianceDetector().detect(ds, profiles["avi-rozenburg"])

    assert d.evidence["limit"]["average"] == "1d"
    assert (d.start, d.end) == (utc("2026-01-05T00:00"), utc("2026-01-06T00:00"))
    assert d.value == pytest.approx(210.0)


def test_only_the_requested_substances_are_checked(profiles: dict[str, MbaProfile]):
    ds = avi_nox(half_hours(600))

    assert ComplianceDetector(substances=["SO2"]).detect(ds, profiles["avi-rozenburg"]) == []
    assert len(ComplianceDetector(substances=["NOx"]).detect(ds, profiles["avi-rozenburg"])) == 1


def test_each_line_of_the_incinerator_is_judged_on_its_own_sensor(
    profiles: dict[str, MbaProfile],
):
    # HCl: half-hour limit 60 on both lines (column A), CI 40 % of the daily 10 = 4
    values = np.stack([half_hours(30, 30), half_hours(30, 100)])
    ds = stream(
        "avi-rozenburg",
        "2026-01-05T10:00",
        {"HCl": values},
        sensors=("cems-l1", "cems-l2"),
        attrs={"HCl": {"reference_o2": 11.0}},
    )

    [d] = ComplianceDetector().detect(ds, profiles["avi-rozenburg"])

    assert (d.source_id, d.sensor_id) == ("line-2", "cems-l2")
    assert (d.lat, d.lon) == (51.9056, 4.2470)


# --- operating time (tank terminal: Mon-Fri 06:00-22:00, Sat 07:00-15:00 local, Sun off) -----


def test_a_sunday_peak_outside_operating_hours_is_ignored_and_a_monday_peak_detected(
    profiles: dict[str, MbaProfile],
):
    start = np.datetime64("2026-01-04T00:00", "ns")  # Sunday; CET is UTC+1
    times = minute_times("2026-01-04T00:00", 2 * 24 * 60)
    toc = np.full(len(times), 2_000.0)  # mg/m3, well below 10 g/m3
    for peak in ("2026-01-04T12:00", "2026-01-05T04:00", "2026-01-05T10:00"):
        first = int((np.datetime64(peak, "ns") - start) // np.timedelta64(1, "m"))
        toc[first : first + 60] = 15_000.0
    ds = stream("tankopslag-europoort", "2026-01-04T00:00", {"TOC": toc}, sensors=("cems-vru1",))

    [d] = ComplianceDetector().detect(ds, profiles["tankopslag-europoort"])

    # Sunday noon: closed. Monday 04:00 UTC = 05:00 local: not yet open. 10:00 UTC: open.
    assert (d.start, d.end) == (utc("2026-01-05T10:00"), utc("2026-01-05T11:00"))
    assert (d.source_id, d.sensor_id, d.substance) == ("vru-1", "cems-vru1", "TOC")


def test_without_operating_hours_in_the_permit_every_sample_counts():
    limit = {"substance": "TOC", "unit": "mg/m3", "value": 100, "average": "1h"}
    profile = one_limit_profile(
        limit,
        operating_hours={"weekly": {"mon": ["06:00-22:00"]}},
    )
    always = one_limit_profile(dict(limit, operating_time_only=False))
    ds = stream("test-mba", "2026-01-04T12:00", {"TOC": np.full(60, 500.0)}, sensors=("cems-1",))

    # the limit does not say operating_time_only, so Sunday counts even with a schedule
    assert spans(ComplianceDetector().detect(ds, profile)) == [("12:00", "13:00")]
    assert spans(ComplianceDetector().detect(ds, always)) == [("12:00", "13:00")]


def two_weekdays_at(level: float, average: str) -> tuple[MbaProfile, Any]:
    """Monday and Tuesday 06:00-22:00 local; samples every minute of both days at one level."""
    profile = one_limit_profile(
        {
            "substance": "TOC",
            "unit": "mg/m3",
            "value": 100,
            "average": average,
            "operating_time_only": True,
        },
        operating_hours={"weekly": {"mon": ["06:00-22:00"], "tue": ["06:00-22:00"]}},
    )
    ds = stream(
        "test-mba", "2026-01-05T00:00", {"TOC": np.full(2 * 24 * 60, level)}, sensors=("cems-1",)
    )
    return profile, ds


def test_a_daily_average_within_operating_time_is_judged_when_coverage_allows():
    profile, ds = two_weekdays_at(500.0, "1d")

    [d] = ComplianceDetector(min_coverage=0.6).detect(ds, profile)

    # Monday is complete (Tuesday's data came in); Tuesday is still open
    assert (d.start, d.end) == (utc("2026-01-05T00:00"), utc("2026-01-06T00:00"))
    assert d.evidence["windows"][0]["samples"] == 16 * 60


def test_a_daily_average_over_a_fully_measured_operating_day_is_judged():
    profile, ds = two_weekdays_at(500.0, "1d")

    detections = ComplianceDetector().detect(ds, profile)

    assert [(d.start, d.end) for d in detections] == [
        (utc("2026-01-05T00:00"), utc("2026-01-06T00:00"))
    ]


# --- units -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("toc_mg_m3", "detected"), [(9_500.0, False), (10_500.0, True)])
def test_a_limit_of_10_grams_is_compared_with_a_stream_in_milligrams(
    profiles: dict[str, MbaProfile], toc_mg_m3: float, detected: bool
):
    # Monday 10:00-11:00 UTC is within the terminal's operating hours
    ds = stream(
        "tankopslag-europoort",
        "2026-01-05T10:00",
        {"TOC": np.full(60, toc_mg_m3)},
        sensors=("cems-vru1",),
    )

    detections = ComplianceDetector().detect(ds, profiles["tankopslag-europoort"])

    assert len(detections) == int(detected)
    if detected:
        assert (detections[0].limit, detections[0].unit) == (10_000.0, "mg/m3")
        assert detections[0].value == pytest.approx(10_500.0)
        assert detections[0].evidence["limit"]["unit"] == "g/m3"
        assert detections[0].evidence["limit_in_stream_unit"] == 10_000.0


def test_a_stream_in_grams_is_compared_in_grams(profiles: dict[str, MbaProfile]):
    ds = stream(
        "tankopslag-europoort",
        "2026-01-05T10:00",
        {"TOC": np.full(60, 10.5)},
        sensors=("cems-vru1",),
        units={"TOC": "g/m3"},
    )

    [d] = ComplianceDetector().detect(ds, profiles["tankopslag-europoort"])

    assert d.value == pytest.approx(10.5)
    assert (d.limit, d.unit) == (10.0, "g/m3")


def test_a_limit_that_cannot_be_converted_to_the_stream_unit_is_an_error():
    profile = one_limit_profile(
        {"substance": "NOx", "unit": "mg/m3", "value": 100, "average": "1h"}
    )
    ds = stream(
        "test-mba",
        "2026-01-05T10:00",
        {"NOx": np.full(60, 1.0)},
        sensors=("cems-1",),
        units={"NOx": "%"},
    )

    with pytest.raises(
        DetectorError,
        match=r"test-mba/stack-1: NOx limit in 'mg/m3' cannot be compared with the stream's '%'",
    ):
        ComplianceDetector().detect(ds, profile)


# --- reference O2 (chemical plant furnace: NOx 70 mg/m3 at 3 % O2, hourly) --------------------


@pytest.mark.parametrize(("o2", "detected"), [(3.0, False), (6.0, True)])
def test_measured_o2_above_the_reference_raises_the_corrected_value_over_the_limit(
    profiles: dict[str, MbaProfile], o2: float, detected: bool
):
    # 60 mg/m3 at 6 % O2 is 60 * (21 - 3) / (21 - 6) = 72 at 3 % O2: above 70
    ds = stream(
        "chemie-botlek",
        "2026-01-05T10:00",
        {"NOx": np.full(60, 60.0), "O2": np.full(60, o2)},
        sensors=("cems-f101",),
    )

    detections = ComplianceDetector().detect(ds, profiles["chemie-botlek"])

    assert len(detections) == int(detected)
    if detected:
        assert detections[0].value == pytest.approx(72.0)
        assert detections[0].limit == 70.0


def test_o2_outside_zero_to_21_percent_invalidates_the_samples(profiles: dict[str, MbaProfile]):
    o2 = np.full(60, 6.0)
    o2[:20] = 21.0  # a third of the hour: no valid correction, coverage 0.67 < 0.75
    ds = stream(
        "chemie-botlek",
        "2026-01-05T10:00",
        {"NOx": np.full(60, 60.0), "O2": o2},
        sensors=("cems-f101",),
    )

    assert ComplianceDetector().detect(ds, profiles["chemie-botlek"]) == []


def test_missing_o2_is_an_error_naming_the_sensor_and_the_fix(profiles: dict[str, MbaProfile]):
    ds = stream(
        "chemie-botlek", "2026-01-05T10:00", {"NOx": np.full(60, 60.0)}, sensors=("cems-f101",)
    )

    with pytest.raises(ReferenceConditionError) as exc:
        ComplianceDetector().detect(ds, profiles["chemie-botlek"])

    message = str(exc.value)
    assert message.startswith("chemie-botlek/furnace-1: the NOx limit applies at 3.0% O2")
    assert "the stream of cems-f101 has no O2" in message
    assert "add O2" in message
    assert "reference_o2=3.0" in message


def test_values_declared_at_the_reference_o2_need_no_o2_stream(profiles: dict[str, MbaProfile]):
    ds = stream(
        "chemie-botlek",
        "2026-01-05T10:00",
        {"NOx": np.full(60, 75.0)},
        sensors=("cems-f101",),
        attrs={"NOx": {"reference_o2": 3.0}},
    )

    [d] = ComplianceDetector().detect(ds, profiles["chemie-botlek"])

    assert d.value == pytest.approx(75.0)


def test_values_declared_at_another_reference_o2_are_refused(profiles: dict[str, MbaProfile]):
    ds = stream(
        "chemie-botlek",
        "2026-01-05T10:00",
        {"NOx": np.full(60, 75.0), "O2": np.full(60, 3.0)},
        sensors=("cems-f101",),
        attrs={"NOx": {"reference_o2": 11.0}},
    )

    with pytest.raises(
        ReferenceConditionError, match=r"NOx is at 11.0% O2 but the limit applies at 3.0% O2"
    ):
        ComplianceDetector().detect(ds, profiles["chemie-botlek"])


# --- which sensor measures which source ------------------------------------------------------


def test_a_fenceline_sensor_maps_to_its_source_and_micrograms_limit(
    profiles: dict[str, MbaProfile],
):
    # benzene limit 50 ug/m3 over 10 minutes; the stream is in mg/m3
    values = np.repeat([0.04, 0.06, 0.04], 10)
    ds = stream("chemie-botlek", "2026-01-05T10:00", {"benzene": values}, sensors=("fl-east",))

    [d] = ComplianceDetector().detect(ds, profiles["chemie-botlek"])

    assert (d.source_id, d.sensor_id) == ("fenceline-east", "fl-east")
    assert spans([d]) == [("10:10", "10:20")]
    assert d.limit == pytest.approx(0.05)
    assert d.value == pytest.approx(0.06)


def test_an_unregistered_sensor_named_like_the_source_measures_that_source(
    profiles: dict[str, MbaProfile],
):
    values = np.repeat([0.04, 0.06, 0.04], 10)
    ds = stream(
        "chemie-botlek", "2026-01-05T10:00", {"benzene": values}, sensors=("fenceline-east",)
    )

    [d] = ComplianceDetector().detect(ds, profiles["chemie-botlek"])

    assert (d.source_id, d.sensor_id) == ("fenceline-east", "fenceline-east")


def test_e_noses_and_unknown_sensors_are_not_judged_against_emission_limits(
    profiles: dict[str, MbaProfile],
):
    ds = stream(
        "chemie-botlek",
        "2026-01-05T10:00",
        {"benzene": np.full(30, 10.0)},
        sensors=("enose-101", "enose-102", "meteo-botlek", "stranger"),
    )

    assert ComplianceDetector().detect(ds, profiles["chemie-botlek"]) == []


def test_a_source_without_a_location_takes_the_position_of_its_sensor():
    profile = one_limit_profile(
        {"substance": "NOx", "unit": "mg/m3", "value": 100, "average": "30min"},
        sources=[
            {
                "id": "stack-1",
                "limits": [{"substance": "NOx", "unit": "mg/m3", "value": 100, "average": "30min"}],
            }
        ],
    )
    ds = stream("test-mba", "2026-01-05T10:00", {"NOx": half_hours(150)}, sensors=("cems-1",))
    placed = ds.assign_coords(lat=("sensor", [52.1]), lon=("sensor", [4.1]))

    [unplaced_detection] = ComplianceDetector().detect(ds, profile)
    [placed_detection] = ComplianceDetector().detect(placed, profile)

    assert (unplaced_detection.lat, unplaced_detection.lon) == (None, None)
    assert (placed_detection.lat, placed_detection.lon) == (52.1, 4.1)


def test_percentile_rules_are_left_to_the_compliance_engine():
    profile = one_limit_profile(
        {
            "substance": "NOx",
            "unit": "mg/m3",
            "value": 100,
            "average": "30min",
            "rule": {"percentile": 97},
        }
    )
    ds = stream("test-mba", "2026-01-05T10:00", {"NOx": half_hours(500)}, sensors=("cems-1",))

    assert ComplianceDetector().detect(ds, profile) == []


# --- what a detection carries ----------------------------------------------------------------


def test_a_detection_carries_the_source_position_and_the_evidence_windows(
    profiles: dict[str, MbaProfile],
):
    values = half_hours(460, 300)
    values[5] = 520.0
    values[6] = np.nan

    [d] = ComplianceDetector().detect(avi_nox(values), profiles["avi-rozenburg"])

    assert (d.lat, d.lon) == (51.9051, 4.2449)  # the stack of line 1
    [window] = d.evidence["windows"]
    assert window == {
        "start": "2026-01-05T10:00:00+00:00",
        "end": "2026-01-05T10:30:00+00:00",
        "average": pytest.approx((460 * 28 + 520) / 29, abs=1e-4),
        "validated": pytest.approx((460 * 28 + 520) / 29 - 40, abs=1e-4),
        "status": "valid",
        "max": 520.0,
        "samples": 29,
        "discarded": 0,
        "coverage": pytest.approx(29 / 30, abs=1e-4),
    }
    assert d.evidence["limit"]["value"] == 400
    assert d.evidence["limit_in_stream_unit"] == 400.0
    assert d.evidence["parameters"] == {
        "min_coverage": None,
        "sampling_interval": None,
        "substances": None,
    }
    assert "vth" in d.evidence["versions"]
    alert = Alert.from_detection(d)
    assert Alert.model_validate_json(alert.model_dump_json()) == alert


def test_detections_are_sorted_by_start_time(profiles: dict[str, MbaProfile]):
    ds = avi_nox(half_hours(500, 300, 500, 300, 500))

    starts = [d.start for d in ComplianceDetector().detect(ds, profiles["avi-rozenburg"])]

    assert starts == sorted(starts)
    assert len(starts) == 3


def test_hourly_and_daily_exceedances_starting_at_midnight_are_two_alerts(
    profiles: dict[str, MbaProfile],
):
    # gas turbine: NOx 100 mg/m3 hourly and 80 mg/m3 daily, at 15 % O2
    ds = stream(
        "gasturbine-maasvlakte",
        "2026-01-05T00:00",
        {"NOx": np.full(24 * 60, 150.0)},
        sensors=("cems-gt1",),
        attrs={"NOx": {"reference_o2": 15.0}},
    )
    detections = ComplianceDetector().detect(ds, profiles["gasturbine-maasvlakte"])
    assert sorted(d.evidence["limit"]["average"] for d in detections) == ["1d", "1h"]

    ids = {Alert.from_detection(d).id for d in detections}

    assert len(ids) == 2


# --- property: detections are exactly the runs of exceeding windows ----------------------------


@st.composite
def half_hour_levels(draw: st.DrawFn) -> tuple[np.ndarray, int, float]:
    n_windows = draw(st.integers(1, 10))
    levels = draw(hnp.arrays(np.int64, n_windows, elements=st.integers(70, 190)))
    noise = draw(hnp.arrays(np.int64, 30 * n_windows, elements=st.integers(-20, 20)))
    values = (np.repeat(levels, 30) + noise).astype(np.float64)
    nan_rate = draw(st.sampled_from([0.0, 0.1, 0.3]))
    nan_mask = draw(hnp.arrays(np.float64, values.shape, elements=st.floats(0, 1))) < nan_rate
    values[nan_mask] = np.nan
    trim = draw(st.integers(0, 29))  # the stream may end mid-window
    offset = draw(st.integers(0, 29))  # and start mid-window
    values = values[offset : len(values) - trim] if len(values) - trim > offset else values
    ci = draw(st.sampled_from([0.0, 10.0, 20.0]))
    return values, offset, ci


def expected_exceedances(
    values: np.ndarray, times: np.ndarray, limit: float, ci: float
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Runs of exceeding half-hours, computed with pandas independently of vth."""
    index = pd.DatetimeIndex(times)
    series = pd.Series(values, index=index)
    grouped = series.groupby(index.floor("30min"))
    frame = pd.DataFrame({"mean": grouped.mean(), "count": grouped.count()})
    window_start = pd.DatetimeIndex(frame.index)
    last_valid = index[~np.isnan(values)].max()
    complete = window_start + pd.Timedelta("30min") <= last_valid + pd.Timedelta("1min")
    subtracted = ci / 100 * limit
    exceeding = complete & (frame["count"] / 30 >= 0.75) & (frame["mean"] - subtracted > limit)
    starts = window_start[np.asarray(exceeding)]
    found: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    for start in starts:
        end = start + pd.Timedelta("30min")
        if found and found[-1][1] == start:
            found[-1] = (found[-1][0], end)
        else:
            found.append((start, end))
    return found


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=half_hour_levels())
def test_detections_are_exactly_the_runs_of_valid_half_hours_above_the_limit(
    case: tuple[np.ndarray, int, float],
):
    values, offset, ci = case
    limit = 100.0
    profile = one_limit_profile(
        {
            "substance": "NOx",
            "unit": "mg/m3",
            "value": limit,
            "average": "30min",
            "confidence_interval": ci,
        }
    )
    times = minute_times("2026-01-05T10:00", len(values) + offset)[offset:]
    ds = make_stream_dataset("test-mba", ["cems-1"], times, {"NOx": (values[None, :], "mg/m3")})

    detections = ComplianceDetector(sampling_interval="1min").detect(ds, profile)

    for d in detections:
        assert d.value is not None and d.value > limit
        assert all(w["validated"] > limit for w in d.evidence["windows"])
        assert d.value == pytest.approx(
            max(w["validated"] for w in d.evidence["windows"]), abs=1e-3
        )
        assert d.evidence["n_windows"] == len(d.evidence["windows"])
    event(f"detections: {min(len(detections), 3)}")
    if np.isnan(values).all():
        assert detections == []
        return
    expected = expected_exceedances(values, times, limit, ci)
    got = [
        (pd.Timestamp(d.start).tz_convert(None), pd.Timestamp(d.end).tz_convert(None))
        for d in detections
    ]
    assert got == expected


# --- real data: the UCI gas turbine, 2011 ---------------------------------------------------------


def runs_above(
    series: pd.Series, limit: float, step: str = "1h"
) -> list[tuple[pd.Timestamp, pd.Timestamp, float]]:
    """(start, end, worst) of each run of consecutive steps above the limit, with pandas."""
    above = series > limit
    run_id = (above != above.shift(fill_value=False)).cumsum()
    out = []
    for _, run in series[above].groupby(run_id[above]):
        out.append((run.index[0], run.index[-1] + pd.Timedelta(step), float(run.max())))
    return out


def test_the_real_gas_turbine_year_gives_one_detection_per_run_of_hours_above_the_limit(
    profiles: dict[str, MbaProfile],
):
    ds = open_streams(GASTURBINE_NC)["gasturbine-maasvlakte"]
    times = pd.DatetimeIndex(ds["time"].values)
    assert (np.diff(times.asi8) == 3600 * 10**9).all()  # hourly, no gaps: runs are consecutive rows
    nox = pd.Series(ds["NOx"].values[0], index=times)
    co = pd.Series(ds["CO"].values[0], index=times)
    assert not nox.isna().any()

    detections = ComplianceDetector().detect(ds, profiles["gasturbine-maasvlakte"])

    assert {d.substance for d in detections} <= {"NOx", "CO"}
    for d in detections:
        assert d.value is not None and d.limit is not None
        assert d.value > d.limit
        assert (d.lat, d.lon) == (51.96, 4.03)
    for substance, series, limit in (("NOx", nox, 100.0), ("CO", co, 20.0)):
        hourly = [
            (pd.Timestamp(d.start).tz_convert(None), pd.Timestamp(d.end).tz_convert(None), d.value)
            for d in detections
            if d.substance == substance and d.evidence["limit"]["average"] == "1h"
        ]
        expected = runs_above(series, limit)
        assert len(hourly) == len(expected), substance
        assert [h[:2] for h in hourly] == [e[:2] for e in expected]
        worst = np.array([h[2] for h in hourly], dtype=np.float64)
        np.testing.assert_allclose(worst, np.array([e[2] for e in expected]))
    n_hourly_nox = sum(
        1 for d in detections if d.substance == "NOx" and d.evidence["limit"]["average"] == "1h"
    )
    assert n_hourly_nox > 10  # the hypothetical permit is meant to catch real peaks


def test_the_real_gas_turbine_daily_nox_detections_match_pandas_daily_means(
    profiles: dict[str, MbaProfile],
):
    ds = open_streams(GASTURBINE_NC)["gasturbine-maasvlakte"]
    index = pd.DatetimeIndex(ds["time"].values)
    nox = pd.Series(ds["NOx"].values[0], index=index)
    days = nox.groupby(index.floor("1D")).agg(["mean", "count"])
    day_start = pd.DatetimeIndex(days.index)
    # a day is judged once complete (the last hourly sample reaches midnight) and 75 % covered
    judged = (day_start + pd.Timedelta("1D") <= index[-1] + pd.Timedelta("1h")) & (
        days["count"].to_numpy() / 24 >= 0.75
    )
    daily_means = pd.Series(np.where(judged, days["mean"].to_numpy(), np.nan), index=day_start)
    expected = runs_above(daily_means, 80.0, step="1D")

    detections = ComplianceDetector(substances=["NOx"]).detect(
        ds, profiles["gasturbine-maasvlakte"]
    )

    daily = [
        (pd.Timestamp(d.start).tz_convert(None), pd.Timestamp(d.end).tz_convert(None))
        for d in detections
        if d.evidence["limit"]["average"] == "1d"
    ]
    assert daily == [(start, end) for start, end, _ in expected]
    assert daily  # 2011 has days above the hypothetical daily limit
