"""Runs in boolean masks, trailing baselines and the 1-minute grid, against plain loops.

The references below walk the samples one by one in plain Python and never call the
vectorised helpers they check; hypothesis draws the masks and series.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vth.sensing.baseline import block_means, trailing_baseline
from vth.sensing.grid import regular_grid
from vth.sensing.masks import close_gaps, long_runs, mark_runs, run_bounds
from vth.sensing.streams import make_stream_dataset

SETTINGS: Any = {
    "deadline": None,
    "max_examples": 150,
    "suppress_health_check": [HealthCheck.too_slow],
}
T0 = np.datetime64("2026-03-02T10:00", "ns")
MINUTE = np.timedelta64(1, "m")
SECOND = np.timedelta64(1, "s")

masks = hnp.arrays(
    bool,
    st.tuples(st.integers(0, 5), st.integers(0, 40)),
    elements=st.booleans(),
)


# --- plain-Python references ---------------------------------------------------------------


def loop_runs(mask: np.ndarray) -> list[tuple[int, int, int]]:
    """``(row, start, stop)`` of every run of True, row by row, stop exclusive."""
    runs = []
    for r, row in enumerate(mask.tolist()):
        start = None
        for t, value in enumerate(row):
            if value and start is None:
                start = t
            if not value and start is not None:
                runs.append((r, start, t))
                start = None
        if start is not None:
            runs.append((r, start, len(row)))
    return runs


def loop_mark(shape: tuple[int, int], runs: list[tuple[int, int, int]]) -> np.ndarray:
    out = [[False] * shape[1] for _ in range(shape[0])]
    for r, a, b in runs:
        for t in range(a, b):
            out[r][t] = True
    return np.array(out, dtype=bool).reshape(shape)


def loop_close_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill every stretch of False of at most ``max_gap`` samples with True on both sides."""
    out = mask.copy()
    for r in range(mask.shape[0]):
        row = mask[r].tolist()
        t = 0
        while t < len(row):
            if row[t]:
                t += 1
                continue
            u = t
            while u < len(row) and not row[u]:
                u += 1
            if t > 0 and u < len(row) and u - t <= max_gap:
                out[r, t:u] = True
            t = u
    return out


def loop_block_means(values: np.ndarray, block: int) -> np.ndarray:
    n = values.shape[-1]
    n_blocks = math.ceil(n / block)
    out = np.full((values.shape[0], n_blocks), np.nan)
    for r in range(values.shape[0]):
        for k in range(n_blocks):
            chunk = [
                v for v in values[r, k * block : (k + 1) * block].tolist() if not math.isnan(v)
            ]
            if chunk:
                out[r, k] = sum(chunk) / len(chunk)
    return out


def loop_trailing(values: np.ndarray, block: int, blocks: int, min_blocks: int) -> np.ndarray:
    """Per sample: median of the valid means of the ``blocks`` blocks before its own."""
    means = loop_block_means(values, block)
    out = np.full(values.shape, np.nan)
    for r in range(values.shape[0]):
        for t in range(values.shape[1]):
            k = t // block
            earlier = [m for m in means[r, max(0, k - blocks) : k].tolist() if not math.isnan(m)]
            if earlier and len(earlier) >= min_blocks:
                out[r, t] = float(np.median(earlier))
    return out


# --- runs ----------------------------------------------------------------------------------


@settings(**SETTINGS)
@given(mask=masks)
def test_run_bounds_lists_every_run_of_every_row_in_order(mask):
    rows, starts, stops = run_bounds(mask)

    found = list(zip(rows.tolist(), starts.tolist(), stops.tolist(), strict=True))
    assert found == loop_runs(mask)


@settings(**SETTINGS)
@given(mask=masks)
def test_marking_the_runs_of_a_mask_gives_the_mask_back(mask):
    rows, starts, stops = run_bounds(mask)

    np.testing.assert_array_equal(mark_runs(mask.shape, rows, starts, stops), mask)


@settings(**SETTINGS)
@given(
    shape=st.tuples(st.integers(1, 4), st.integers(1, 30)),
    data=st.data(),
)
def test_mark_runs_is_the_union_of_possibly_overlapping_runs(shape, data):
    n_rows, n = shape
    run = st.tuples(st.integers(0, n_rows - 1), st.integers(0, n), st.integers(0, n)).map(
        lambda r: (r[0], min(r[1], r[2]), max(r[1], r[2]))
    )
    runs = data.draw(st.lists(run, max_size=8))
    rows = np.array([r for r, _, _ in runs], dtype=np.intp)
    starts = np.array([a for _, a, _ in runs], dtype=np.intp)
    stops = np.array([b for _, _, b in runs], dtype=np.intp)

    np.testing.assert_array_equal(mark_runs(shape, rows, starts, stops), loop_mark(shape, runs))


