"""Validated clock-aligned averages of one emission limit, on a dense grid of windows.

Every window of the evaluated span gets a status, so invalid windows are counted and
reported instead of silently missing: ``valid``; ``discarded`` because too few samples
(or too many discarded shorter averages) were valid; ``not_operating`` when the window
holds no operating time (no average is due); ``pending`` while the data does not reach
the window's end yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from vth.sensing.windows import (
    WindowAverages,
    window_averages,
    window_bounds,
    window_ids,
    window_segments,
)


class WindowStatus(IntEnum):
    """Status of one averaging window of one sensor."""

    VALID = 0
    #: Discarded: fewer valid samples than ``min_coverage`` requires (or none at all).
    INSUFFICIENT_DATA = 1
    #: Discarded: more shorter averages discarded than ``max_discarded`` allows.
    TOO_MANY_DISCARDED = 2
    #: No operating time in the window: no average is due, nothing is discarded.
    NOT_OPERATING = 3
    #: The data does not reach the end of the window yet.
    PENDING = 4

    @property
    def label(self) -> str:
        """Lower-case name with spaces, for reports."""
        return self.name.lower().replace("_", " ")


DISCARDED = (WindowStatus.INSUFFICIENT_DATA, WindowStatus.TOO_MANY_DISCARDED)


@dataclass(frozen=True)
class LimitAverages:
    """Averages of one limit for its sensors over a dense grid of windows.

    Arrays are shaped ``(sensor, window)``; ``start`` and ``end`` are ``(window,)``.
    ``mean`` is the measured average at reference conditions, ``validated`` the
    average the limit is compared with (the mean minus the confidence interval, or
    for averages built from shorter ones the mean of their validated values);
    ``samples`` counts the samples (or shorter averages) used and ``discarded`` the
    discarded shorter averages.
    """

    period: str
    start: np.ndarray
    end: np.ndarray
    mean: np.ndarray
    validated: np.ndarray
    maximum: np.ndarray
    coverage: np.ndarray
    samples: np.ndarray
    discarded: np.ndarray
    status: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        """True where the window's average is valid."""
        result: np.ndarray = self.status == WindowStatus.VALID
        return result

    @property
    def is_discarded(self) -> np.ndarray:
        """True where the window's average was discarded."""
        result: np.ndarray = np.isin(self.status, DISCARDED)
        return result


def sample_averages(
    values: np.ndarray,
    times: np.ndarray,
    period: str,
    span: tuple[np.datetime64, np.datetime64],
    *,
    interval_ns: np.ndarray,
    min_coverage: float,
    confidence_interval: float,
    active: Callable[[np.ndarray], np.ndarray] | None = None,
    horizon: np.datetime64 | None = None,
) -> LimitAverages:
    """Averages over every window of ``period`` starting in ``span``, from samples.

    Parameters
    ----------
    values
        Samples ``(sensor, time)`` at reference conditions, NaN where invalid and
        outside operating time when the limit counts operating time only.
    times
        Sorted UTC times of the columns.
    period
        Averaging period of the limit.
    span
        ``(start, end)`` of the evaluation; windows starting in it are returned.
    interval_ns
        Per-sensor sampling interval (ns) for coverage.
    min_coverage
        Fraction of the expected samples a valid average needs.
    confidence_interval
        Subtracted from each average to give the validated average.
    active
        Operating-time mask of UTC times; windows without operating time are
        ``not_operating`` and coverage counts operating time only.
    horizon
        Windows ending after this time are pending. Without it, each sensor's windows
        are pending until its own data reaches their end (live detection).
    """
    windows = window_averages(values, times, period, interval_ns, active, span=span)
    return validated_averages(
        windows,
        period,
        min_coverage=min_coverage,
        confidence_interval=confidence_interval,
        horizon=horizon,
    )


