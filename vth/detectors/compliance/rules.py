"""Compliance rules over validated averages, vectorised over windows.

``all``: every valid average within the limit. Percentile rules: at least ``p`` % of
the valid averages within the limit, per calendar year, month or day, or in any 24
hours (sliding by one averaging period). The percentile value reported is the
inverted-CDF percentile of the validated averages, so "``p`` % within the limit"
holds exactly when that value is at most the limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from vth.detectors.compliance.averages import LimitAverages, WindowStatus
from vth.models.profile import PercentileSpan
from vth.sensing.windows import PERIOD_NS, grid_ids, runs

#: numpy datetime unit of each calendar span of a percentile rule.
_CALENDAR_UNIT: dict[str, str] = {"year": "Y", "month": "M", "day": "D"}


@dataclass(frozen=True)
class PercentileOutcome:
    """A percentile rule over one calendar span (or one run of failing 24-hour spans)."""

    start: np.datetime64
    end: np.datetime64
    valid: int
    within: int
    percentile_value: float
    required: float
    #: False: failed (for an open span: certain to fail); None: open and may still pass.
    passed: bool | None
    #: The whole span lies in the evaluated period and none of its windows is pending.
    complete: bool

    @property
    def fraction(self) -> float:
        """Fraction of the valid averages within the limit (NaN without any)."""
        return self.within / self.valid if self.valid else float("nan")


@dataclass(frozen=True)
class Rolling24h:
    """A percentile rule over any 24 hours: the judged spans and the failing runs."""

    judged: int
    failed: int
    worst_fraction: float
    failing: list[PercentileOutcome]


@dataclass(frozen=True)
class DiscardedYear:
    """Discarded averages of one limit in one calendar year against the allowance."""

    year: int
    discarded: int
    allowed: int
    complete: bool

    @property
    def passed(self) -> bool:
        """At most ``allowed`` averages discarded."""
        return self.discarded <= self.allowed


def within_limit(avg: LimitAverages, row: int, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """``(valid, within)`` flags of one sensor's windows."""
    valid = avg.status[row] == WindowStatus.VALID
    with np.errstate(invalid="ignore"):
        within = valid & (avg.validated[row] <= limit)
    return valid, within


def percentile_value(values: np.ndarray, percentile: float) -> float:
    """The inverted-CDF percentile of ``values`` (NaN when empty).

    The ``j``-th smallest value for the smallest ``j`` with ``100 j >= p n``: the same
    arithmetic as the rule's test, so the value is at most the limit exactly when
    ``p`` % of the values are (numpy's ``inverted_cdf`` rounds ``p/100 n`` in floating
    point and can pick the next value).
    """
    n = len(values)
    if n == 0:
        return float("nan")
    j = max(1, math.ceil(percentile * n / 100))
    while j > 1 and (j - 1) * 100 >= percentile * n:
        j -= 1
    while j < n and j * 100 < percentile * n:
        j += 1
    return float(np.partition(np.asarray(values, dtype=np.float64), j - 1)[j - 1])


def percentile_by_calendar(
    avg: LimitAverages,
    row: int,
    counted: np.ndarray,
    limit: float,
    percentile: float,
    over: PercentileSpan,
    period: tuple[np.datetime64, np.datetime64],
) -> list[PercentileOutcome]:
    """The rule per calendar year, month or day, for the counted windows of one sensor.

    A span that reaches outside ``period`` or still has pending windows is open: it
    fails only when it cannot pass whatever its remaining windows turn out to be.
    """
    valid, within = within_limit(avg, row, limit)
    valid, within = valid[counted], within[counted]
    pending = avg.status[row][counted] == WindowStatus.PENDING
    validated = avg.validated[row][counted]
    outcomes = []
    for members, span_start, span_end in _calendar_spans(avg.start[counted], over):
        n_valid, n_within = int(valid[members].sum()), int(within[members].sum())
        possible = len(grid_ids(span_start, span_end, avg.period))
        seen = int((members & ~pending).sum())
        complete = bool(span_start >= period[0] and span_end <= period[1] and seen == possible)
        best_within, best_valid = n_within + possible - seen, n_valid + possible - seen
        if complete:
            passed: bool | None = n_within * 100 >= percentile * n_valid
        elif best_within * 100 < percentile * best_valid:
            passed = False
        else:
            passed = None
        outcomes.append(
            PercentileOutcome(
                start=span_start,
                end=span_end,
                valid=n_valid,
                within=n_within,
                percentile_value=percentile_value(validated[members & valid], percentile),
                required=percentile,
                passed=passed,
                complete=complete,
            )
        )
    return outcomes


