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
    #: Length of each window that counts (its operating time when masked), ns.
    length_ns: np.ndarray

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
    tail = slice(-4 * INTERVAL_SAMPLES, None)  # enough columns unless most are NaN
    for s in range(values.shape[0]):  # a loop over sensors, not samples
        valid_t = t[tail][~np.isnan(values[s, tail])][-INTERVAL_SAMPLES:]
        if len(valid_t) < INTERVAL_SAMPLES:
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
    span: tuple[np.datetime64, np.datetime64] | None = None,
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
    span
        ``(start, end)``: return every window that starts in ``[start, end)``, with or
        without samples (a dense grid; samples outside those windows are ignored).
        Without it, only the windows that hold samples are returned.

    Returns
    -------
    WindowAverages
        A window is ``complete`` once the sensor's data reaches its end (its last
        valid sample plus one interval); windows still filling up are not complete.
    """
    values = np.asarray(values, dtype=np.float64)
    n_sensors = values.shape[0]
    t = np.asarray(times, dtype="datetime64[ns]")
    if interval_ns is None:
        interval_ns = sampling_interval(t, values)
    valid = ~np.isnan(values)
    reach = _last_valid(t, valid) + np.asarray(interval_ns, dtype=np.int64)
    if span is not None:
        window_index = grid_ids(span[0], span[1], period)
        if len(window_index):
            starts, ends = window_bounds(window_index[[0, -1]], period)
            inside = slice(*np.searchsorted(t, [starts[0], ends[1]]))
        else:
            inside = slice(0, 0)
        t, values, valid = t[inside], values[:, inside], valid[:, inside]
    held, first = window_segments(window_ids(t, period))
    if span is None:
        window_index = held
    n_windows = len(window_index)
    sums = np.zeros((n_sensors, n_windows))
    counts = np.zeros((n_sensors, n_windows), dtype=np.int64)
    maxima = np.full((n_sensors, n_windows), -np.inf)
    if len(t):
        at = np.searchsorted(window_index, held)
        sums[:, at] = np.add.reduceat(np.where(valid, values, 0.0), first, axis=1)
        counts[:, at] = np.add.reduceat(valid.view(np.uint8), first, axis=1, dtype=np.int32)
        maxima[:, at] = np.fmax.reduceat(values, first, axis=1)  # fmax skips NaN
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    maxima = np.where(counts > 0, maxima, np.nan)
    start, end = window_bounds(window_index, period)
    length_ns = (end - start).astype(np.int64)
    if active is not None and n_windows:
        length_ns = active_minutes(window_index, start[0], end[-1], period, active) * 60 * 10**9
    interval = np.asarray(interval_ns, dtype=np.float64)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(interval > 0, length_ns[None, :] / interval, counts)
        coverage = np.where(expected > 0, np.minimum(counts / expected, 1.0), 0.0)
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
        length_ns=length_ns,
    )


def _last_valid(times: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per sensor, the time (ns) of its last valid sample; a very early time when none."""
    none = np.iinfo(np.int64).min // 2  # far before any data, and safe to add to
    if valid.shape[1] == 0:
        return np.full(valid.shape[0], none, dtype=np.int64)
    last_index = valid.shape[1] - 1 - np.argmax(valid[:, ::-1], axis=1)
    result: np.ndarray = np.where(valid.any(axis=1), times.astype(np.int64)[last_index], none)
    return result


def window_segments(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct window numbers of sorted ``ids`` and where each first occurs.

    Sorted times put each window's samples side by side, so its first is where the
    number changes: what ``np.unique(..., return_index=True)`` gives, without sorting.
    """
    first = np.flatnonzero(np.diff(ids, prepend=ids[:1] - 1)) if len(ids) else np.zeros(0, np.intp)
    return ids[first], first


def grid_ids(start: np.datetime64, end: np.datetime64, period: str) -> np.ndarray:
    """Numbers of the windows of ``period`` that start in ``[start, end)``."""
    bounds = np.array([start, end], dtype="datetime64[ns]")
    first, last = window_ids(bounds, period)
    if window_bounds(np.array([first]), period)[0][0] < bounds[0]:
        first += 1  # the window holding ``start`` began before it
    if window_bounds(np.array([last]), period)[0][0] < bounds[1]:
        last += 1  # the window holding ``end`` starts before ``end``
    return np.arange(first, max(first, last), dtype=np.int64)


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
    flags = active(grid)
    if len(window_index) and window_index[-1] - window_index[0] == len(window_index) - 1:
        # a dense grid of windows spanning the minute grid: positions by subtraction
        counts = np.bincount(grid_ids - window_index[0], weights=flags, minlength=len(window_index))
    else:
        pos = np.searchsorted(window_index, grid_ids)
        known = pos < len(window_index)
        known[known] = window_index[pos[known]] == grid_ids[known]
        counts = np.bincount(pos[known], weights=flags[known], minlength=len(window_index))
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
