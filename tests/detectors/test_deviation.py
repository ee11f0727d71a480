"""The ``deviation`` detector: runs of samples far from a sensor's own trailing baseline.

Hand-made ``(sensor, time)`` streams hold a step, a spike or a dip of known size in flat
data with seeded noise, so each detection's span, sensor, substance and value are known
exactly. The z-score is checked against a plain numpy computation, and a property test
checks that a higher threshold never flags more samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vth.detectors.deviation import NOT_EMISSIONS, DeviationDetector, infer_grid, trailing_zscore
from vth.detectors.errors import DetectorConfigError
from vth.models import MbaProfile
from vth.pipeline import stream_detectors
from vth.sensing.streams import make_stream_dataset
from vth.sensing.windows import PERIOD_NS

from .builders import one_limit_profile

T0 = np.datetime64("2026-03-02T00:00", "ns")
MINUTE = np.timedelta64(1, "m")
HOUR = np.timedelta64(1, "h")
#: Quick settings for a 1-minute stream: 6 h baseline, runs of a single sample count.
QUICK: dict[str, Any] = {"window": "6h", "min_duration": "1min", "merge_gap": "0s"}


@pytest.fixture(scope="module")
def profile() -> MbaProfile:
    return one_limit_profile({"substance": "NOx", "unit": "mg/m3", "value": 100, "average": "1h"})


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def flat(n: int, seed: int = 0, level: float = 10.0, noise: float = 0.1) -> np.ndarray:
    """``n`` samples of ``level`` with seeded Gaussian noise."""
    return level + noise * np.random.default_rng(seed).standard_normal(n)


def streams(
    variables: dict[str, np.ndarray],
    times: np.ndarray | None = None,
    sensors: tuple[str, ...] = ("cems-1",),
    kinds: tuple[str, ...] | None = None,
    step: np.timedelta64 = MINUTE,
) -> xr.Dataset:
    """A stream dataset; 1-d values go to every sensor, times default to a regular grid."""
    arrays = {}
    for name, values in variables.items():
        values = np.asarray(values, dtype=np.float64)
        arrays[name] = np.tile(values, (len(sensors), 1)) if values.ndim == 1 else values
    n = next(iter(arrays.values())).shape[1]
    ds = make_stream_dataset(
        "test-mba",
        list(sensors),
        T0 + np.arange(n) * step if times is None else times,
        {name: (v, "%" if name == "O2" else "mg/m3") for name, v in arrays.items()},
    )
    if kinds is not None:
        ds = ds.assign_coords(kind=("sensor", np.array(kinds, dtype=object)))
    return ds


def spans(detections: list[Any]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    return [(pd.Timestamp(d.start), pd.Timestamp(d.end)) for d in detections]


def minute(i: int) -> pd.Timestamp:
    """UTC time of minute ``i`` of the stream."""
    return pd.Timestamp(T0 + i * MINUTE).tz_localize("UTC")


# --- what is found ---------------------------------------------------------------------


def test_a_step_is_found_with_its_exact_span_sensor_substance_and_value(profile):
    values = flat(600, seed=1)
    values[400:415] += 5.0
    ds = streams({"NOx": values})
    detector = DeviationDetector(window="6h", min_duration="10min", merge_gap="0s")

    [d] = detector.fit().detect(ds, profile)

    assert (d.detector, d.kind, d.mba_id) == ("deviation", "peak", "test-mba")
    assert (d.sensor_id, d.substance, d.unit) == ("cems-1", "NOx", "mg/m3")
    assert spans([d]) == [(minute(400), minute(415))]  # end: after the last deviating minute
    # the worst sample is the first of the step: its baseline holds no step samples yet
    baseline = values[400 - 360 : 400]
    assert d.value == pytest.approx(values[400])
    assert d.evidence["baseline_mean"] == pytest.approx(baseline.mean())
    assert d.evidence["baseline_std"] == pytest.approx(baseline.std(ddof=1))
    z = (values[400] - baseline.mean()) / baseline.std(ddof=1)
    assert d.evidence["z_max"] == pytest.approx(z)
    assert d.evidence["samples"] == 15
    assert d.evidence["grid"] == "1min"
    assert d.evidence["parameters"] == detector.get_params()
    assert d.severity == "medium"  # z ~ 50, at least twice the threshold


def test_a_step_on_an_hourly_grid_is_found_with_its_hours(profile):
    values = flat(24 * 10, seed=2, level=50.0, noise=1.0)
    values[200:203] += 30.0
    ds = streams({"SO2": values}, step=HOUR)

    [d] = DeviationDetector(window="72h", min_duration="2h", merge_gap="0s").detect(ds, profile)

    assert d.substance == "SO2"
    assert (pd.Timestamp(d.start), pd.Timestamp(d.end)) == (
        pd.Timestamp(T0 + 200 * HOUR).tz_localize("UTC"),
        pd.Timestamp(T0 + 203 * HOUR).tz_localize("UTC"),
    )
    assert d.evidence["grid"] == "1h"
    assert d.evidence["samples"] == 3
    assert d.value == pytest.approx(values[200])


def test_only_the_sensor_with_the_step_is_reported(profile):
    quiet, loud = flat(600, seed=3), flat(600, seed=4)
    loud[450:452] += 3.0
    ds = streams({"NOx": np.stack([quiet, loud])}, sensors=("cems-1", "cems-2"))

    [d] = DeviationDetector(**QUICK).detect(ds, profile)

    assert d.sensor_id == "cems-2"
    assert spans([d]) == [(minute(450), minute(452))]


def test_detections_are_sorted_by_start_then_sensor(profile):
    a, b = flat(600, seed=5), flat(600, seed=6)
    a[500] += 3.0
    b[400] += 3.0
    b[500] += 3.0
    ds = streams({"NOx": np.stack([a, b])}, sensors=("cems-1", "cems-2"))

    found = DeviationDetector(**QUICK).detect(ds, profile)

    assert [(d.sensor_id, pd.Timestamp(d.start)) for d in found] == [
        ("cems-2", minute(400)),
        ("cems-1", minute(500)),
        ("cems-2", minute(500)),
    ]


def test_noise_alone_gives_nothing_with_a_high_threshold(profile):
    rng = np.random.default_rng(42)
    values = 10.0 + rng.standard_normal((3, 3 * 1440))  # three sensors, three days
    ds = streams({"NOx": values}, sensors=("a", "b", "c"))

    detector = DeviationDetector(window="6h", threshold=8.0, min_duration="1min", merge_gap="0s")

    assert detector.detect(ds, profile) == []


def test_flat_data_without_noise_gives_nothing(profile):
    ds = streams({"NOx": np.full(600, 10.0)})

    assert DeviationDetector(**QUICK).detect(ds, profile) == []


def test_data_shorter_than_the_window_gives_no_error(profile):
    values = flat(1000, seed=19)  # 1000 minutes: more than half of the 24h window
    values[900:905] += 3.0
    ds = streams({"NOx": values})

    found = DeviationDetector(min_duration="1min", merge_gap="0s").detect(ds, profile)

    assert spans(found) == [(minute(900), minute(905))]


def test_too_short_data_gives_nothing(profile):
    ds = streams({"NOx": np.array([10.0])})

    assert DeviationDetector(**QUICK).detect(ds, profile) == []


# --- the baseline excludes the current sample -----------------------------------------------


def test_a_single_spike_is_found_although_its_window_is_short(profile):
    # with itself in a 10-sample baseline a lone outlier reaches at most z = 9 / sqrt(10) ~ 2.8,
    # so it passes threshold 4 only because the baseline is the 10 samples before it
    values = flat(120, seed=7)
    values[60] += 2.0
    ds = streams({"NOx": values})
    detector = DeviationDetector(window="10min", min_coverage=1.0, min_duration="1min")

    [d] = detector.detect(ds, profile)

    assert spans([d]) == [(minute(60), minute(61))]
    before = values[50:60]
    assert d.evidence["z_max"] == pytest.approx((values[60] - before.mean()) / before.std(ddof=1))


def test_trailing_zscore_equals_a_numpy_computation_on_the_samples_before():
    values = np.array([[1.0, 2.0, 4.0, 7.0, 11.0, 16.0], [3.0, 1.0, 4.0, 1.0, 5.0, 9.0]])

    z, mean, std = trailing_zscore(values, window=3, min_coverage=1.0)

    expected_z = np.full(values.shape, np.nan)
    expected_mean = np.full(values.shape, np.nan)
    expected_std = np.full(values.shape, np.nan)
    for row in range(2):
        for t in range(3, 6):
            before = values[row, t - 3 : t]
            expected_mean[row, t] = before.mean()
            expected_std[row, t] = before.std(ddof=1)
            expected_z[row, t] = (values[row, t] - before.mean()) / before.std(ddof=1)
    np.testing.assert_allclose(mean, expected_mean)
    np.testing.assert_allclose(std, expected_std)
    np.testing.assert_allclose(z, expected_z)
    assert z[0, 3] == pytest.approx((7.0 - 7.0 / 3.0) / np.std([1.0, 2.0, 4.0], ddof=1))


def test_trailing_zscore_with_partial_coverage_uses_the_valid_samples_before():
    values = np.array([[1.0, 2.0, 4.0, np.nan, 11.0, 16.0]])

    z, mean, std = trailing_zscore(values, window=3, min_coverage=0.5)  # needs 2 of 3

    assert np.isnan(z[0, :2]).all()  # fewer than two samples before
    assert z[0, 2] == pytest.approx((4.0 - 1.5) / np.std([1.0, 2.0], ddof=1))
    assert np.isnan(z[0, 3])  # a missing sample has no z-score
    assert mean[0, 4] == pytest.approx(3.0)  # [2, 4, NaN]: the two valid ones
    assert std[0, 4] == pytest.approx(np.std([2.0, 4.0], ddof=1))
    assert z[0, 4] == pytest.approx((11.0 - 3.0) / np.std([2.0, 4.0], ddof=1))
    assert mean[0, 5] == pytest.approx(7.5)
    assert z[0, 5] == pytest.approx((16.0 - 7.5) / np.std([4.0, 11.0], ddof=1))


def test_a_flat_baseline_gives_nan_not_infinity():
    z, _, std = trailing_zscore(np.array([[5.0, 5.0, 5.0, 9.0]]), window=3)

    assert std[0, 3] == 0.0
    assert np.isnan(z).all()


# --- direction, duration, merging, coverage ---------------------------------------------


@pytest.fixture(scope="module")
def up_and_down() -> xr.Dataset:
    values = flat(600, seed=8)
    values[400] += 3.0
    values[500] -= 3.0
    return streams({"NOx": values})


@pytest.mark.parametrize(
    ("direction", "expected"),
    [("up", [400]), ("down", [500]), ("both", [400, 500])],
)
def test_direction_chooses_rises_dips_or_both(profile, up_and_down, direction, expected):
    found = DeviationDetector(direction=direction, **QUICK).detect(up_and_down, profile)

    assert spans(found) == [(minute(i), minute(i + 1)) for i in expected]


def test_a_dip_reports_its_lowest_value_and_a_negative_distance(profile, up_and_down):
    [d] = DeviationDetector(direction="down", **QUICK).detect(up_and_down, profile)

    assert d.value is not None and d.value < 8.0
    assert d.evidence["baseline_mean"] == pytest.approx(10.0, abs=0.05)
    assert d.evidence["z_max"] > 4.0  # reported as a distance


def test_runs_shorter_than_min_duration_are_dropped(profile):
    values = flat(600, seed=9)
    values[400:403] += 3.0  # three minutes
    ds = streams({"NOx": values})

    longer = DeviationDetector(window="6h", min_duration="5min", merge_gap="0s")
    exact = DeviationDetector(window="6h", min_duration="3min", merge_gap="0s")

    assert longer.detect(ds, profile) == []
    assert spans(exact.detect(ds, profile)) == [(minute(400), minute(403))]


def test_merge_gap_joins_runs_of_one_sensor(profile):
    values = flat(600, seed=10)
    values[400:402] += 3.0
    values[405:407] += 3.0  # three quiet minutes between the runs
    ds = streams({"NOx": values})

    apart = DeviationDetector(window="6h", min_duration="1min", merge_gap="1min")
    joined = DeviationDetector(window="6h", min_duration="1min", merge_gap="5min")

    assert spans(apart.detect(ds, profile)) == [
        (minute(400), minute(402)),
        (minute(405), minute(407)),
    ]
    [d] = joined.detect(ds, profile)
    assert spans([d]) == [(minute(400), minute(407))]
    assert d.evidence["samples"] == 7  # the bridged minutes belong to the run


def test_merged_short_runs_can_reach_min_duration(profile):
    values = flat(600, seed=11)
    values[400:402] += 3.0
    values[404:406] += 3.0
    ds = streams({"NOx": values})

    found = DeviationDetector(window="6h", min_duration="5min", merge_gap="2min").detect(
        ds, profile
    )

    assert spans(found) == [(minute(400), minute(406))]


def gap_then_spike(drop: bool) -> xr.Dataset:
    """Noise, 80 minutes without data (NaN or no samples), 10 samples, a spike at 290."""
    values = flat(300, seed=12)
    values[290] += 3.0
    if not drop:
        values[200:280] = np.nan
        return streams({"NOx": values})
    keep = np.r_[0:200, 280:300]
    return streams({"NOx": values[keep]}, times=T0 + keep * MINUTE)


@pytest.mark.parametrize("drop", [False, True], ids=["nan", "missing-samples"])
def test_min_coverage_needs_enough_valid_samples_in_the_window(profile, drop):
    ds = gap_then_spike(drop)
    # the hour before minute 290 holds 10 valid samples: 1/6 of the window
    strict = DeviationDetector(window="1h", min_coverage=0.5, min_duration="1min")
    lenient = DeviationDetector(window="1h", min_coverage=0.1, min_duration="1min")

    assert strict.detect(ds, profile) == []
    [d] = lenient.detect(ds, profile)
    assert spans([d]) == [(minute(290), minute(291))]
    assert d.evidence["grid"] == "1min"


def test_history_needed_is_the_covered_part_of_the_window():
    assert DeviationDetector().history_needed_h() == pytest.approx(12.0)
    assert DeviationDetector(window="72h", min_coverage=0.25).history_needed_h() == 18.0
    assert DeviationDetector(window="soon").history_needed_h() == 0.0


# --- which variables and sensors -------------------------------------------------------


@pytest.fixture(scope="module")
def every_kind_of_variable() -> xr.Dataset:
    """Emissions and weather/flue-gas conditions, each with a rise at minute 400."""
    names = ["NOx", "SO2", "O2", "H2O", "wind_speed", "wind_direction", "temperature"]
    variables = {}
    for i, name in enumerate(names):
        values = flat(600, seed=20 + i, level=10.0 + i)
        values[400] += 3.0
        variables[name] = values
    return streams(variables)


def test_by_default_weather_and_flue_gas_conditions_are_not_watched(
    profile, every_kind_of_variable
):
    found = DeviationDetector(**QUICK).detect(every_kind_of_variable, profile)

    assert sorted(d.substance or "" for d in found) == ["NOx", "SO2"]
    assert {"wind_speed", "wind_direction", "O2", "H2O", "temperature"} <= NOT_EMISSIONS


def test_quantities_chooses_the_variables_even_excluded_ones(profile, every_kind_of_variable):
    only_o2 = DeviationDetector(quantities=["O2"], **QUICK).detect(every_kind_of_variable, profile)
    two = DeviationDetector(quantities=["SO2", "wind_speed"], **QUICK).detect(
        every_kind_of_variable, profile
    )

    assert [(d.substance, d.unit) for d in only_o2] == [("O2", "%")]
    assert sorted(d.substance or "" for d in two) == ["SO2", "wind_speed"]


def test_quantities_not_in_the_data_give_nothing(profile, every_kind_of_variable):
    detector = DeviationDetector(quantities=["NH3"], **QUICK)

    assert detector.detect(every_kind_of_variable, profile) == []


def test_data_of_weather_conditions_only_gives_nothing(profile):
    values = flat(600, seed=13)
    values[400] += 3.0
    ds = streams({"wind_speed": values, "O2": values})

    assert DeviationDetector(**QUICK).detect(ds, profile) == []


def test_sensors_of_kind_weather_are_skipped(profile):
    values = flat(600, seed=14)
    values[400] += 3.0
    ds = streams(
        {"NOx": values},
        sensors=("cems-1", "meteo-1", "enose-1"),
        kinds=("cems", "weather", "enose"),
    )

    found = DeviationDetector(**QUICK).detect(ds, profile)

    assert sorted(d.sensor_id or "" for d in found) == ["cems-1", "enose-1"]


def test_a_dataset_of_weather_stations_only_gives_nothing(profile):
    values = flat(600, seed=15)
    values[400] += 3.0
    ds = streams({"NOx": values}, sensors=("meteo-1",), kinds=("weather",))

    assert DeviationDetector(**QUICK).detect(ds, profile) == []


# --- the grid ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("times", "grid"),
    [
        (T0 + np.arange(100) * MINUTE, "1min"),
        (T0 + np.arange(100) * HOUR, "1h"),
        (T0 + np.arange(100) * np.timedelta64(10, "m"), "10min"),
        (T0 + np.arange(100) * np.timedelta64(5, "m"), "10min"),  # next period up
        (T0 + np.arange(100) * np.timedelta64(45, "m"), "1h"),
        (T0 + np.arange(100) * np.timedelta64(2, "D"), "1d"),  # longest period there is
        (T0 + np.arange(100) * np.timedelta64(20, "s"), "1min"),
        (T0 + np.array([0, 7, 15, 22, 30, 37, 45, 52, 60]) * MINUTE, "10min"),  # irregular
        (np.array([T0]), "1min"),
    ],
    ids=["1min", "1h", "10min", "5min", "45min", "2d", "20s", "irregular", "one-sample"],
)
def test_infer_grid_takes_the_period_at_least_the_median_interval(times, grid):
    assert infer_grid(times) == grid


def test_infer_grid_ignores_a_few_missing_samples():
    times = T0 + np.delete(np.arange(500), np.s_[100:130]) * MINUTE

    assert infer_grid(times) == "1min"


def test_irregular_samples_are_averaged_onto_the_inferred_grid(profile):
    rng = np.random.default_rng(16)
    offsets = np.cumsum(rng.integers(4, 11, size=400))  # every 4-10 minutes, median ~7
    values = 10.0 + 0.1 * rng.standard_normal(400)
    spike = int(np.searchsorted(offsets, 2000))
    values[spike] += 5.0
    ds = streams({"NOx": values}, times=T0 + offsets * MINUTE)

    [d] = DeviationDetector(window="12h", min_duration="10min", merge_gap="0s").detect(ds, profile)

    assert d.evidence["grid"] == "10min"
    start = pd.Timestamp(T0 + offsets[spike] * MINUTE).floor("10min").tz_localize("UTC")
    assert spans([d]) == [(start, start + pd.Timedelta("10min"))]


def test_an_explicit_grid_overrides_the_inferred_one(profile):
    values = flat(30 * 60, seed=17)
    values[26 * 60 : 27 * 60] += 3.0  # the 27th hour
    ds = streams({"NOx": values})

    [d] = DeviationDetector(window="24h", grid="1h", min_duration="1h").detect(ds, profile)

    assert d.evidence["grid"] == "1h"
    assert d.value == pytest.approx(values[26 * 60 : 27 * 60].mean())  # an hourly average
    assert spans([d]) == [(utc("2026-03-03T02:00"), utc("2026-03-03T03:00"))]


# --- invalid parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"threshold": 0}, "threshold must be > 0"),
        ({"threshold": -2.0}, "threshold must be > 0"),
        ({"threshold": float("nan")}, "threshold must be > 0"),
        ({"threshold": float("inf")}, "threshold must be > 0"),
        ({"min_coverage": 0}, "min_coverage must be in (0, 1]"),
        ({"min_coverage": 1.5}, "min_coverage must be in (0, 1]"),
        ({"min_coverage": -0.1}, "min_coverage must be in (0, 1]"),
        ({"direction": "sideways"}, "direction must be 'up', 'down' or 'both'"),
        ({"grid": "5min"}, "grid must be one of 1min, 10min, 30min, 1h, 1d"),
        ({"grid": "1mo"}, "grid must be one of"),
        ({"window": "a day"}, "window 'a day' is not a duration"),
        ({"min_duration": "long"}, "min_duration 'long' is not a duration"),
        ({"merge_gap": "1 fortnight"}, "merge_gap '1 fortnight' is not a duration"),
        ({"merge_gap": "-1h"}, "merge_gap must not be negative"),
        ({"window": "-24h"}, "window must not be negative"),
    ],
)
def test_invalid_parameters_raise_a_config_error(profile, params, message):
    ds = streams({"NOx": flat(120)})

    with pytest.raises(DetectorConfigError) as exc:
        DeviationDetector(**params).detect(ds, profile)

    assert message in str(exc.value)
    assert str(exc.value).startswith("deviation: ")


def test_invalid_parameters_raise_even_without_data_to_watch(profile):
    ds = streams({"wind_speed": flat(120)})

    with pytest.raises(DetectorConfigError):
        DeviationDetector(threshold=-1).detect(ds, profile)


def test_a_non_numeric_threshold_raises_a_config_error(profile):
    ds = streams({"NOx": flat(120)})

    with pytest.raises(DetectorConfigError):
        DeviationDetector(threshold="high").detect(ds, profile)  # type: ignore[arg-type]


def test_quantities_as_a_single_name_is_not_silently_ignored(profile):
    values = flat(600, seed=18)
    values[400] += 3.0
    ds = streams({"NOx": values})
    detector = DeviationDetector(quantities="NOx", **QUICK)

    try:
        found = detector.detect(ds, profile)
    except DetectorConfigError:
        return
    assert [d.substance for d in found] == ["NOx"]


# --- opt-in ------------------------------------------------------------------------------


def test_deviation_is_opt_in():
    assert DeviationDetector.default is False
    assert DeviationDetector.describe()["default"] is False
    assert "deviation" not in [d.name for d in stream_detectors()]
    assert "deviation" not in [d.name for d in stream_detectors(None, {})]


def test_parameters_for_deviation_make_it_run_with_them():
    chosen = stream_detectors(None, {"deviation": {"threshold": 3}})

    [deviation] = [d for d in chosen if d.name == "deviation"]
    assert isinstance(deviation, DeviationDetector)
    assert deviation.threshold == 3
    assert deviation.window == "24h"  # the others keep their defaults
    assert {"compliance", "peak"} <= {d.name for d in chosen}  # the defaults still run


def test_naming_deviation_makes_it_run_with_defaults():
    [deviation] = stream_detectors(["deviation"])

    assert isinstance(deviation, DeviationDetector)
    assert deviation.get_params() == DeviationDetector().get_params()


# --- properties ----------------------------------------------------------------------------


@st.composite
def random_streams(draw: st.DrawFn) -> tuple[xr.Dataset, str]:
    """1-3 sensors, 30-150 samples on a 1-minute or hourly clock, a stretch left out.

    The window is at most 30 samples, so the data span at least one window (shorter data
    is :func:`test_data_shorter_than_the_window_gives_no_error`).
    """
    n_sensors = draw(st.integers(1, 3))
    n = draw(st.integers(30, 150))
    unit = draw(st.sampled_from(["min", "h"]))
    gap_start = draw(st.integers(1, n - 1))
    gap_length = draw(st.integers(0, min(n - 1 - gap_start, n // 3)))
    kept = np.delete(np.arange(n), np.s_[gap_start : gap_start + gap_length])
    values = draw(
        hnp.arrays(
            np.float64,
            (n_sensors, len(kept)),
            elements=st.one_of(
                st.floats(-1e3, 1e3, allow_nan=False),
                st.just(np.nan),
                st.sampled_from([0.0, 1.0, 10.0]),
            ),
        )
    )
    ds = streams(
        {"NOx": values},
        times=T0 + kept * np.timedelta64(1, "m" if unit == "min" else "h"),
        sensors=tuple(f"s{i}" for i in range(n_sensors)),
    )
    return ds, f"{draw(st.integers(2, 30))}{unit}"


def flagged(detections: list[Any]) -> int:
    return sum(int(d.evidence["samples"]) for d in detections)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=random_streams(),
    thresholds=st.lists(st.floats(0.05, 20.0), min_size=2, max_size=2, unique=True).map(sorted),
    direction=st.sampled_from(["up", "down", "both"]),
    min_coverage=st.sampled_from([0.1, 0.5, 1.0]),
)
def test_detections_lie_within_the_data_and_a_higher_threshold_flags_no_more(
    profile, data, thresholds, direction, min_coverage
):
    ds, window = data
    low, high = thresholds
    common = {
        "window": window,
        "min_duration": "1min",  # one sample on any grid
        "merge_gap": "0s",
        "direction": direction,
        "min_coverage": min_coverage,
    }

    found_low = DeviationDetector(threshold=low, **common).detect(ds, profile)
    found_high = DeviationDetector(threshold=high, **common).detect(ds, profile)

    times = ds["time"].values
    for d in found_low + found_high:
        step = pd.Timedelta(PERIOD_NS[d.evidence["grid"]], "ns")
        first = pd.Timestamp(times[0]).tz_localize("UTC").floor(step)
        last = pd.Timestamp(times[-1]).tz_localize("UTC").floor(step) + step
        assert first <= pd.Timestamp(d.start) < pd.Timestamp(d.end) <= last
        assert d.evidence["samples"] == (pd.Timestamp(d.end) - pd.Timestamp(d.start)) / step
        assert d.sensor_id in set(ds["sensor"].values.astype(str))
    assert flagged(found_high) <= flagged(found_low)
