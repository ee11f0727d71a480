"""Worked examples of the IED Annex VI rules, computed by hand, against the compliance engine.

Each test states its arithmetic in comments; times are UTC unless a comment says "local".
Reports go through ``evaluate_mba(..., period=...)``; live detection through the detectors.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from vth.detectors.compliance import (
    ComplianceDetector,
    LimitEvaluation,
    Unevaluated,
    WindowStatus,
    evaluate_mba,
)
from vth.detectors.compliance.rules import DiscardedYear
from vth.detectors.peaks import PeakDetector
from vth.models import MbaProfile
from vth.sensing import ReferenceConditionError

from ..builders import half_hours, minute_times, one_limit_profile, stream

VALID = WindowStatus.VALID
INSUFFICIENT = WindowStatus.INSUFFICIENT_DATA
TOO_MANY = WindowStatus.TOO_MANY_DISCARDED
NOT_OPERATING = WindowStatus.NOT_OPERATING
PENDING = WindowStatus.PENDING

#: The NOx limits of an incinerator line under IED Annex VI (mg/Nm3; no O2 stream needed here).
NOX_DAILY: dict[str, Any] = {
    "substance": "NOx",
    "unit": "mg/m3",
    "value": 200,
    "average": "1d",
    "confidence_interval": 20,
    "operating_time_only": True,
    "from_average": "30min",
    "max_discarded": 5,
    "max_discarded_per_year": 10,
}
NOX_HALF_HOUR: dict[str, Any] = {
    "substance": "NOx",
    "unit": "mg/m3",
    "value": 400,
    "average": "30min",
    "confidence_interval": 20,
    "confidence_interval_basis": "1d",
    "operating_time_only": True,
}


# --- helpers -------------------------------------------------------------------------------------


def t(text: str) -> np.datetime64:
    return np.datetime64(text, "ns")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def source_profile(*limits: dict[str, Any], **profile: Any) -> MbaProfile:
    """Stack ``stack-1`` (sensor ``cems-1``) with these limits."""
    return one_limit_profile(
        limits[0], sources=[{"id": "stack-1", "limits": list(limits)}], **profile
    )


def ied_profile(**profile: Any) -> MbaProfile:
    """NOx daily 200 (CI 20 %) from half-hours, and half-hourly 400 with CI 20 % of 200."""
    return source_profile(NOX_DAILY, NOX_HALF_HOUR, **profile)


def half_hour_profile(
    value: float = 400, operating_hours: dict[str, Any] | None = None, **limit: Any
) -> MbaProfile:
    """Stack ``stack-1`` with one NOx half-hourly limit (``limit`` adds fields)."""
    return one_limit_profile(
        {"substance": "NOx", "unit": "mg/m3", "value": value, "average": "30min", **limit},
        operating_hours=operating_hours,
    )


def nox(values: Any, start: str = "2026-01-05T10:00", **kw: Any) -> Any:
    return stream("test-mba", start, {"NOx": values}, sensors=("cems-1",), **kw)


def report(
    ds: Any, profile: MbaProfile, start: str, end: str, kinds: Any = ("exceedance",)
) -> list[LimitEvaluation | Unevaluated]:
    return list(evaluate_mba(ds, profile, kinds, period=(t(start), t(end))))


def evaluation(results: list[LimitEvaluation | Unevaluated], average: str) -> LimitEvaluation:
    [ev] = [
        r for r in results if isinstance(r, LimitEvaluation) and r.check.limit.average == average
    ]
    return ev


def statuses(ev: LimitEvaluation) -> list[WindowStatus]:
    return [WindowStatus(int(s)) for s in ev.averages.status[0]]


def starts(ev: LimitEvaluation) -> list[str]:
    return [str(s) for s in np.datetime_as_string(ev.averages.start, unit="m")]


def ends(ev: LimitEvaluation) -> list[str]:
    return [str(s) for s in np.datetime_as_string(ev.averages.end, unit="m")]


def status_at(ev: LimitEvaluation, start: str) -> WindowStatus:
    [i] = np.flatnonzero(ev.averages.start == t(start))
    return WindowStatus(int(ev.averages.status[0, i]))


def spans(detections: list[Any]) -> list[tuple[datetime, datetime]]:
    return [(d.start, d.end) for d in detections]


# --- 1. the confidence interval is a share of the DAILY limit -------------------------------------


def test_the_confidence_interval_of_a_half_hour_is_twenty_percent_of_the_daily_limit():
    profile = ied_profile()
    [stack] = profile.sources
    daily, half_hour = stack.limits

    # 20 % of the daily 200 = 40, not 20 % of the half-hourly 400 (= 80)
    assert stack.confidence_interval_value(half_hour) == pytest.approx(40.0)
    assert stack.confidence_interval_value(daily) == pytest.approx(40.0)


def test_a_half_hour_of_460_validates_to_420_and_exceeds_400_but_440_validates_to_400_and_not():
    ds = nox(half_hours(460, 440))

    ev = evaluation(report(ds, ied_profile(), "2026-01-05T10:00", "2026-01-05T11:00"), "30min")

    assert ev.confidence_interval == pytest.approx(40.0)
    np.testing.assert_allclose(ev.averages.mean[0], [460.0, 440.0])
    # 460 - 0.2*200 = 420 > 400; 440 - 0.2*200 = 400, not ABOVE 400
    np.testing.assert_allclose(ev.averages.validated[0], [420.0, 400.0])
    assert statuses(ev) == [VALID, VALID]
    assert ev.above_limit[0].tolist() == [True, False]


def test_the_live_detector_raises_the_half_hour_of_460_only_at_its_validated_420():
    [d] = ComplianceDetector().detect(nox(half_hours(460, 440)), ied_profile())

    assert (d.start, d.end) == (utc("2026-01-05T10:00"), utc("2026-01-05T10:30"))
    assert d.value == pytest.approx(420.0)
    assert d.limit == 400.0
    assert d.evidence["confidence_interval_subtracted"] == pytest.approx(40.0)


# --- 2. windows align to the UTC clock ------------------------------------------------------------


def test_half_hours_start_at_00_and_30_utc_whatever_the_first_sample():
    # samples 10:17..11:16: 13 in [10:00, 10:30), 30 in [10:30, 11:00), 17 in [11:00, 11:30)
    values = np.concatenate([np.full(13, 100.0), np.full(30, 200.0), np.full(17, 300.0)])
    ds = nox(values, start="2026-01-05T10:17")

    ev = evaluation(
        report(ds, half_hour_profile(), "2026-01-05T10:00", "2026-01-05T12:00"), "30min"
    )

    assert starts(ev) == [
        "2026-01-05T10:00",
        "2026-01-05T10:30",
        "2026-01-05T11:00",
        "2026-01-05T11:30",
    ]
    assert ev.averages.samples[0].tolist() == [13, 30, 17, 0]
    np.testing.assert_allclose(ev.averages.mean[0], [100.0, 200.0, 300.0, np.nan])
    # 13/30 = 0.43 < 0.75; the data ends at 11:16 + 1 min = 11:17, before 11:30 and 12:00
    np.testing.assert_allclose(ev.averages.coverage[0][:2], [13 / 30, 1.0])
    assert statuses(ev) == [INSUFFICIENT, VALID, PENDING, PENDING]


def test_a_day_ends_at_midnight_utc_so_samples_at_2359_and_0000_fall_in_different_days():
    profile = one_limit_profile(
        {"substance": "NOx", "unit": "mg/m3", "value": 200, "average": "1d"}
    )
    values = np.full(2 * 1440, 100.0)
    values[1439] = 1540.0  # 2026-01-05T23:59
    values[1440] = 2980.0  # 2026-01-06T00:00
    ds = nox(values, start="2026-01-05T00:00")

    ev = evaluation(report(ds, profile, "2026-01-05", "2026-01-07"), "1d")

    assert starts(ev) == ["2026-01-05T00:00", "2026-01-06T00:00"]
    assert ends(ev) == ["2026-01-06T00:00", "2026-01-07T00:00"]
    assert ev.averages.samples[0].tolist() == [1440, 1440]
    # (1439*100 + 1540) / 1440 = 145440 / 1440 = 101; (1439*100 + 2980) / 1440 = 146880 / 1440 = 102
    np.testing.assert_allclose(ev.averages.mean[0], [101.0, 102.0])
    assert statuses(ev) == [VALID, VALID]


@pytest.mark.parametrize(
    ("times", "period", "expected_starts", "expected_ends", "samples", "means"),
    [
        pytest.param(
            ["2026-01-31T23:59", "2026-02-01T00:00", "2026-02-28T23:59", "2026-03-01T00:00"],
            ("2026-01-01", "2026-04-01"),
            ["2026-01-01", "2026-02-01", "2026-03-01"],
            ["2026-02-01", "2026-03-01", "2026-04-01"],
            [1, 2, 1],
            [10.0, (20 + 30) / 2, 40.0],
            id="january-ends-on-the-31st-and-february-2026-on-the-28th",
        ),
        pytest.param(
            ["2028-02-28T23:59", "2028-02-29T00:00", "2028-02-29T23:59", "2028-03-01T00:00"],
            ("2028-02-01", "2028-04-01"),
            ["2028-02-01", "2028-03-01"],
            ["2028-03-01", "2028-04-01"],
            [3, 1],
            [(10 + 20 + 30) / 3, 40.0],
            id="february-2028-ends-on-the-29th",
        ),
        pytest.param(
            ["2026-12-31T23:59", "2027-01-01T00:00"],
            ("2026-12-01", "2027-02-01"),
            ["2026-12-01", "2027-01-01"],
            ["2027-01-01", "2027-02-01"],
            [1, 1],
            [10.0, 20.0],
            id="december-rolls-into-january",
        ),
    ],
)
def test_monthly_windows_end_with_the_calendar_month(
    times, period, expected_starts, expected_ends, samples, means
):
    profile = one_limit_profile(
        {"substance": "NOx", "unit": "mg/m3", "value": 200, "average": "1mo"}
    )
    values = [10.0, 20.0, 30.0, 40.0][: len(times)]
    ds = nox(values, times=np.array(times, dtype="datetime64[ns]"))

    ev = evaluation(report(ds, profile, *period), "1mo")

    assert [s[:10] for s in starts(ev)] == expected_starts
    assert [e[:10] for e in ends(ev)] == expected_ends
    assert all(e.endswith("T00:00") for e in ends(ev))
    assert ev.averages.samples[0].tolist() == samples
    np.testing.assert_allclose(ev.averages.mean[0], means)


@pytest.mark.parametrize(
    ("first_sample", "period", "coverage"),
    [
        # 28 days x 1440 = 40320 samples; February 2026 expects 28 x 1440 = 40320
        ("2026-02-01T00:00", ("2026-02-01", "2026-03-01"), 1.0),
        # the same 40320 samples in March (4th to 31st) of 31 x 1440 = 44640 expected: 28/31
        ("2026-03-04T00:00", ("2026-03-01", "2026-04-01"), 28 / 31),
        # February 2028 (2nd to 29th) of 29 x 1440 = 41760 expected: 28/29
        ("2028-02-02T00:00", ("2028-02-01", "2028-03-01"), 28 / 29),
    ],
)
def test_the_expected_samples_of_a_month_follow_its_length(first_sample, period, coverage):
    profile = one_limit_profile(
        {"substance": "NOx", "unit": "mg/m3", "value": 200, "average": "1mo"}
    )
    ds = nox(np.full(28 * 1440, 100.0), start=first_sample)

    ev = evaluation(report(ds, profile, *period), "1mo")

    assert ev.averages.samples[0].tolist() == [40320]
    assert ev.averages.coverage[0, 0] == pytest.approx(coverage)
    assert statuses(ev) == [VALID]


# --- 3. daylight saving time: windows in UTC, operating hours in local time -----------------------

#: Mon-Fri 08:00-17:00 in Amsterdam: 07:00-16:00 UTC in winter (CET), 06:00-15:00 in summer (CEST).
OFFICE_HOURS = {
    "timezone": "Europe/Amsterdam",
    "weekly": {day: ["08:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
}
#: (winter day, summer day) around the DST changes of 2026-03-29 and 2026-10-25 (both Sundays).
DST_DAYS = [
    pytest.param("2026-03-27", "2026-03-30", id="dst-start: friday winter, monday summer"),
    pytest.param("2026-10-26", "2026-10-23", id="dst-end: friday summer, monday winter"),
]


def friday_and_monday(friday: str, monday: str, values: np.ndarray) -> Any:
    """Every minute of one Friday and the next Monday (nothing over the weekend)."""
    times = np.concatenate(
        [minute_times(f"{friday}T00:00", 1440), minute_times(f"{monday}T00:00", 1440)]
    )
    return nox(np.tile(values, 2), times=times)


@pytest.mark.parametrize(("winter", "summer"), DST_DAYS)
def test_local_office_hours_cover_0700_to_1600_utc_in_winter_and_0600_to_1500_in_summer(
    winter, summer
):
    profile = half_hour_profile(operating_time_only=True, operating_hours=OFFICE_HOURS)

    for day, first, last in ((winter, "07:00", "15:59"), (summer, "06:00", "14:59")):
        minutes = minute_times(f"{day}T00:00", 1440)
        operating = minutes[profile.operating_mask(minutes)]
        assert len(operating) == 9 * 60
        assert str(operating[0])[:16] == f"{day}T{first}"
        assert str(operating[-1])[:16] == f"{day}T{last}"


@pytest.mark.parametrize(("winter", "summer"), DST_DAYS)
def test_half_hours_around_the_dst_changes_operate_by_local_time(winter, summer):
    profile = half_hour_profile(operating_time_only=True, operating_hours=OFFICE_HOURS)
    friday, monday = sorted([winter, summer])
    ds = friday_and_monday(friday, monday, np.full(1440, 100.0))
    tuesday = str(np.datetime64(monday) + 1)

    ev = evaluation(report(ds, profile, friday, tuesday), "30min")

    # winter: 07:00-16:00 UTC operates
    assert status_at(ev, f"{winter}T06:30") == NOT_OPERATING
    assert status_at(ev, f"{winter}T07:00") == VALID
    assert status_at(ev, f"{winter}T15:30") == VALID
    assert status_at(ev, f"{winter}T16:00") == NOT_OPERATING
    # summer: 06:00-15:00 UTC operates
    assert status_at(ev, f"{summer}T05:30") == NOT_OPERATING
    assert status_at(ev, f"{summer}T06:00") == VALID
    assert status_at(ev, f"{summer}T14:30") == VALID
    assert status_at(ev, f"{summer}T15:00") == NOT_OPERATING
    # 4 days x 48 = 192 half-hours; 2 x 18 operate (9 h each), the weekend and nights do not
    found = statuses(ev)
    assert (len(found), found.count(VALID), found.count(NOT_OPERATING)) == (192, 36, 156)
    assert not ev.averages.is_discarded.any()


@pytest.mark.parametrize(("winter", "summer"), DST_DAYS)
def test_a_half_hour_peak_at_0630_utc_counts_in_summer_but_not_in_winter(winter, summer):
    profile = half_hour_profile(operating_time_only=True, operating_hours=OFFICE_HOURS)
    friday, monday = sorted([winter, summer])
    day = np.full(1440, 100.0)
    day[6 * 60 + 30 : 7 * 60] = 500.0  # 06:30-07:00 UTC: 08:30 local in summer, 07:30 in winter
    ds = friday_and_monday(friday, monday, day)

    detections = ComplianceDetector().detect(ds, profile)

    assert spans(detections) == [(utc(f"{summer}T06:30"), utc(f"{summer}T07:00"))]
    assert detections[0].value == pytest.approx(500.0)


# --- 4. gaps --------------------------------------------------------------------------------------


def test_a_half_hour_without_samples_is_reported_as_insufficient_data_not_dropped():
    times = np.concatenate(
        [minute_times("2026-01-05T10:00", 30), minute_times("2026-01-05T11:00", 30)]
    )
    ds = nox(half_hours(100, 100), times=times)

    ev = evaluation(report(ds, ied_profile(), "2026-01-05T10:00", "2026-01-05T11:30"), "30min")

    assert starts(ev) == ["2026-01-05T10:00", "2026-01-05T10:30", "2026-01-05T11:00"]
    assert statuses(ev) == [VALID, INSUFFICIENT, VALID]
    assert ev.averages.is_discarded[0].tolist() == [False, True, False]
    assert ev.averages.samples[0].tolist() == [30, 0, 30]
    assert np.isnan(ev.averages.mean[0, 1])


@pytest.mark.parametrize(("valid", "status"), [(22, INSUFFICIENT), (23, VALID)])
def test_22_of_30_samples_is_below_a_coverage_of_075_and_23_is_enough(valid, status):
    values = half_hours(500)
    values[valid:] = np.nan

    ev = evaluation(
        report(nox(values), ied_profile(), "2026-01-05T10:00", "2026-01-05T10:30"), "30min"
    )

    # 22/30 = 0.733 < 0.75 <= 23/30 = 0.767
    assert ev.averages.coverage[0, 0] == pytest.approx(valid / 30)
    assert statuses(ev) == [status]
    assert ev.averages.is_discarded[0, 0] == (status == INSUFFICIENT)
    # 500 - 40 = 460 > 400, but only a valid half-hour can exceed
    assert ev.above_limit[0, 0] == (status == VALID)


def test_a_run_of_exceeding_half_hours_split_by_a_gap_gives_two_detections():
    times = np.concatenate(
        [minute_times("2026-01-05T10:00", 60), minute_times("2026-01-05T11:30", 60)]
    )
    ds = nox(half_hours(500, 500, 500, 500), times=times)

    detections = ComplianceDetector().detect(ds, ied_profile())

    # 500 - 40 = 460 > 400 in 10:00, 10:30, 11:30, 12:00; 11:00-11:30 has no samples
    assert spans(detections) == [
        (utc("2026-01-05T10:00"), utc("2026-01-05T11:00")),
        (utc("2026-01-05T11:30"), utc("2026-01-05T12:30")),
    ]
    assert [d.evidence["n_windows"] for d in detections] == [2, 2]


# --- 5. operating time ----------------------------------------------------------------------------


@pytest.mark.parametrize(("valid", "status"), [(15, VALID), (14, INSUFFICIENT)])
def test_coverage_counts_the_operating_minutes_of_a_window_only(valid, status):
    # operating from Monday 10:10 UTC: the half-hour 10:00-10:30 has 20 operating minutes
    profile = half_hour_profile(
        operating_time_only=True,
        operating_hours={"timezone": "UTC", "weekly": {"mon": ["10:10-12:00"]}},
    )
    values = np.full(60, np.nan)  # 09:30 .. 10:29
    values[:40] = 900.0  # 09:30-10:09: outside operating time, ignored
    values[40 : 40 + valid] = 100.0  # from 10:10
    ds = nox(values, start="2026-01-05T09:30")

    ev = evaluation(report(ds, profile, "2026-01-05T09:30", "2026-01-05T10:30"), "30min")

    # 09:30-10:00 has no operating minute: no average due, nothing discarded, nothing above
    assert statuses(ev) == [NOT_OPERATING, status]
    assert ev.averages.is_discarded[0].tolist() == [False, status == INSUFFICIENT]
    assert not ev.above_limit.any()
    # 15/20 = 0.75 is valid (not 15/30 = 0.5); 14/20 = 0.70 is not
    assert ev.averages.samples[0, 1] == valid
    assert ev.averages.coverage[0, 1] == pytest.approx(valid / 20)
    assert ev.averages.mean[0, 1] == pytest.approx(100.0)  # the 900s before 10:10 do not count


def test_a_day_without_operating_time_has_no_daily_average_and_is_not_a_discarded_day():
    profile = ied_profile(
        operating_hours={
            "timezone": "UTC",
            "weekly": {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
        }
    )
    thursday = np.full(1440, np.nan)  # operating, but the analyser sent nothing valid
    friday = np.full(1440, 100.0)
    saturday = np.full(1440, 900.0)  # not operating: ignored
    ds = nox(np.concatenate([thursday, friday, saturday]), start="2026-01-08T00:00")

    results = report(ds, profile, "2026-01-08", "2026-01-11")
    daily, half_hourly = evaluation(results, "1d"), evaluation(results, "30min")

    assert statuses(daily) == [INSUFFICIENT, VALID, NOT_OPERATING]
    assert daily.averages.discarded[0].tolist() == [48, 0, 0]
    # Friday: 100 - 40 = 60 per half-hour, mean 60; Saturday has no average at all
    np.testing.assert_allclose(daily.averages.validated[0], [np.nan, 60.0, np.nan])
    [year] = daily.discarded_years[0]
    assert (year.year, year.discarded, year.allowed, year.passed) == (2026, 1, 10, True)
    assert statuses(half_hourly)[96:] == [NOT_OPERATING] * 48
    assert not half_hourly.above_limit.any()  # 900 - 40 = 860 > 400, but on Saturday


# --- 6. at most 5 discarded half-hours a day ------------------------------------------------------

DISCARDED = -1.0


def day_of_half_hours(*levels: float) -> np.ndarray:
    """48 half-hours; a DISCARDED one holds 10 samples of 900 (coverage 1/3) and 20 gaps."""
    assert len(levels) == 48
    values = half_hours(*levels)
    for i, level in enumerate(levels):
        if level == DISCARDED:
            values[30 * i : 30 * i + 10] = 900.0
            values[30 * i + 10 : 30 * (i + 1)] = np.nan
    return values


def test_a_day_with_exactly_five_discarded_half_hours_is_valid_and_averages_the_43_validated():
    # 5 discarded, 40 at 230 and 3 at 273: validated 190 and 233
    values = day_of_half_hours(*[DISCARDED] * 5, *[230.0] * 40, *[273.0] * 3)
    ds = nox(values, start="2026-01-05T00:00")

    daily = evaluation(report(ds, ied_profile(), "2026-01-05", "2026-01-06"), "1d")

    assert statuses(daily) == [VALID]
    assert (daily.averages.samples[0, 0], daily.averages.discarded[0, 0]) == (43, 5)
    # (40*190 + 3*233) / 43 = (7600 + 699) / 43 = 8299 / 43 = 193 <= 200; the 900s do not count
    assert daily.averages.validated[0, 0] == pytest.approx(193.0)
    # measured: (40*230 + 3*273) / 43 = 10019 / 43 = 233
    assert daily.averages.mean[0, 0] == pytest.approx(233.0)
    assert daily.averages.coverage[0, 0] == pytest.approx(43 / 48)
    assert not daily.above_limit.any()


def test_six_discarded_half_hours_invalidate_the_daily_average():
    # 42 half-hours at 300 would validate to 260 > 200, but the day is not valid
    values = day_of_half_hours(*[DISCARDED] * 6, *[300.0] * 42)
    ds = nox(values, start="2026-01-05T00:00")

    daily = evaluation(report(ds, ied_profile(), "2026-01-05", "2026-01-06"), "1d")

    assert statuses(daily) == [TOO_MANY]
    assert (daily.averages.samples[0, 0], daily.averages.discarded[0, 0]) == (42, 6)
    assert daily.averages.is_discarded[0, 0]
    assert not daily.above_limit.any()
    assert ComplianceDetector().detect(ds, ied_profile()) == []


def test_the_daily_average_of_validated_half_hours_is_not_reduced_by_the_interval_again():
    # 40 at 250 and 3 at 293 validate to 210 and 253: (40*210 + 3*253) / 43 = 9159 / 43 = 213
    # 213 > 200 exceeds; subtracting 40 a second time (173) would hide it
    values = day_of_half_hours(*[DISCARDED] * 5, *[250.0] * 40, *[293.0] * 3)
    ds = nox(values, start="2026-01-05T00:00")

    daily = evaluation(report(ds, ied_profile(), "2026-01-05", "2026-01-06"), "1d")
    [d] = ComplianceDetector().detect(ds, ied_profile())

    assert daily.averages.validated[0, 0] == pytest.approx(213.0)
    assert daily.averages.mean[0, 0] == pytest.approx(253.0)  # (40*250 + 3*293) / 43
    assert daily.above_limit[0].tolist() == [True]
    assert d.evidence["limit"]["average"] == "1d"
    assert (d.start, d.end) == (utc("2026-01-05T00:00"), utc("2026-01-06T00:00"))
    assert d.value == pytest.approx(213.0)


def test_the_daily_average_weighs_every_valid_half_hour_equally_whatever_its_samples():
    # 47 full half-hours at 100 and one of 23 samples at 580: validated 60 and 540
    values = half_hours(*[100.0] * 47, 580.0)
    values[-7:] = np.nan
    ds = nox(values, start="2026-01-05T00:00")

    daily = evaluation(report(ds, ied_profile(), "2026-01-05", "2026-01-06"), "1d")

    # (47*60 + 540) / 48 = 3360 / 48 = 70; weighing samples would give
    # (1410*100 + 23*580) / 1433 - 40 = 67.7
    assert daily.averages.validated[0, 0] == pytest.approx(70.0)
    assert statuses(daily) == [VALID]


# --- 7. at most 10 discarded days a year ----------------------------------------------------------


@pytest.mark.parametrize(("discarded_days", "passed"), [(10, True), (11, False)])
def test_more_than_ten_discarded_days_in_a_year_break_the_allowance(discarded_days, passed):
    # one sample per half-hour all of 2026: 365 x 48 = 17520
    times = t("2026-01-01") + np.arange(365 * 48) * np.timedelta64(30, "m")
    values = np.full(len(times), 100.0)
    for k in range(discarded_days):  # 6 half-hours missing on days 0, 30, 60, ...
        day = 30 * k
        values[48 * day : 48 * day + 6] = np.nan
    ds = nox(values, times=times)

    daily = evaluation(report(ds, ied_profile(), "2026-01-01", "2027-01-01"), "1d")

    found = statuses(daily)
    assert (len(found), found.count(TOO_MANY)) == (365, discarded_days)
    assert daily.discarded_years[0] == [
        DiscardedYear(year=2026, discarded=discarded_days, allowed=10, complete=True)
    ]
    assert daily.discarded_years[0][0].passed is passed


# --- 8. percentile rules over a calendar year, month or day -------------------------------------


@pytest.mark.parametrize(("above", "passed", "value"), [(3, True, 100.0), (4, False, 500.0)])
def test_97_of_100_ten_minute_averages_within_the_limit_pass_p97_over_the_day(above, passed, value):
    profile = one_limit_profile(
        {
            "substance": "NOx",
            "unit": "mg/m3",
            "value": 200,
            "average": "10min",
            "rule": {"percentile": 97, "over": "day"},
        }
    )
    levels = np.full(144, 100.0)
    levels[:44] = np.nan  # 00:00-07:20: no data, 100 valid ten-minute averages remain
    levels[44 : 44 + above] = 500.0
    ds = nox(np.repeat(levels, 10), start="2026-01-05T00:00")

    ev = evaluation(report(ds, profile, "2026-01-05", "2026-01-06"), "10min")

    [outcome] = ev.percentile[0]
    assert (outcome.start, outcome.end) == (t("2026-01-05"), t("2026-01-06"))
    # 97/100 = 97 % >= 97 % passes; 96/100 fails
    assert (outcome.valid, outcome.within) == (100, 100 - above)
    assert outcome.passed is passed
    assert outcome.complete
    # inverted_cdf P97 of 100 values: the 97th smallest
    validated = ev.averages.validated[0][ev.averages.valid[0]]
    assert outcome.percentile_value == np.percentile(validated, 97, method="inverted_cdf")
    assert outcome.percentile_value == value
    detections = ComplianceDetector().detect(ds, profile)
    assert [(d.rule, d.value) for d in detections] == ([] if passed else [("P97/day", 500.0)])


@pytest.mark.parametrize(("above", "passed", "value"), [(40, True, 100.0), (41, False, 500.0)])
def test_p97_over_a_month_allows_40_of_the_1344_half_hours_of_february_above_the_limit(
    above, passed, value
):
    profile = half_hour_profile(200, rule={"percentile": 97, "over": "month"})
    # one sample per half-hour: February 2026 has 28 x 48 = 1344
    times = t("2026-02-01") + np.arange(1344) * np.timedelta64(30, "m")
    values = np.full(1344, 100.0)
    values[100 : 100 + above] = 500.0
    ds = nox(values, times=times)

    ev = evaluation(report(ds, profile, "2026-02-01", "2026-03-01"), "30min")

    [outcome] = ev.percentile[0]
    # 1304/1344 = 97.02 % >= 97 % (130400 >= 97*1344 = 130368); 1303/1344 = 96.95 % fails
    assert (outcome.valid, outcome.within) == (1344, 1344 - above)
    assert outcome.passed is passed
    assert outcome.complete
    # inverted_cdf P97 of 1344 values: the ceil(0.97*1344) = 1304th smallest
    assert outcome.percentile_value == np.percentile(values, 97, method="inverted_cdf")
    assert outcome.percentile_value == value


@pytest.mark.parametrize(("above", "passed"), [(10, None), (525, None), (526, False)])
def test_a_month_report_of_a_yearly_p97_rule_stays_open_until_failure_is_certain(above, passed):
    profile = half_hour_profile(200, rule={"percentile": 97, "over": "year"})
    # January 2026, one sample per half-hour: 31 x 48 = 1488 of the year's 365 x 48 = 17520
    times = t("2026-01-01") + np.arange(1488) * np.timedelta64(30, "m")
    values = np.full(1488, 100.0)
    values[:above] = 500.0
    ds = nox(values, times=times)

    ev = evaluation(report(ds, profile, "2026-01-01", "2026-02-01"), "30min")

    [outcome] = ev.percentile[0]
    assert (outcome.start, outcome.end) == (t("2026-01-01"), t("2027-01-01"))
    assert not outcome.complete
    assert (outcome.valid, outcome.within) == (1488, 1488 - above)
    # best case: the other 16032 half-hours of the year all within: (17520 - above) / 17520
    # 525 above: 16995*100 = 1699500 >= 97*17520 = 1699440, may still pass;
    # 526 above: 1699400 < 1699440, fails whatever comes
    assert outcome.passed is passed


@pytest.mark.parametrize(("above", "passed"), [(40, None), (41, False)])
def test_a_month_still_filling_up_fails_p97_only_once_failure_is_certain(above, passed):
    profile = half_hour_profile(200, rule={"percentile": 97, "over": "month"})
    # the first 14 days of February 2026, one sample per half-hour: 672 of the month's 1344
    times = t("2026-02-01") + np.arange(672) * np.timedelta64(30, "m")
    values = np.full(672, 100.0)
    values[:above] = 500.0
    ds = nox(values, times=times)

    ev = evaluation(report(ds, profile, "2026-02-01", "2026-03-01"), "30min")

    [outcome] = ev.percentile[0]
    assert not outcome.complete
    assert (outcome.valid, outcome.within) == (672, 672 - above)
    # best case (the 672 pending half-hours all within): 40 above -> 1304/1344 may pass;
    # 41 above -> 1303/1344 < 97 % whatever comes
    assert outcome.passed is passed
    assert statuses(ev).count(PENDING) == 672


# --- 9. CO: 95 % of the 10-minute averages in any 24 hours ----------------------------------------


def co_profile() -> MbaProfile:
    return source_profile(
        {
            "substance": "CO",
            "unit": "mg/m3",
            "value": 50,
            "average": "1d",
            "confidence_interval": 10,
            "from_average": "30min",
            "max_discarded": 5,
            "rule": {"percentile": 97, "over": "year"},
        },
        {
            "substance": "CO",
            "unit": "mg/m3",
            "value": 150,
            "average": "10min",
            "confidence_interval": 10,
            "confidence_interval_basis": "1d",
            "rule": {"percentile": 95, "over": "any_24h"},
        },
    )


def two_days_of_co(above: int) -> Any:
    """Every minute of 5 and 6 January at 40; ``above`` 10-minute blocks at 200 from 6 Jan 12:00."""
    values = np.full(2 * 1440, 40.0)
    noon = 1440 + 12 * 60
    values[noon : noon + 10 * above] = 200.0
    return stream("test-mba", "2026-01-05T00:00", {"CO": values}, sensors=("cems-1",))


@pytest.mark.parametrize(("above", "failed", "worst"), [(7, 0, 137 / 144), (8, 65, 136 / 144)])
def test_95_percent_of_the_144_ten_minute_co_averages_in_any_24_hours_within_150(
    above, failed, worst
):
    ds = two_days_of_co(above)

    ev = evaluation(report(ds, co_profile(), "2026-01-06", "2026-01-07"), "10min")

    # CI 10 % of the daily 50 = 5: 40 -> 35, 200 -> 195 > 150
    assert ev.confidence_interval == pytest.approx(5.0)
    rolling = ev.rolling[0]
    assert rolling is not None
    # the 24 h ending in 6 January: 144 blocks, starting 5 Jan 00:10 .. 6 Jan 00:00
    assert rolling.judged == 144
    # 137/144 = 95.1 % >= 95 %; 136/144 = 94.4 % < 95 % in every block holding all 8
    # (blocks starting 5 Jan 13:20 .. 6 Jan 00:00: 64 steps of 10 min + 1 = 65)
    assert rolling.failed == failed
    assert rolling.worst_fraction == pytest.approx(worst)
    assert len(rolling.failing) == (1 if failed else 0)
    if failed:
        [run] = rolling.failing
        assert (run.start, run.end) == (t("2026-01-05T13:20"), t("2026-01-07T00:00"))
        assert (run.valid, run.within) == (144, 136)
        # inverted_cdf P95 of 144: the ceil(0.95*144) = 137th smallest, one of the 195s
        assert run.percentile_value == pytest.approx(195.0)


@pytest.mark.parametrize(("above", "detected"), [(7, False), (8, True)])
def test_a_failing_run_of_24_hour_co_blocks_is_one_live_detection(above, detected):
    detections = ComplianceDetector().detect(two_days_of_co(above), co_profile())

    if not detected:
        assert detections == []
        return
    [d] = detections
    assert (d.kind, d.rule, d.substance, d.average) == ("exceedance", "P95/any_24h", "CO", "10min")
    assert (d.start, d.end) == (utc("2026-01-05T13:20"), utc("2026-01-07T00:00"))
    assert d.value == pytest.approx(195.0)
    assert d.limit == 150.0
    assert d.evidence["rule"]["within_limit"] == 136
    assert d.evidence["rule"]["valid_averages"] == 144


def test_24_hour_co_blocks_reaching_before_the_data_are_not_judged():
    # the data begins with one 10-minute average at 200: a block ending at 00:10 would
    # hold 1 valid average of 1 above (0 % within), standing for a whole day it never saw
    values = np.full(1440, 40.0)
    values[:10] = 200.0
    ds = stream("test-mba", "2026-01-05T00:00", {"CO": values}, sensors=("cems-1",))

    ev = evaluation(report(ds, co_profile(), "2026-01-05", "2026-01-06"), "10min")

    rolling = ev.rolling[0]
    assert rolling is not None
    assert (rolling.judged, rolling.failed) == (1, 0)  # only the block 00:00-24:00
    assert rolling.worst_fraction == pytest.approx(143 / 144)
    assert ComplianceDetector().detect(ds, co_profile()) == []


# --- 10. peaks: 1-minute values above 4 x the limit ---------------------------------------------


def peak_profile() -> MbaProfile:
    return half_hour_profile(100, confidence_interval=20, peak={"factor": 4, "average": "1min"})


def test_one_minute_values_above_four_times_the_limit_are_peaks_without_confidence_interval():
    values = np.full(30, 100.0)
    values[10] = 401.0  # 10:10: > 4 x 100 (401 - 20 = 381 would not be, were the CI subtracted)
    values[20] = 400.0  # 10:20: exactly 4 x 100, not above
    values[25] = 420.0  # 10:25
    ds = nox(values)

    detections = PeakDetector().detect(ds, peak_profile())

    assert spans(detections) == [
        (utc("2026-01-05T10:10"), utc("2026-01-05T10:11")),
        (utc("2026-01-05T10:25"), utc("2026-01-05T10:26")),
    ]
    assert [d.value for d in detections] == [pytest.approx(401.0), pytest.approx(420.0)]
    for d in detections:
        assert (d.detector, d.kind, d.rule, d.average) == ("peak", "peak", "peak x4", "1min")
        assert d.limit == 400.0
        assert d.evidence["confidence_interval_subtracted"] == 0.0


def test_a_peak_report_compares_one_minute_averages_with_four_times_the_limit():
    values = np.full(30, 100.0)
    values[[10, 20, 25]] = [401.0, 400.0, 420.0]

    [ev] = report(nox(values), peak_profile(), "2026-01-05T10:00", "2026-01-05T10:30", ("peak",))

    assert isinstance(ev, LimitEvaluation)
    assert (ev.check.kind, ev.limit_value, ev.confidence_interval) == ("peak", 400.0, 0.0)
    assert np.flatnonzero(ev.above_limit[0]).tolist() == [10, 25]


# --- 11. reference O2 ----------------------------------------------------------------------------


def o2_profile(value: float = 350) -> MbaProfile:
    return half_hour_profile(value, reference_o2=11)


def test_300_measured_at_13_percent_o2_is_375_at_the_reference_11_percent():
    ds = stream(
        "test-mba",
        "2026-01-05T10:00",
        {"NOx": np.full(30, 300.0), "O2": np.full(30, 13.0)},
        sensors=("cems-1",),
    )

    ev = evaluation(report(ds, o2_profile(), "2026-01-05T10:00", "2026-01-05T10:30"), "30min")

    # 300 * (21 - 11) / (21 - 13) = 300 * 10 / 8 = 375 > 350 (the raw 300 is not)
    assert ev.averages.mean[0, 0] == pytest.approx(375.0)
    assert ev.above_limit[0].tolist() == [True]


def test_the_o2_correction_is_applied_to_each_sample_before_averaging():
    o2 = np.concatenate([np.full(15, 13.0), np.full(15, 5.0)])
    ds = stream(
        "test-mba",
        "2026-01-05T10:00",
        {"NOx": np.full(30, 300.0), "O2": o2},
        sensors=("cems-1",),
    )

    ev = evaluation(report(ds, o2_profile(), "2026-01-05T10:00", "2026-01-05T10:30"), "30min")

    # per sample: 300*10/8 = 375 and 300*10/16 = 187.5, mean 281.25
    # (correcting the mean instead, at the mean O2 of 9 %: 300*10/12 = 250)
    assert ev.averages.mean[0, 0] == pytest.approx(281.25)
    assert not ev.above_limit.any()


def test_missing_o2_leaves_the_limit_unevaluated_with_an_error_naming_the_sensor():
    ds = nox(np.full(30, 300.0))

    [result] = report(ds, o2_profile(), "2026-01-05T10:00", "2026-01-05T10:30")

    assert isinstance(result, Unevaluated)
    assert isinstance(result.error, ReferenceConditionError)
    assert "cems-1" in result.reason
    assert "11.0% O2" in result.reason
    with pytest.raises(ReferenceConditionError, match="the stream of cems-1 has no O2"):
        ComplianceDetector().detect(ds, o2_profile())


# --- 12. a report over a period the data does not reach yet ---------------------------------------


def test_windows_ending_after_the_data_are_pending_in_a_report_not_discarded():
    # 00:00 .. 10:44: the data reaches 10:44 + 1 min = 10:45
    ds = nox(np.full(645, 100.0), start="2026-01-05T00:00")

    results = report(ds, ied_profile(), "2026-01-05", "2026-01-06")
    half_hourly, daily = evaluation(results, "30min"), evaluation(results, "1d")

    # 21 half-hours end by 10:30; 10:30-11:00 holds 15 samples (0.5) but is still filling up
    assert statuses(half_hourly) == [VALID] * 21 + [PENDING] * 27
    assert half_hourly.averages.samples[0, 21] == 15
    assert not half_hourly.averages.is_discarded.any()
    assert statuses(daily) == [PENDING]
    assert daily.averages.discarded[0].tolist() == [0]
    [year] = daily.discarded_years[0]
    assert (year.discarded, year.complete) == (0, False)