def percentile_any_24h(
    avg: LimitAverages,
    row: int,
    limit: float,
    percentile: float,
    first_end: np.datetime64,
    *,
    earliest_start: np.datetime64 | None = None,
) -> Rolling24h:
    """The rule over every 24 hours of the grid that end at or after ``first_end``.

    Blocks of 24 hours slide by one averaging period; a block with a pending window
    or without valid averages is not judged, nor is one starting before
    ``earliest_start`` (before the data begins, where a lone average would stand for
    a whole day).
    """
    k = 86400 * 10**9 // PERIOD_NS[avg.period]
    valid, within = within_limit(avg, row, limit)
    pending = avg.status[row] == WindowStatus.PENDING
    n_blocks = len(valid) - k + 1
    if n_blocks <= 0:
        return Rolling24h(0, 0, float("nan"), [])

    def block_sums(flags: np.ndarray) -> np.ndarray:
        c = np.concatenate(([0], np.cumsum(flags, dtype=np.int64)))
        result: np.ndarray = c[k:] - c[:-k]
        return result

    n_valid, n_within, n_pending = block_sums(valid), block_sums(within), block_sums(pending)
    block_end = avg.end[k - 1 :]
    judged = (n_pending == 0) & (n_valid > 0) & (block_end >= first_end.astype("datetime64[ns]"))
    if earliest_start is not None:
        judged &= avg.start[: len(block_end)] >= earliest_start.astype("datetime64[ns]")
    failed = judged & (n_within * 100 < percentile * n_valid)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(judged, n_within / np.maximum(n_valid, 1), np.nan)
    failing = []
    for first, last in runs(failed, np.arange(len(failed))):  # failing runs, not samples
        worst = first + int(np.argmin(fraction[first : last + 1]))
        block = slice(worst, worst + k)
        values = avg.validated[row][block][valid[block]]
        failing.append(
            PercentileOutcome(
                start=avg.start[first],
                end=avg.end[last + k - 1],
                valid=int(n_valid[worst]),
                within=int(n_within[worst]),
                percentile_value=percentile_value(values, percentile),
                required=percentile,
                passed=False,
                complete=True,
            )
        )
    return Rolling24h(
        judged=int(judged.sum()),
        failed=int(failed.sum()),
        worst_fraction=float(np.nanmin(fraction)) if judged.any() else float("nan"),
        failing=failing,
    )


def discarded_per_year(
    avg: LimitAverages,
    row: int,
    counted: np.ndarray,
    allowed: int,
    period: tuple[np.datetime64, np.datetime64],
) -> list[DiscardedYear]:
    """Discarded averages of one sensor per calendar year of the counted windows."""
    discarded = avg.is_discarded[row][counted]
    pending = avg.status[row][counted] == WindowStatus.PENDING
    result = []
    for members, start, end in _calendar_spans(avg.start[counted], "year"):
        result.append(
            DiscardedYear(
                year=int(start.astype("datetime64[Y]").astype(int)) + 1970,
                discarded=int(discarded[members].sum()),
                allowed=allowed,
                complete=bool(
                    start >= period[0] and end <= period[1] and not pending[members].any()
                ),
            )
        )
    return result


def _calendar_spans(
    starts: np.ndarray, over: PercentileSpan
) -> Iterator[tuple[np.ndarray, np.datetime64, np.datetime64]]:
    """``(members, start, end)`` of each calendar year, month or day holding ``starts``.

    A loop over calendar spans (a few), not over samples.
    """
    span_ids = starts.astype(f"datetime64[{_CALENDAR_UNIT[over]}]")
    for span in np.unique(span_ids):
        yield span_ids == span, span.astype("datetime64[ns]"), (span + 1).astype("datetime64[ns]")