@settings(**SETTINGS)
@given(mask=masks, min_length=st.integers(0, 12))
def test_long_runs_keeps_exactly_the_runs_of_at_least_min_length(mask, min_length):
    expected = loop_mark(mask.shape, [r for r in loop_runs(mask) if r[2] - r[1] >= min_length])

    np.testing.assert_array_equal(long_runs(mask, min_length), expected)


@settings(**SETTINGS)
@given(mask=masks, max_gap=st.integers(0, 12))
def test_close_gaps_bridges_only_inner_gaps_of_at_most_max_gap(mask, max_gap):
    closed = close_gaps(mask, max_gap)

    np.testing.assert_array_equal(closed, loop_close_gaps(mask, max_gap))
    assert closed.dtype == bool
    assert closed is not mask


def test_close_gaps_does_not_bridge_between_rows():
    mask = np.array([[False, False, True], [True, False, False]])

    np.testing.assert_array_equal(close_gaps(mask, 10), mask)


# --- block means and trailing baselines ----------------------------------------------------

series = hnp.arrays(
    np.float64,
    st.tuples(st.integers(1, 3), st.integers(1, 60)),
    elements=st.one_of(st.floats(-5, 5, allow_nan=False, width=32), st.just(math.nan)),
)


@settings(**SETTINGS)
@given(values=series, block=st.integers(1, 13))
def test_block_means_ignore_nan_and_average_a_partial_last_block(values, block):
    means = block_means(values, block)

    assert means.shape == (values.shape[0], math.ceil(values.shape[1] / block))
    np.testing.assert_allclose(means, loop_block_means(values, block), rtol=1e-12, atol=1e-12)


@settings(**SETTINGS)
@given(
    values=series,
    block=st.integers(1, 8),
    blocks=st.integers(1, 12),
    data=st.data(),
)
def test_the_trailing_baseline_is_the_median_of_earlier_block_means(values, block, blocks, data):
    min_blocks = data.draw(st.integers(1, blocks), label="min_blocks")

    baseline = trailing_baseline(values, block, blocks, min_blocks)

    assert baseline.shape == values.shape
    np.testing.assert_allclose(
        baseline, loop_trailing(values, block, blocks, min_blocks), rtol=1e-12, atol=1e-12
    )


@settings(**SETTINGS)
@given(
    values=series,
    block=st.integers(1, 8),
    blocks=st.integers(1, 6),
    data=st.data(),
)
def test_a_baseline_never_sees_its_own_block_or_later(values, block, blocks, data):
    """An event never lifts its own baseline; a growing buffer gives the same values."""
    cut = data.draw(st.integers(1, values.shape[1]), label="cut")
    changed = values.copy()
    changed[:, cut:] += 100.0  # a big event from ``cut`` on
    untouched = (cut // block) * block  # the samples of the blocks before ``cut``'s block ...
    through = min(values.shape[1], untouched + block)  # ... and of that block itself

    full = trailing_baseline(values, block, blocks)
    np.testing.assert_array_equal(
        trailing_baseline(changed, block, blocks)[:, :through], full[:, :through]
    )
    np.testing.assert_array_equal(trailing_baseline(values[:, :cut], block, blocks), full[:, :cut])


def test_an_empty_buffer_has_an_empty_baseline():
    baseline = trailing_baseline(np.zeros((2, 0)), 60, 6)

    assert baseline.shape == (2, 0)


def test_min_blocks_leaves_the_start_without_a_baseline():
    values = np.arange(10 * 6, dtype=float)[None, :]  # 6 blocks of 10, means 4.5, 14.5 ...

    baseline = trailing_baseline(values, 10, blocks=4, min_blocks=3)

    assert np.isnan(baseline[0, :30]).all()  # blocks 0, 1 and 2 have < 3 earlier blocks
    np.testing.assert_array_equal(baseline[0, 30:40], 14.5)  # median of 4.5, 14.5, 24.5
    np.testing.assert_array_equal(baseline[0, 40:50], 19.5)  # of 4.5 .. 34.5
    np.testing.assert_array_equal(baseline[0, 50:60], 29.5)  # only the last 4: 14.5 .. 44.5


def test_empty_earlier_blocks_do_not_count_toward_min_blocks():
    values = np.ones((1, 40))
    values[0, 10:20] = np.nan  # block 1 has no data

    baseline = trailing_baseline(values, 10, blocks=3, min_blocks=2)

    assert np.isnan(baseline[0, :30]).all()  # block 2 sees one valid block only
    np.testing.assert_array_equal(baseline[0, 30:], 1.0)


@pytest.mark.parametrize(("block", "blocks"), [(100, 3), (7, 50), (30, 2)])
def test_windows_longer_than_the_data_use_what_there_is(block, blocks):
    rng = np.random.default_rng(block)
    values = rng.normal(size=(2, 25))

    baseline = trailing_baseline(values, block, blocks)

    np.testing.assert_allclose(baseline, loop_trailing(values, block, blocks, 1), atol=1e-12)
    if block >= values.shape[1]:
        assert np.isnan(baseline).all()  # one block, nothing before it


def test_a_baseline_keeps_extra_leading_axes():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(2, 3, 50))  # (sensor, channel, time)

    baseline = trailing_baseline(values, 10, 3)

    for s in range(2):
        np.testing.assert_allclose(baseline[s], loop_trailing(values[s], 10, 3, 1), atol=1e-12)


