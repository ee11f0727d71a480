"""Runs of True in 2-D boolean masks ``(sensor, time)``, vectorised over all sensors.

Quality control and deviation detectors reason about runs: a value stuck for 30
minutes, a deviation lasting 3 minutes, faults closer than 30 minutes apart. These
helpers find them for all rows at once, with no Python loop over samples.
"""

from __future__ import annotations

import numpy as np


def run_bounds(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every run of True in each row of a 2-D mask.

    Returns
    -------
    rows, starts, stops
        One entry per run, ordered by row then time; ``stops`` is exclusive.
    """
    mask = np.asarray(mask, dtype=bool)
    n_rows, n = mask.shape
    padded = np.zeros((n_rows, n + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)  # +1 where a run starts, -1 after it ends
    start_rows, starts = np.nonzero(edges == 1)
    _, stops = np.nonzero(edges == -1)
    return start_rows, starts, stops


def mark_runs(
    shape: tuple[int, int], rows: np.ndarray, starts: np.ndarray, stops: np.ndarray
) -> np.ndarray:
    """A boolean mask of ``shape`` that is True on the given runs (stops exclusive)."""
    n_rows, n = shape
    size = n_rows * (n + 1)
    delta = np.bincount(rows * (n + 1) + starts, minlength=size) - np.bincount(
        rows * (n + 1) + stops, minlength=size
    )
    # at most a few runs overlap at any sample, so 16-bit sums suffice (and are cheap)
    steps = delta.astype(np.int16).reshape(n_rows, n + 1)
    result: np.ndarray = np.cumsum(steps, axis=1, dtype=np.int16)[:, :n] > 0
    return result


def long_run_bounds(mask: np.ndarray, min_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`run_bounds`, only the runs that last at least ``min_length`` samples."""
    rows, starts, stops = run_bounds(mask)
    keep = stops - starts >= min_length
    return rows[keep], starts[keep], stops[keep]


def long_runs(mask: np.ndarray, min_length: int) -> np.ndarray:
    """Only the runs of True that last at least ``min_length`` samples."""
    return mark_runs(np.shape(mask), *long_run_bounds(mask, min_length))


def run_counts(
    mask: np.ndarray, rows: np.ndarray, starts: np.ndarray, stops: np.ndarray
) -> np.ndarray:
    """How many True samples of ``mask`` each run ``(row, start, stop)`` covers."""
    cum = np.zeros((mask.shape[0], mask.shape[1] + 1), dtype=np.int64)
    np.cumsum(mask, axis=1, out=cum[:, 1:])
    result: np.ndarray = cum[rows, stops] - cum[rows, starts]
    return result


def close_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """Join runs of True separated by at most ``max_gap`` False samples."""
    rows, starts, stops = run_bounds(mask)
    if len(rows) < 2:
        return np.asarray(mask, dtype=bool).copy()
    gap = starts[1:] - stops[:-1]
    bridge = (rows[1:] == rows[:-1]) & (gap <= max_gap)
    return mark_runs(
        np.shape(mask),
        np.concatenate((rows, rows[:-1][bridge])),
        np.concatenate((starts, stops[:-1][bridge])),
        np.concatenate((stops, starts[1:][bridge])),
    )
