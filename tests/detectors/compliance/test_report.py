"""Inspectors read a compliance report per MBA, source, sensor and limit over a period."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vth.detectors.compliance.period import ReportPeriod
from vth.detectors.compliance.report import ComplianceReport, LimitReport, compliance_report
from vth.detectors.compliance.table import reason_lines, report_table
from vth.detectors.errors import PeriodError
from vth.models import MbaProfile
from vth.sensing import open_streams

from ..builders import GASTURBINE_NC, half_hours, stream


def limit_row(
    report: ComplianceReport, source: str, substance: str, average: str, rule: str = "all"
) -> list[LimitReport]:
    wanted = (source, substance, average, rule)
    return [
        lim
        for m in report.mbas
        for lim in m.limits
        if (lim.source_id, lim.substance, lim.average, lim.rule) == wanted
    ]


# --- periods ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026", "2026-01-01", "2027-01-01"),
        ("2026-02", "2026-02-01", "2026-03-01"),
        ("2028-02", "2028-02-01", "2028-03-01"),
        ("2026-12", "2026-12-01", "2027-01-01"),
        ("2026-03-29", "2026-03-29", "2026-03-30"),
        ("2026-01-01/2026-03-31", "2026-01-01", "2026-04-01"),  # a date END is inclusive
        ("2026-01-01T06:00/2026-01-01T18:00", "2026-01-01T06:00", "2026-01-01T18:00"),
        ("2026-03-29T00:00+01:00/2026-03-29T12:00+02:00", "2026-03-28T23:00", "2026-03-29T10:00"),
    ],
)
def test_periods_are_read_as_utc_spans(text: str, start: str, end: str):
    period = ReportPeriod.parse(text)
    assert (period.start, period.end) == (
        np.datetime64(start, "ns"),
        np.datetime64(end, "ns"),
    )
    assert period.label == text


@pytest.mark.parametrize("text", ["2026-13", "january", "26-01", "2026-02-01/2026-01-01", "2026/x"])
def test_an_unreadable_period_says_which_forms_are_accepted(text: str):
    with pytest.raises(PeriodError) as info:
        ReportPeriod.parse(text)
    assert repr(text) in str(info.value)


def test_without_a_period_the_report_covers_the_whole_days_of_the_data():
    times = np.array(["2026-01-05T10:17", "2026-01-07T03:00"], dtype="datetime64[ns]")
    period = ReportPeriod.covering(times)
    assert (str(period.start), str(period.end)) == (
        "2026-01-05T00:00:00.000000000",
        "2026-01-08T00:00:00.000000000",
    )


# --- the real gas turbine against its hypothetical permit ---------------------------------


@pytest.fixture(scope="module")
def gasturbine() -> dict[str, xr.Dataset]:
    return open_streams(GASTURBINE_NC)


def test_the_gas_turbine_march_report_matches_pandas_hourly_and_daily_means(
    gasturbine: dict[str, xr.Dataset], profiles: dict[str, MbaProfile]
):
    report = compliance_report(gasturbine, profiles, ReportPeriod.parse("2011-03"))

    ds = gasturbine["gasturbine-maasvlakte"]
    nox = pd.Series(ds["NOx"].values[0], index=pd.DatetimeIndex(ds["time"].values))
    march = nox["2011-03-01":"2011-03-31 23:59"]
    hourly = march.resample("1h").mean()
    daily_counts = march.resample("1D").count()
    daily = march.resample("1D").mean()[daily_counts >= 0.75 * 24]
    [hour_row] = limit_row(report, "gt-1", "NOx", "1h")
    [day_row] = limit_row(report, "gt-1", "NOx", "1d")
    assert hour_row.windows is not None and day_row.windows is not None
    assert hour_row.windows.total == 31 * 24
    assert hour_row.windows.valid == int(hourly.notna().sum())
    assert hour_row.exceedances == int((hourly > 100).sum()) > 0
    assert hour_row.max_validated == pytest.approx(hourly.max(), abs=1e-3)
    assert [w.start[:13] for w in hour_row.exceeding_windows] == [
        t.strftime("%Y-%m-%dT%H") for t in hourly.index[hourly > 100]
    ]
    assert day_row.windows.valid == len(daily)
    assert day_row.exceedances == int((daily > 80).sum())
    assert hour_row.verdict == "non-compliant"
    assert hour_row.reasons == [f"{hour_row.exceedances} 1h average(s) above 100 mg/m3"]
    assert report.mbas[0].verdict == "non-compliant"
    assert report.verdict == "non-compliant"


def test_a_year_report_past_the_end_of_the_data_keeps_the_rest_pending(
    gasturbine: dict[str, xr.Dataset], profiles: dict[str, MbaProfile]
):
    report = compliance_report(gasturbine, profiles, ReportPeriod.parse("2011"))

    [co] = limit_row(report, "gt-1", "CO", "1h")
    assert co.windows is not None
    assert co.windows.total == 365 * 24
    assert co.windows.pending > 0  # the data ends on 5 November
    assert co.windows.valid + co.windows.discarded + co.windows.pending == co.windows.total
    assert report.data_end is not None and report.data_end.month == 11


def test_the_report_round_trips_through_json(
    gasturbine: dict[str, xr.Dataset], profiles: dict[str, MbaProfile]
):
    report = compliance_report(gasturbine, profiles, ReportPeriod.parse("2011-03"))

    text = report.model_dump_json()
    assert ComplianceReport.model_validate_json(text) == report
    data = json.loads(text)
    assert data["period"] == "2011-03"
    assert data["period_start"] == "2011-03-01T00:00:00Z"
    assert {lim["verdict"] for lim in data["mbas"][0]["limits"]} <= {"compliant", "non-compliant"}


# --- the incinerator: verdicts other than compliant ---------------------------------------


def avi_day(nox_levels: list[float], with_o2: bool = False) -> dict[str, xr.Dataset]:
    """One day of AVI Rozenburg line 1: NOx per half-hour (NaN: no data), maybe O2."""
    variables: dict[str, object] = {"NOx": half_hours(*nox_levels)}
    attrs = {}
    if with_o2:
        variables["O2"] = np.full(len(nox_levels) * 30, 11.0)
    else:
        attrs = {"NOx": {"reference_o2": 11.0}}
    return {"avi-rozenburg": stream("avi-rozenburg", "2026-01-05T00:00", variables, attrs=attrs)}


def test_a_day_with_six_discarded_half_hours_is_reported_with_those_windows(
    profiles: dict[str, MbaProfile],
):
    levels = [150.0] * 48
    for i in (3, 9, 10, 20, 30, 40):
        levels[i] = np.nan
    report = compliance_report(avi_day(levels), profiles, ReportPeriod.parse("2026-01-05"))

    [half_hour] = limit_row(report, "line-1", "NOx", "30min")
    assert half_hour.windows is not None
    assert (half_hour.windows.valid, half_hour.windows.discarded) == (42, 6)
    assert [w.start[11:16] for w in half_hour.discarded_windows] == [
        "01:30", "04:30", "05:00", "10:00", "15:00", "20:00",
    ]  # fmt: skip
    assert {w.status for w in half_hour.discarded_windows} == {"insufficient data"}
    assert half_hour.verdict == "compliant"
    assert half_hour.reasons == ["6 of 48 averages discarded (too few samples)"]
    [daily] = limit_row(report, "line-1", "NOx", "1d")
    assert daily.windows is not None
    assert (daily.windows.valid, daily.windows.discarded) == (0, 1)
    assert daily.discarded_windows[0].status == "too many discarded"
    assert daily.discarded_windows[0].discarded == 6
    assert daily.verdict == "insufficient data"
    [year] = daily.discarded_per_year
    assert (year.year, year.discarded, year.allowed, year.passed) == (2026, 1, 10, True)


def test_a_limit_at_reference_o2_without_o2_in_the_data_is_an_error_the_others_still_report(
    profiles: dict[str, MbaProfile],
):
    data = avi_day([150.0] * 48)
    data["avi-rozenburg"]["NOx"].attrs.pop("reference_o2")

    report = compliance_report(data, profiles, ReportPeriod.parse("2026-01-05"))

    [half_hour] = limit_row(report, "line-1", "NOx", "30min")
    assert half_hour.verdict == "error"
    assert "has no O2" in half_hour.reasons[0] and "cems-l1" in half_hour.reasons[0]
    assert any("avi-rozenburg/line-1 NOx 30min: " in error for error in report.errors)
    assert report.mbas[0].verdict == "error"  # nothing above a limit, so the error is worst


def test_limits_nobody_measures_are_reported_as_not_measured(profiles: dict[str, MbaProfile]):
    report = compliance_report(avi_day([150.0] * 48), profiles, ReportPeriod.parse("2026-01-05"))

    [so2] = limit_row(report, "line-1", "SO2", "30min")
    assert (so2.verdict, so2.sensor_id) == ("not measured", None)
    assert "no SO2" in so2.reasons[0]
    [line2] = limit_row(report, "line-2", "NOx", "30min", "P97/year")
    assert line2.verdict == "not measured"
    assert "no sensor in the data measures source line-2" in line2.reasons[0]


def test_measured_o2_corrects_the_averages_in_the_report(profiles: dict[str, MbaProfile]):
    data = avi_day([150.0] * 48, with_o2=True)
    data["avi-rozenburg"]["O2"].values[:] = 13.0  # 150 * 10 / 8 = 187.5 at 11 % O2

    report = compliance_report(data, profiles, ReportPeriod.parse("2026-01-05"))

    [daily] = limit_row(report, "line-1", "NOx", "1d")
    assert daily.max_validated == pytest.approx(187.5 - 40)  # validated half-hours averaged
    assert daily.verdict == "compliant"


def test_a_month_report_of_a_yearly_percentile_rule_is_provisional(
    profiles: dict[str, MbaProfile],
):
    data = avi_day([150.0] * 48)
    data["avi-rozenburg"] = data["avi-rozenburg"].assign_coords(sensor=["cems-l2"])

    report = compliance_report(data, profiles, ReportPeriod.parse("2026-01-05"))

    [column_b] = limit_row(report, "line-2", "NOx", "30min", "P97/year")
    assert column_b.verdict == "provisional"
    [year] = column_b.percentile
    assert (year.valid, year.within, year.passed, year.complete) == (48, 48, None, False)
    assert year.percentile_value == pytest.approx(110.0)  # 150 - 40


def test_a_day_without_operating_time_is_reported_as_not_operating(
    profiles: dict[str, MbaProfile],
):
    sunday = stream(
        "tankopslag-europoort",
        "2026-01-04T00:00",
        {"TOC": np.full(22 * 60, 2.0)},  # 00:00-22:00 UTC, all of it a Sunday in CET
        sensors=("cems-vru1",),
        units={"TOC": "g/m3"},
    )

    report = compliance_report(
        {"tankopslag-europoort": sunday},
        profiles,
        ReportPeriod.parse("2026-01-04T00:00/2026-01-04T22:00"),
    )

    [toc] = limit_row(report, "vru-1", "TOC", "1h")
    assert toc.windows is not None
    assert toc.windows.not_operating == toc.windows.total == 22
    assert toc.verdict == "not operating"


def test_the_table_shows_every_limit_and_the_reasons_of_those_not_compliant(
    gasturbine: dict[str, xr.Dataset], profiles: dict[str, MbaProfile]
):
    from rich.console import Console

    report = compliance_report(gasturbine, profiles, ReportPeriod.parse("2011-03"))
    console = Console(width=200, record=True)
    console.print(report_table(report))
    text = console.export_text()

    assert "Compliance 2011-03" in text
    assert text.count("gt-1") == 3
    assert "non-compliant" in text and "compliant" in text
    lines = reason_lines(report)
    assert any("NOx 1h all: " in line for line in lines)
    assert not any("CO 1h" in line for line in lines)