# --- the 1-minute grid ---------------------------------------------------------------------


def stream(times: np.ndarray, values: np.ndarray) -> xr.Dataset:
    ds = make_stream_dataset(
        "mba-01",
        ["enose-001", "enose-002"],
        times,
        {"ch1": (values, "Ohm"), "wind_speed": (values * 0.001, "m/s")},
    )
    return ds.assign_coords(
        kind=("sensor", np.array(["enose", "weather"], dtype=object)),
        lat=("sensor", [51.9, 51.91]),
        lon=("sensor", [4.3, 4.31]),
    )


def test_data_already_on_the_minute_grid_comes_back_unchanged():
    times = T0 + np.arange(30) * MINUTE
    ds = stream(times, np.arange(60, dtype=float).reshape(2, 30))

    out = regular_grid(ds)

    xr.testing.assert_identical(out, ds)


def test_missing_minutes_become_nan_columns_and_the_rest_stay_as_they_are():
    keep = np.array([0, 1, 2, 5, 6, 9])
    times = T0 + keep * MINUTE
    values = np.arange(12, dtype=float).reshape(2, 6) + 1000.0
    ds = stream(times, values)

    out = regular_grid(ds)

    np.testing.assert_array_equal(out["time"].values, T0 + np.arange(10) * MINUTE)
    ch1 = out["ch1"].transpose("sensor", "time").values
    np.testing.assert_array_equal(ch1[:, keep], values)
    missing = np.setdiff1d(np.arange(10), keep)
    assert np.isnan(ch1[:, missing]).all()
    assert out["ch1"].attrs["units"] == "Ohm"
    assert out["kind"].values.tolist() == ["enose", "weather"]


def test_off_minute_samples_are_averaged_into_their_clock_aligned_minute():
    offsets = np.array([20, 40, 70, 150, 170, 175]) * SECOND  # 10:00:20 ... 10:02:55
    times = T0 + offsets
    values = np.array(
        [
            [1.0, 3.0, 10.0, 4.0, np.nan, 8.0],
            [2.0, np.nan, 5.0, 1.0, 2.0, 3.0],
        ]
    )
    ds = stream(times, values)

    out = regular_grid(ds)

    np.testing.assert_array_equal(out["time"].values, T0 + np.arange(3) * MINUTE)
    np.testing.assert_allclose(
        out["ch1"].transpose("sensor", "time").values,
        [[2.0, 10.0, 6.0], [2.0, 5.0, 2.0]],  # NaN samples do not count
    )
    np.testing.assert_allclose(
        out["wind_speed"].transpose("sensor", "time").values,
        [[0.002, 0.010, 0.006], [0.002, 0.005, 0.002]],
    )
    assert out["ch1"].attrs["units"] == "Ohm"
    assert out["mba_id"].values.tolist() == ["mba-01", "mba-01"]
    np.testing.assert_array_equal(out["lat"].values, [51.9, 51.91])


def test_an_off_minute_stream_with_a_hole_gets_nan_minutes_in_the_hole():
    times = T0 + np.array([30, 90, 330]) * SECOND  # minutes 0, 1 and 5
    ds = stream(times, np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))

    out = regular_grid(ds)

    np.testing.assert_array_equal(out["time"].values, T0 + np.arange(6) * MINUTE)
    ch1 = out["ch1"].transpose("sensor", "time").values
    np.testing.assert_array_equal(ch1[0, [0, 1, 5]], [1.0, 2.0, 3.0])
    assert np.isnan(ch1[:, 2:5]).all()


def test_an_empty_stream_stays_empty():
    ds = stream(np.array([], dtype="datetime64[ns]"), np.zeros((2, 0)))

    assert regular_grid(ds).sizes["time"] == 0
