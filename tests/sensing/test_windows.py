"""Averages over clock-aligned windows: half-hours at :00 and :30, days at midnight UTC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vth.sensing import StreamFormatError
from vth.sensing.reference import to_reference_o2
from vth.sensing.windows import runs, window_averages, window_ids

MINUTE = np.timedelta64(60, "s")
MINUTE_NS = 60 * 10**9


def minutes(start: str, n: int, step: int = 1) -> np.ndarray:
    return np.datetime64(start, "ns") + np.arange(0, n * step, step) * MINUTE


def stamps(*values: str) -> np.ndarray:
    return np.array(values, dtype="datetime64[ns]")


# --- alignment -------------------------------------------------------------------------------


def test_half_hours_start_at_the_hour_and_half_past_whatever_the_first_sample():
    times = minutes("2026-01-05T10:17", 31)  # 10:17 .. 10:47

    w = window_averages(np.ones((1, 31)), times, "30min")

    np.testing.assert_array_equal(w.start, stamps("2026-01-05T10:00", "2026-01-05T10:30"))
    np.testing.assert_array_equal(w.end, stamps("2026-01-05T10:30", "2026-01-05T11:00"))
    assert w.count.tolist() == [[13, 18]]


def test_hours_and_days_roll_over_at_midnight_utc():
    times = minutes("2026-01-05T23:50", 20)  # 23:50 .. 00:09

    hours = window_averages(np.arange(20.0)[None, :], times, "1h")
    days = window_averages(np.arange(20.0)[None, :], times, "1d")

    np.testing.assert_array_equal(hours.start, stamps("2026-01-05T23:00", "2026-01-06T00:00"))
    np.testing.assert_array_equal(days.start, stamps("2026-01-05", "2026-01-06"))
    np.testing.assert_array_equal(days.end, stamps("2026-01-06", "2026-01-07"))
    np.testing.assert_allclose(hours.mean, [[4.5, 14.5]])


def test_ten_minute_windows_align_to_the_clock():
    w = window_averages(
        np.ones((1, 3)),
        stamps("2026-01-05T10:09:59", "2026-01-05T10:10", "2026-01-05T10:19:59"),
        "10min",
    )

    np.testing.assert_array_equal(w.start, stamps("2026-01-05T10:00", "2026-01-05T10:10"))
    assert w.count.tolist() == [[1, 2]]


def test_months_end_on_the_last_day_including_february():
    times = stamps("2026-02-28T23:59", "2026-03-01T00:00", "2024-02-29T12:00")[
        [2, 0, 1]
    ]  # leap-year February 2024 first

    w = window_averages(np.array([[1.0, 2.0, 3.0]]), times, "1mo")

    np.testing.assert_array_equal(w.start, stamps("2024-02-01", "2026-02-01", "2026-03-01"))
    np.testing.assert_array_equal(w.end, stamps("2024-03-01", "2026-03-01", "2026-04-01"))
    np.testing.assert_allclose(w.mean, [[1.0, 2.0, 3.0]])


def test_december_rolls_over_into_january_of_the_next_year():
    times = stamps("2026-12-31T23:59", "2027-01-01T00:00")

    w = window_averages(np.array([[5.0, 7.0]]), times, "1mo")

    np.testing.assert_array_equal(w.start, stamps("2026-12-01", "2027-01-01"))
    np.testing.assert_array_equal(w.end, stamps("2027-01-01", "2027-02-01"))
    assert w.index[1] == w.index[0] + 1  # consecutive windows across the year end


def test_an_unknown_period_is_refused_listing_the_known_ones():
    with pytest.raises(StreamFormatError, match=r"unknown averaging period '2h'.*'30min'"):
        window_ids(stamps("2026-01-05T10:00"), "2h")


# --- coverage and completeness ----------------------------------------------------------------


def test_coverage_counts_nan_samples_as_missing():
    values = np.full((1, 30), 100.0)
    values[0, 5:15] = np.nan  # ten invalid minutes

    w = window_averages(values, minutes("2026-01-05T10:00", 30), "30min")

    assert w.count.tolist() == [[20]]
    assert w.coverage[0, 0] == pytest.approx(20 / 30)
    assert w.mean[0, 0] == 100.0
    assert bool(w.complete[0, 0])


def test_coverage_counts_absent_timestamps_as_missing():
    times = np.concatenate([minutes("2026-01-05T10:00", 10), minutes("2026-01-05T10:25", 5)])

    w = window_averages(np.ones((1, 15)), times, "30min")

    assert w.coverage[0, 0] == pytest.approx(15 / 30)


def test_coverage_uses_a_given_sampling_interval():
    times = minutes("2026-01-05T10:00", 30, step=2)[:12]  # every 2 min, 24 minutes of data

    inferred = window_averages(np.ones((1, 12)), times, "30min")
    per_minute = window_averages(np.ones((1, 12)), times, "30min", np.array([MINUTE_NS]))

    assert inferred.coverage[0, 0] == pytest.approx(12 / 15)
    assert per_minute.coverage[0, 0] == pytest.approx(12 / 30)


def test_a_window_still_filling_up_is_not_complete():
    values = np.ones((2, 45))
    values[1, 30:] = np.nan  # sensor 2 stopped at 10:29

    w = window_averages(values, minutes("2026-01-05T10:00", 45), "30min")  # to 10:44

    # sensor 1 is still reporting: [10:30, 11:00) fills up; sensor 2 reached 10:30 only
    assert w.complete.tolist() == [[True, False], [True, False]]
    assert w.count.tolist() == [[30, 15], [30, 0]]
    assert np.isnan(w.mean[1, 1])
    assert w.coverage[1, 1] == 0


def test_a_window_is_complete_once_the_last_sample_plus_one_interval_reaches_its_end():
    w = window_averages(np.ones((1, 60)), minutes("2026-01-05T10:00", 60), "30min")  # to 10:59

    assert w.complete.tolist() == [[True, True]]


def test_each_sensor_gets_its_own_average_and_maximum():
    values = np.array([[1.0, 2.0, 3.0, 4.0], [10.0, np.nan, 30.0, np.nan]])

    w = window_averages(values, minutes("2026-01-05T10:28", 4), "30min")

    np.testing.assert_allclose(w.mean, [[1.5, 3.5], [10.0, 30.0]])
    np.testing.assert_allclose(w.maximum, [[2.0, 4.0], [10.0, 30.0]])


def test_no_times_give_no_windows():
    w = window_averages(np.zeros((2, 0)), np.zeros(0, "datetime64[ns]"), "1h")

    assert w.n_windows == 0
    assert w.mean.shape == (2, 0)


# --- runs --------------------------------------------------------------------------------------


def test_consecutive_flagged_windows_form_one_run():
    assert runs(np.array([False, True, True, True, False]), np.arange(5)) == [(1, 3)]


def test_an_unflagged_window_splits_runs():
    assert runs(np.array([True, False, True]), np.arange(3)) == [(0, 0), (2, 2)]


def test_a_gap_in_window_numbers_splits_runs():
    # windows 10, 11 and 13 hold data; 12 had none
    assert runs(np.array([True, True, True]), np.array([10, 11, 13])) == [(0, 1), (2, 2)]


def test_no_flags_no_runs():
    assert runs(np.zeros(4, dtype=bool), np.arange(4)) == []


# --- property: the same averages as pandas ----------------------------------------------------

PANDAS_FREQ = {"10min": "10min", "30min": "30min", "1h": "1h", "1d": "1D"}


@st.composite
def sampled_streams(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n_times = draw(st.integers(1, 120))
    n_sensors = draw(st.integers(1, 3))
    start_min = draw(st.integers(0, 60 * 24 * 400))  # somewhere in 2026 or 2027
    steps = draw(hnp.arrays(np.int64, n_times, elements=st.integers(1, 240)))
    offsets = start_min + np.cumsum(steps)
    times = np.datetime64("2026-01-01T00:00", "ns") + offsets * MINUTE
    values = draw(
        hnp.arrays(
            np.float64,
            (n_sensors, n_times),
            elements=st.floats(-1e3, 1e4, allow_nan=False, allow_infinity=False),
        )
    )
    nan_mask = draw(hnp.arrays(np.bool_, (n_sensors, n_times)))
    values[nan_mask] = np.nan
    return values, times


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=sampled_streams(), period=st.sampled_from(["10min", "30min", "1h", "1d"]))
def test_window_means_equal_a_pandas_groupby_on_the_floored_time(
    stream: tuple[np.ndarray, np.ndarray], period: str
):
    values, times = stream

    w = window_averages(values, times, period)

    index = pd.DatetimeIndex(times)
    grouped = pd.DataFrame(values.T, index=index).groupby(index.floor(PANDAS_FREQ[period]))
    np.testing.assert_array_equal(w.start, grouped.mean().index.to_numpy("datetime64[ns]"))
    np.testing.assert_allclose(w.mean, grouped.mean().to_numpy().T, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(w.count, grouped.count().to_numpy().T)
    np.testing.assert_allclose(w.maximum, grouped.max().to_numpy().T)
    assert ((w.coverage >= 0) & (w.coverage <= 1)).all()


@settings(max_examples=30, deadline=None)
@given(stream=sampled_streams())
def test_monthly_means_equal_a_pandas_groupby_on_the_month(stream: tuple[np.ndarray, np.ndarray]):
    values, times = stream

    w = window_averages(values, times, "1mo")

    index = pd.DatetimeIndex(times)
    months = index.to_period("M")
    expected = pd.DataFrame(values.T, index=index).groupby(months).mean()
    starts = pd.PeriodIndex(expected.index).to_timestamp().to_numpy("datetime64[ns]")
    np.testing.assert_array_equal(w.start, starts)
    np.testing.assert_allclose(w.mean, expected.to_numpy().T, rtol=1e-9, atol=1e-9)


# --- reference O2 ---------------------------------------------------------------------------


def test_reference_o2_formula_for_a_waste_incinerator():
    # C_ref = C_meas * (21 - O2_ref) / (21 - O2_meas): 300 at 13 % O2 -> 300 * 10 / 8 at 11 %
    out = to_reference_o2(np.array([300.0, 300.0, 300.0]), np.array([13.0, 11.0, 9.0]), 11.0)

    np.testing.assert_allclose(out, [375.0, 300.0, 250.0])


def test_reference_o2_for_a_gas_turbine_at_fifteen_percent():
    np.testing.assert_allclose(to_reference_o2(np.array([50.0]), np.array([16.0]), 15.0), [60.0])


@pytest.mark.parametrize("o2", [np.nan, -0.1, 21.0, 25.0])
def test_an_impossible_measured_o2_makes_the_corrected_value_invalid(o2: float):
    out = to_reference_o2(np.array([100.0, 100.0]), np.array([o2, 10.0]), 11.0)

    assert np.isnan(out[0])
    assert out[1] == pytest.approx(100.0 * 10 / 11)


def test_reference_o2_works_on_sensor_by_time_arrays():
    conc = np.array([[100.0, 200.0], [300.0, 400.0]])
    o2 = np.array([[6.0, 6.0], [3.0, 20.9]])

    out = to_reference_o2(conc, o2, 3.0)

    np.testing.assert_allclose(out, conc * 18 / (21 - o2))
