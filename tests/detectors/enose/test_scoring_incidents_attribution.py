"""E-nose scores, thresholds, incidents and source attribution, on hand-built inputs.

Thresholds are checked out of sample: calibrated on one month of a known score process
and counted on two other months of it. Geometry is in metres east (x) and north (y);
the wind comes from the west (270 deg) unless a test says otherwise, so plumes travel
east, towards +x.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.signal import lfilter

from vth.detectors.enose.attribution import (
    PlumeModel,
    WindEstimate,
    estimate_wind,
    hit_probability,
    rank_sources,
)
from vth.detectors.enose.incidents import Alarms, alarm_runs, group_alarms
from vth.detectors.enose.scoring import (
    MINUTES_PER_MONTH,
    RobustFit,
    alarm_counts,
    alarm_mask,
    calibrate_thresholds,
    fit_robust,
    mahalanobis_squared,
)
from vth.sensing.network import EmissionPoint
from vth.sensing.streams import make_stream_dataset

SETTINGS: Any = {
    "deadline": None,
    "max_examples": 100,
    "suppress_health_check": [HealthCheck.too_slow],
}
DAY = 1440
T0 = np.datetime64("2026-03-02T00:00", "ns")
MINUTE = np.timedelta64(1, "m")


def circular_distance(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def wind(from_deg: float = 270.0, spread_deg: float = 0.0) -> WindEstimate:
    return WindEstimate(from_deg, 5.0, spread_deg, "meteo-1", 60)


# --- scores and thresholds -----------------------------------------------------------------


def ar1_scores(rng: np.random.Generator, n_sensors: int, minutes: int, phi: float) -> np.ndarray:
    """Squared norms of 4 independent AR(1) Gaussian channels: chi-square(4) with memory."""
    e = rng.standard_normal((n_sensors, 4, minutes)).astype(np.float32)
    e[..., 1:] *= np.float32(np.sqrt(1 - phi * phi))
    z = lfilter([1.0], [1.0, -phi], e, axis=-1)
    return np.asarray((z**2).sum(axis=1), dtype=np.float32)


@pytest.mark.parametrize("target", [1.0, 4.0])
def test_thresholds_calibrated_on_a_month_give_about_the_target_rate_on_later_months(target):
    rng = np.random.default_rng(2026)
    n_sensors = 10
    history = ar1_scores(rng, n_sensors, 30 * DAY, phi=0.9)
    later = ar1_scores(rng, n_sensors, 60 * DAY, phi=0.9)

    thresholds = calibrate_thresholds(history, target, min_duration=3, n_channels=4)
    alarms = alarm_counts(later, thresholds, min_duration=3)

    rate = alarms.sum() / (n_sensors * 60 * DAY / MINUTES_PER_MONTH)
    assert target / 3 <= rate <= target * 3, (
        f"measured {rate:.2f} alarms per e-nose per month out of sample, target {target}"
    )
    assert np.isfinite(thresholds).all()


def test_a_sensor_without_scores_gets_no_threshold():
    rng = np.random.default_rng(1)
    scores = ar1_scores(rng, 2, 10 * DAY, phi=0.9)
    scores[1] = np.nan

    thresholds = calibrate_thresholds(scores, 1.0, 3, 4)

    assert np.isfinite(thresholds[0])
    assert np.isnan(thresholds[1])


def test_an_alarm_needs_min_duration_minutes_above_the_threshold():
    scores = np.array(
        [
            [0, 5, 5, 0, 5, 5, 5, 0, 5, 5, 5, 5],
            [5, 5, 5, np.nan, 5, 5, 5, 0, 1, 1, 1, 1],
        ],
        dtype=float,
    )
    thresholds = np.array([1.0, 1.0])

    alarm = alarm_mask(scores, thresholds, min_duration=3)

    assert alarm.astype(int).tolist() == [
        [0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1],
        [1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0],  # NaN breaks a run; equal is not above
    ]
    assert alarm_counts(scores, thresholds, 3).tolist() == [2, 2]


@settings(**SETTINGS)
@given(
    scores=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(0, 40)),
        elements=st.one_of(st.integers(0, 4).map(float), st.just(np.nan)),
    ),
    threshold=st.integers(0, 4),
    min_duration=st.integers(1, 6),
)
def test_alarm_mask_equals_a_loop_over_minutes(scores, threshold, min_duration):
    thresholds = np.full(scores.shape[0], threshold + 0.5)
    expected = np.zeros(scores.shape, dtype=bool)
    for s in range(scores.shape[0]):
        t = 0
        while t < scores.shape[1]:
            u = t
            while u < scores.shape[1] and scores[s, u] > thresholds[s]:
                u += 1
            if u - t >= min_duration:
                expected[s, t:u] = True
            t = max(u, t + 1)

    np.testing.assert_array_equal(alarm_mask(scores, thresholds, min_duration), expected)
    assert alarm_counts(scores, thresholds, min_duration).sum() == len(
        alarm_runs(expected, np.zeros(scores.shape))
    )


def test_the_robust_fit_ignores_ten_percent_gross_outliers():
    rng = np.random.default_rng(3)
    mean = np.array([0.1, -0.2, 0.05, 0.3])
    cov = np.diag([0.01, 0.02, 0.015, 0.03])
    z = rng.multivariate_normal(mean, cov, size=(1, 3000))
    outliers = rng.random(3000) < 0.10
    z[0, outliers] += np.array([1.5, -1.0, 2.0, 1.2])  # a dozen standard deviations away

    fit = fit_robust(z.astype(np.float32), max_samples=1000, min_samples=100)

    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(fit.location[0] - mean) < 0.15 * sd), fit.location[0]
    assert np.any(np.abs(z[0].mean(axis=0) - mean) > sd)  # a plain mean is pulled away
    clean_scores = mahalanobis_squared(z[:, ~outliers].astype(np.float32), fit)[0]
    assert 2.5 < np.median(clean_scores) < 4.5  # chi-square(4) median is 3.36
    assert np.median(mahalanobis_squared(z[:, outliers].astype(np.float32), fit)) > 100
    assert fit.samples.tolist() == [1000]


def test_a_sensor_with_too_few_valid_minutes_is_not_fitted():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(2, 500, 3)).astype(np.float32)
    z[1, 50:] = np.nan
    z[1, :50, 0] = np.nan  # one channel missing makes the whole minute invalid

    fit = fit_robust(z, max_samples=300, min_samples=100)

    assert np.isfinite(fit.location[0]).all() and np.isfinite(fit.precision[0]).all()
    assert np.isnan(fit.location[1]).all() and np.isnan(fit.precision[1]).all()
    assert fit.samples.tolist() == [300, 0]
    assert np.isnan(mahalanobis_squared(z, fit)[1]).all()


def test_the_score_is_the_squared_mahalanobis_distance_per_sensor():
    rng = np.random.default_rng(5)
    n_sensors, minutes, channels = 3, 50, 4
    z = rng.normal(size=(n_sensors, minutes, channels)).astype(np.float32)
    z[1, 7] = np.nan
    z[2, 9, 2] = np.nan
    location = rng.normal(size=(n_sensors, channels))
    covariances = []
    for _ in range(n_sensors):
        a = rng.normal(size=(channels, channels))
        covariances.append(a @ a.T + channels * np.eye(channels))
    precision = np.stack([np.linalg.inv(c) for c in covariances])

    scores = mahalanobis_squared(z, RobustFit(location, precision, np.full(n_sensors, 50)))

    expected = np.full((n_sensors, minutes), np.nan)
    for s in range(n_sensors):
        for t in range(minutes):
            d = z[s, t].astype(np.float64) - location[s]
            if np.isfinite(d).all():
                expected[s, t] = d @ np.linalg.solve(covariances[s], d)
    np.testing.assert_allclose(scores, expected, rtol=1e-4)


# --- incidents -----------------------------------------------------------------------------


def alarms(*runs: tuple[int, int, int]) -> Alarms:
    """Alarm runs ``(sensor, start, stop)``."""
    sensors, starts, stops = (np.array(v, dtype=np.int64) for v in zip(*runs, strict=True))
    return Alarms(sensors, starts, stops, np.ones(len(runs)))


def test_coincident_alarms_of_nearby_enoses_are_one_incident():
    x, y = np.array([0.0, 800.0, 1500.0]), np.array([0.0, 300.0, -200.0])

    groups = group_alarms(alarms((0, 100, 110), (1, 102, 115), (2, 98, 104)), x, y, 20, 4000.0)

    assert [g.tolist() for g in groups] == [[0, 1, 2]]


def test_the_same_times_far_apart_are_two_incidents():
    x, y = np.array([0.0, 500.0, 9000.0]), np.zeros(3)

    groups = group_alarms(alarms((0, 100, 110), (1, 100, 110), (2, 100, 110)), x, y, 20, 4000.0)

    assert [g.tolist() for g in groups] == [[0, 1], [2]]


def test_alarms_further_apart_in_time_than_merge_minutes_are_two_incidents():
    x, y = np.array([0.0, 500.0]), np.zeros(2)

    apart = group_alarms(alarms((0, 100, 110), (1, 130, 140)), x, y, 20, 4000.0)
    close = group_alarms(alarms((0, 100, 110), (1, 129, 140)), x, y, 20, 4000.0)

    assert [g.tolist() for g in apart] == [[0], [1]]  # 20 minutes between them
    assert [g.tolist() for g in close] == [[0, 1]]  # 19 minutes


def test_incidents_chain_through_neighbours_and_come_ordered_by_start():
    x, y = np.array([0.0, 3000.0, 6000.0, 50000.0]), np.zeros(4)
    runs = alarms((3, 10, 20), (2, 200, 210), (0, 190, 205), (1, 195, 200))

    groups = group_alarms(runs, x, y, 20, 4000.0)

    # 0 and 2 are 6 km apart, but both lie within 4 km of 1
    assert [sorted(g.tolist()) for g in groups] == [[0], [1, 2, 3]]


def test_enoses_without_a_position_do_not_split_an_incident():
    x, y = np.array([0.0, np.nan]), np.array([0.0, np.nan])

    groups = group_alarms(alarms((0, 100, 110), (1, 100, 110)), x, y, 20, 4000.0)

    assert [g.tolist() for g in groups] == [[0, 1]]


def test_no_alarms_no_incidents():
    none = np.zeros(0, dtype=np.int64)
    empty = Alarms(none, none, none, np.zeros(0))

    assert group_alarms(empty, np.zeros(2), np.zeros(2), 20, 4000.0) == []


# --- plume footprint -----------------------------------------------------------------------


def test_an_enose_straight_downwind_is_likely_to_respond():
    model = PlumeModel()

    p = hit_probability(np.array([1000.0]), np.array([0.0]), 270.0, 0.0, model)

    assert p[0] == pytest.approx(model.p_max * np.exp(-1000.0 / model.range_m))
    assert p[0] > 0.7


def test_an_enose_upwind_gets_only_the_background():
    model = PlumeModel()
    dx = np.array([-100.0, -1000.0, -5000.0, 0.0])
    dy = np.array([0.0, 300.0, -2000.0, -500.0])

    np.testing.assert_array_equal(hit_probability(dx, dy, 270.0, 0.0, model), model.background)


def test_the_probability_falls_off_crosswind_symmetrically():
    model = PlumeModel()
    dy = np.array([0.0, 100.0, 300.0, 600.0, 1000.0, 3000.0])
    dx = np.full_like(dy, 2000.0)

    left = hit_probability(dx, dy, 270.0, 0.0, model)
    right = hit_probability(dx, -dy, 270.0, 0.0, model)

    assert np.all(np.diff(left) < 0)
    np.testing.assert_allclose(left, right)
    assert left[-1] == pytest.approx(model.background, abs=1e-6)


def test_the_footprint_turns_with_the_wind_and_widens_with_its_spread():
    model = PlumeModel()
    east = hit_probability(np.array([1500.0]), np.array([400.0]), 270.0, 0.0, model)
    south = hit_probability(np.array([-400.0]), np.array([-1500.0]), 0.0, 0.0, model)
    spread = hit_probability(np.array([1500.0]), np.array([400.0]), 270.0, 30.0, model)

    np.testing.assert_allclose(east, south, rtol=1e-9)
    assert spread[0] > east[0]


def test_each_enose_can_have_its_own_wind():
    model = PlumeModel()
    dx, dy = np.array([1500.0, -400.0]), np.array([400.0, -1500.0])

    both = hit_probability(dx, dy, np.array([270.0, 0.0]), np.array([0.0, 30.0]), model)

    assert both[0] == hit_probability(dx[:1], dy[:1], 270.0, 0.0, model)[0]
    assert both[1] == hit_probability(dx[1:], dy[1:], 0.0, 30.0, model)[0]


# --- ranking candidate sources -------------------------------------------------------------


def points(*labels: str) -> list[EmissionPoint]:
    return [EmissionPoint(label, "stack-1", 51.9, 4.3) for label in labels]


def rank(
    labels: tuple[str, ...],
    sources: tuple[list[float], list[float]],
    responding: tuple[list[float], list[float]],
    quiet: tuple[list[float], list[float]],
    responding_winds: list[WindEstimate] | None = None,
    quiet_winds: list[WindEstimate] | None = None,
):
    """rank_sources with one wind from the west for everybody unless given."""
    rx, ry = (np.asarray(v, dtype=float) for v in responding)
    qx, qy = (np.asarray(v, dtype=float) for v in quiet)
    return rank_sources(
        points(*labels),
        np.asarray(sources[0], dtype=float),
        np.asarray(sources[1], dtype=float),
        rx,
        ry,
        responding_winds or [wind()] * len(rx),
        qx,
        qy,
        quiet_winds or [wind()],
    )


def test_the_source_whose_plume_covers_the_responders_ranks_first():
    # 1 km off the axis; on the axis 2 km upwind; far beyond the search radius
    ranking = rank(
        ("off-axis", "on-axis", "far"),
        ([-2000.0, -2000.0, -40000.0], [1000.0, 0.0, 0.0]),
        responding=([0.0, 800.0, 1500.0], [0.0, 100.0, -100.0]),
        quiet=([0.0, 1000.0, 0.0, 1000.0, -3000.0], [1500.0, 1500.0, -1500.0, -1500.0, 0.0]),
    )

    assert [p.mba_id for p in ranking.points] == ["on-axis", "off-axis"]
    assert ranking.scores[0] > 0.9 > 0.05 > ranking.scores[1]
    assert ranking.in_plume_responding.tolist()[0] == 3
    assert ranking.in_plume_quiet.tolist()[0] == 0
    assert ranking.unknown_score < 0.05
    assert ranking.scores.sum() + ranking.unknown_score == pytest.approx(1.0)
    # the responders' centre is ~2.8 km east of the on-axis source: the source lies west
    assert ranking.distance_m[0] == pytest.approx(2000.0 + 2300.0 / 3, rel=1e-6)
    assert circular_distance(float(ranking.bearing_deg[0]), 270.0) < 1.0


def test_a_source_whose_plume_also_covers_quiet_enoses_is_penalised():
    sources = ([-2000.0, -2000.0], [300.0, -300.0])  # mirror images about the axis
    responding = ([0.0, 1000.0], [0.0, 0.0])

    alone = rank(("north", "south"), sources, responding, quiet=([], []))
    # two quiet e-noses 1-1.5 km downwind of the northern source, near its plume axis
    watched = rank(
        ("north", "south"), sources, responding, quiet=([-1000.0, -500.0], [500.0, 550.0])
    )

    assert alone.scores[0] == pytest.approx(alone.scores[1], rel=1e-9)
    assert [p.mba_id for p in watched.points] == ["south", "north"]
    assert watched.scores[1] < 0.5 * watched.scores[0]
    assert watched.in_plume_quiet.tolist() == [0, 2]


def test_a_quiet_enose_counts_against_a_source_under_any_wind_of_the_incident():
    sources = ([-2000.0, -2000.0], [500.0, -500.0])
    responding = ([0.0, 1000.0], [0.0, 0.0])
    # south-east of the southern source: in its plume only while the wind is from 300 deg
    quiet = ([-1100.0], [-1150.0])

    steady = rank(("north", "south"), sources, responding, quiet, quiet_winds=[wind(270.0)])
    turning = rank(
        ("north", "south"), sources, responding, quiet, quiet_winds=[wind(270.0), wind(300.0)]
    )

    assert steady.in_plume_quiet.sum() == 0
    assert [p.mba_id for p in turning.points] == ["north", "south"]
    assert turning.in_plume_quiet.tolist() == [0, 1]
    assert turning.scores[1] < steady.scores[list(p.mba_id for p in steady.points).index("south")]


def test_responders_judged_with_the_wind_of_their_own_alarm_follow_a_turning_plume():
    # the plume swept from north-east (wind 250) to south-east (wind 290) of the stack
    responding = ([2000.0, 2000.0], [730.0, -730.0])
    turning = [wind(250.0), wind(290.0)]

    swept = rank(("stack",), ([0.0], [0.0]), responding, ([], []), responding_winds=turning)
    steady = rank(("stack",), ([0.0], [0.0]), responding, ([], []))

    assert swept.in_plume_responding.tolist() == [2]
    assert swept.scores[0] > steady.scores[0]


def test_responders_upwind_of_every_source_are_left_unexplained():
    ranking = rank(
        ("downwind",),
        ([2500.0], [0.0]),
        responding=([0.0, 500.0, 800.0], [0.0, 200.0, -200.0]),
        quiet=([3000.0, 3500.0], [0.0, 100.0]),
    )

    assert ranking.unknown_score > 0.9
    assert ranking.in_plume_responding.tolist() == [0]


# --- the wind over an incident -------------------------------------------------------------


def weather(directions: np.ndarray, speeds: np.ndarray) -> xr.Dataset:
    """Stations ``meteo-a``, ``meteo-b`` and an e-nose without wind, one row each."""
    n = directions.shape[1]
    pad = np.full((1, n), np.nan)
    return make_stream_dataset(
        "net",
        ["meteo-a", "meteo-b", "enose-001"],
        T0 + np.arange(n) * MINUTE,
        {
            "wind_direction": (np.vstack([directions, pad]), "deg"),
            "wind_speed": (np.vstack([speeds, pad]), "m/s"),
        },
    )


STATION_X, STATION_Y = np.array([0.0, 5000.0, 100.0]), np.array([0.0, 0.0, 0.0])


def test_the_wind_is_a_vector_mean_across_north():
    directions = np.tile([350.0, 10.0], (2, 30))
    ds = weather(directions, np.full((2, 60), 5.0))

    estimate = estimate_wind(ds, 0, 60, 0.0, 0.0, STATION_X, STATION_Y)

    assert estimate is not None
    assert circular_distance(estimate.from_deg, 0.0) < 0.01, estimate.from_deg  # not 180
    assert estimate.speed_m_s == pytest.approx(5.0)
    circular_sd = np.degrees(np.sqrt(-2 * np.log(np.cos(np.radians(10.0)))))
    assert estimate.spread_deg == pytest.approx(circular_sd)  # about 10 deg
    assert estimate.samples == 60


def test_the_mean_direction_is_weighted_by_wind_speed():
    directions = np.tile([0.0, 90.0], (2, 30))
    speeds = np.tile([9.0, 1.0], (2, 30))

    estimate = estimate_wind(weather(directions, speeds), 0, 60, 0.0, 0.0, STATION_X, STATION_Y)

    assert estimate is not None
    assert estimate.from_deg == pytest.approx(np.degrees(np.arctan2(1.0, 9.0)))


def test_the_wind_comes_from_the_station_nearest_the_incident():
    directions = np.vstack([np.full(60, 90.0), np.full(60, 200.0)])
    ds = weather(directions, np.full((2, 60), 4.0))

    near_a = estimate_wind(ds, 0, 60, 1000.0, 0.0, STATION_X, STATION_Y)
    near_b = estimate_wind(ds, 0, 60, 4000.0, 500.0, STATION_X, STATION_Y)

    assert near_a is not None and near_b is not None
    assert (near_a.station, round(near_a.from_deg, 6)) == ("meteo-a", 90.0)
    assert (near_b.station, round(near_b.from_deg, 6)) == ("meteo-b", 200.0)


def test_a_station_with_too_few_samples_in_the_span_is_passed_over():
    directions = np.vstack([np.full(60, 90.0), np.full(60, 200.0)])
    directions[0, 10:] = np.nan  # meteo-a went quiet after 10 minutes
    ds = weather(directions, np.full((2, 60), 4.0))

    estimate = estimate_wind(ds, 20, 50, 0.0, 0.0, STATION_X, STATION_Y, min_samples=5)
    early = estimate_wind(ds, 0, 30, 0.0, 0.0, STATION_X, STATION_Y, min_samples=5)

    assert estimate is not None and estimate.station == "meteo-b"
    assert estimate.samples == 30
    assert early is not None and (early.station, early.samples) == ("meteo-a", 10)


def test_no_wind_data_gives_no_wind_estimate():
    ds = weather(np.full((2, 60), np.nan), np.full((2, 60), np.nan))

    assert estimate_wind(ds, 0, 60, 0.0, 0.0, STATION_X, STATION_Y) is None
    assert estimate_wind(ds.drop_vars("wind_speed"), 0, 60, 0, 0, STATION_X, STATION_Y) is None


def test_candidate_scores_and_the_unknown_share_add_up_to_one():
    rng = np.random.default_rng(9)
    n_responding = 4
    ranking = rank_sources(
        points("a", "b", "c"),
        rng.uniform(-3000, 0, 3),
        rng.uniform(-1000, 1000, 3),
        rng.uniform(0, 2000, n_responding),
        rng.uniform(-500, 500, n_responding),
        [wind(float(d), 15.0) for d in rng.uniform(250, 290, n_responding)],
        rng.uniform(-2000, 3000, 6),
        rng.uniform(-2000, 2000, 6),
        [wind(260.0, 15.0), wind(280.0, 15.0)],
    )

    assert ranking.scores.sum() + ranking.unknown_score == pytest.approx(1.0)
    assert np.all(np.diff(ranking.scores) <= 0)
    assert np.all(ranking.scores >= 0.0)
