"""Clock-aligned averaging windows over ``(sensor, time)`` arrays, vectorised.

Windows align to the UTC clock: half-hours start at :00 and :30, days at 00:00 UTC,
months on the first of the month. Averages use only valid (non-NaN) samples; a
window's coverage is its valid samples divided by the samples the sensor's sampling
interval would give in the whole window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vth.sensing.errors import StreamFormatError

#: Window length in nanoseconds, for the fixed-length averaging periods.
PERIOD_NS: dict[str, int] = {
    "1min": 60 * 10**9,
    "10min": 600 * 10**9,
    "30min": 1800 * 10**9,
    "1h": 3600 * 10**9,
    "1d": 86400 * 10**9,
}
PERIODS = (*PERIOD_NS, "1mo")


@dataclass(frozen=True)
class WindowAverages:
    """Averages of each sensor over each clock-aligned window that holds data.

    Arrays are shaped ``(sensor, window)``; ``start``/``end`` are ``(window,)``.
    """

    start: np.ndarray
    end: np.ndarray
    index: np.ndarray
    mean: np.ndarray
    maximum: np.ndarray
    count: np.ndarray
    coverage: np.ndarray
    complete: np.ndarray

    @property
    def n_windows(self) -> int:
        """Number of windows."""
        return len(self.start)


def window_ids(times: np.ndarray, period: str) -> np.ndarray:
    """The clock-aligned window number of each time (int64, increasing with time)."""
    t = np.asarray(times, dtype="datetime64[ns]")
    if period == "1mo":
        result: np.ndarray = t.astype("datetime64[M]").astype(np.int64)
        return result
    try:
        length = PERIOD_NS[period]
    except KeyError:
        raise StreamFormatError(
            f"unknown averaging period {period!r}; use one of {PERIODS}"
        ) from None
    return t.astype(np.int64) // length


def window_bounds(ids: np.ndarray, period: str) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of the windows with these numbers."""
    if period == "1mo":
        start = ids.astype("datetime64[M]").astype("datetime64[ns]")
        end = (ids + 1).astype("datetime64[M]").astype("datetime64[ns]")
        return start, end
    length = PERIOD_NS[period]
    return (ids * length).astype("datetime64[ns]"), ((ids + 1) * length).astype("datetime64[ns]")


#: The sampling interval is estimated from at most this many of a sensor's latest samples.
INTERVAL_SAMPLES = 4096


def sampling_interval(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per sensor, the median spacing (ns) of its latest valid samples; 0 where unknown.

    The latest :data:`INTERVAL_SAMPLES` valid samples suffice: a sensor's interval is
    stable, and the median ignores the odd gap.
    """
    t = np.asarray(times, dtype="datetime64[ns]").astype(np.int64)
    out = np.zeros(values.shape[0], dtype=np.int64)
    for s in range(values.shape[0]):  # a loop over sensors, not samples
        valid_t = t[~np.isnan(values[s])][-INTERVAL_SAMPLES:]
        if len(valid_t) >= 2:
            out[s] = int(np.median(np.diff(valid_t)))
    return out


def window_averages(
    values: np.ndarray,
    times: np.ndarray,
    period: str,
    interval_ns: np.ndarray | None = None,
    active: Callable[[np.ndarray], np.ndarray] | None = None,
) -> WindowAverages:
    """Average ``values`` (sensor, time) over clock-aligned windows of ``period``.

    Parameters
    ----------
    values
        Samples shaped (sensor, time); NaN marks an invalid or missing sample.
    times
        Sorted UTC times of the columns.
    period
        One of ``1min, 10min, 30min, 1h, 1d, 1mo``.
    interval_ns
        Per-sensor sampling interval for coverage; inferred from the data when omitted.
    active
        Maps UTC times to True where they count (operating time). Coverage is then
        relative to the active minutes of each window, and a window without any
        active time is never valid (IED: averages within effective operating time).

    Returns
    -------
    WindowAverages
        A window is ``complete`` once the sensor's data reaches its end (its last
        valid sample plus one interval); windows still filling up are not complete.
    """
    values = np.asarray(values, dtype=np.float64)
    n_sensors = values.shape[0]
    t = np.asarray(times, dtype="datetime64[ns]")
    if len(t) == 0:
        empty = np.zeros((n_sensors, 0))
        none = np.zeros(0, dtype="datetime64[ns]")
        return WindowAverages(
            none,
            none,
            np.zeros(0, np.int64),
            empty,
            empty,
            empty.astype(np.int64),
            empty,
            empty.astype(bool),
        )
    ids = window_ids(t, period)
    window_index, first = np.unique(ids, return_index=True)
    valid = ~np.isnan(values)
    filled = np.where(valid, values, 0.0)
    sums = np.add.reduceat(filled, first, axis=1)
    # float64: numpy's integer reduceat along a row is many times slower
    counts = np.add.reduceat(valid.astype(np.float64), first, axis=1).astype(np.int64)
    maxima = np.maximum.reduceat(np.where(valid, values, -np.inf), first, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    maxima = np.where(counts > 0, maxima, np.nan)
    start, end = window_bounds(window_index, period)
    if interval_ns is None:
        interval_ns = sampling_interval(t, values)
    length_ns = (end - start).astype(np.int64)
    if active is not None:
        length_ns = active_minutes(window_index, start[0], end[-1], period, active) * 60 * 10**9
    interval = np.asarray(interval_ns, dtype=np.float64)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(interval > 0, length_ns[None, :] / interval, counts)
        coverage = np.where(expected > 0, np.minimum(counts / expected, 1.0), 0.0)
    t_int = t.astype(np.int64)
    last_index = valid.shape[1] - 1 - np.argmax(valid[:, ::-1], axis=1)
    last_valid = np.where(valid.any(axis=1), t_int[last_index], np.iinfo(np.int64).min)
    reach = last_valid + np.asarray(interval_ns, dtype=np.int64)
    complete = end.astype(np.int64)[None, :] <= reach[:, None]
    return WindowAverages(
        start=start,
        end=end,
        index=window_index,
        mean=mean,
        maximum=maxima,
        count=counts,
        coverage=coverage,
        complete=complete,
    )


def active_minutes(
    window_index: np.ndarray,
    span_start: np.datetime64,
    span_end: np.datetime64,
    period: str,
    active: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Active minutes in each window of ``window_index``, from ``active`` on a minute grid."""
    grid = np.arange(span_start, span_end, np.timedelta64(1, "m")).astype("datetime64[ns]")
    grid_ids = window_ids(grid, period)
    pos = np.searchsorted(window_index, grid_ids)
    known = pos < len(window_index)
    known[known] = window_index[pos[known]] == grid_ids[known]
    counts = np.bincount(pos[known], weights=active(grid)[known], minlength=len(window_index))
    result: np.ndarray = counts.astype(np.int64)
    return result


def runs(flags: np.ndarray, index: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in ``flags`` over consecutive window numbers ``index``.

    Returns ``(first, last)`` positions (inclusive) of each run; a gap in the window
    numbers ends a run.
    """
    flags = np.asarray(flags, dtype=bool)
    if not flags.any():
        return []
    pos = np.flatnonzero(flags)
    breaks = np.flatnonzero((np.diff(pos) != 1) | (np.diff(index[pos]) != 1)) + 1
    starts = np.concatenate(([0], breaks))
    ends = np.concatenate((breaks - 1, [len(pos) - 1]))
    return [(int(pos[a]), int(pos[b])) for a, b in zip(starts, ends, strict=True)]