def validated_averages(
    w: WindowAverages,
    period: str,
    *,
    min_coverage: float,
    confidence_interval: float,
    horizon: np.datetime64 | None = None,
) -> LimitAverages:
    """Status and validated value of each window of :func:`window_averages` output.

    The second half of :func:`sample_averages`, for window averages that several
    limits share (e.g. a half-hour limit and the half-hours of a daily limit).
    """
    status = np.full(w.mean.shape, WindowStatus.VALID, dtype=np.int8)
    status[(w.coverage < min_coverage) | (w.count == 0)] = WindowStatus.INSUFFICIENT_DATA
    if horizon is None:
        status[~w.complete] = WindowStatus.PENDING
    else:
        status[:, w.end > horizon.astype("datetime64[ns]")] = WindowStatus.PENDING
    status[:, w.length_ns == 0] = WindowStatus.NOT_OPERATING
    return LimitAverages(
        period=period,
        start=w.start,
        end=w.end,
        mean=w.mean,
        validated=w.mean - confidence_interval,
        maximum=w.maximum,
        coverage=w.coverage,
        samples=w.count,
        discarded=np.zeros(w.mean.shape, dtype=np.int64),
        status=status,
    )


def averages_of_averages(
    basis: LimitAverages,
    period: str,
    *,
    min_coverage: float,
    max_discarded: int | None,
) -> LimitAverages:
    """Averages of ``period`` from the validated shorter averages in ``basis``.

    IED Annex VI: a daily average is the mean of that day's validated half-hourly
    averages, valid only when no more than ``max_discarded`` half-hours were
    discarded. Without ``max_discarded``, at least ``min_coverage`` of the windows
    with operating time must be valid. A window without any operating time has no
    average and is not discarded; one with a pending shorter average is pending.

    ``basis`` must cover whole windows of ``period`` (a dense grid).
    """
    n_sensors = basis.mean.shape[0]
    if len(basis.start) == 0:
        empty = np.zeros((n_sensors, 0))
        none = np.zeros(0, dtype="datetime64[ns]")
        return LimitAverages(
            period, none, none, empty, empty, empty, empty, empty.astype(np.int64),
            empty.astype(np.int64), empty.astype(np.int8),
        )  # fmt: skip
    window_index, first = window_segments(window_ids(basis.start, period))
    start, end = window_bounds(window_index, period)

    def total(x: np.ndarray) -> np.ndarray:
        result: np.ndarray = np.add.reduceat(x.astype(np.float64), first, axis=1)
        return result

    valid = basis.valid
    n_valid = total(valid)
    n_discarded = total(basis.is_discarded)
    n_operating = total(basis.status != WindowStatus.NOT_OPERATING)
    n_pending = total(basis.status == WindowStatus.PENDING)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total(np.where(valid, basis.mean, 0.0)) / n_valid
        validated = total(np.where(valid, basis.validated, 0.0)) / n_valid
        coverage = np.where(n_operating > 0, n_valid / np.maximum(n_operating, 1), 0.0)
    maximum = np.maximum.reduceat(np.where(valid, basis.validated, -np.inf), first, axis=1)
    maximum = np.where(n_valid > 0, maximum, np.nan)
    status = np.full(mean.shape, WindowStatus.VALID, dtype=np.int8)
    if max_discarded is None:
        status[coverage < min_coverage] = WindowStatus.INSUFFICIENT_DATA
    else:
        status[n_discarded > max_discarded] = WindowStatus.TOO_MANY_DISCARDED
    status[n_valid == 0] = WindowStatus.INSUFFICIENT_DATA
    status[n_pending > 0] = WindowStatus.PENDING
    status[n_operating == 0] = WindowStatus.NOT_OPERATING
    return LimitAverages(
        period=period,
        start=start,
        end=end,
        mean=np.where(n_valid > 0, mean, np.nan),
        validated=np.where(n_valid > 0, validated, np.nan),
        maximum=maximum,
        coverage=coverage,
        samples=n_valid.astype(np.int64),
        discarded=n_discarded.astype(np.int64),
        status=status,
    )
