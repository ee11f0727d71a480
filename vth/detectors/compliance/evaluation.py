"""Evaluate an MBA's emission limits on its ``(sensor, time)`` streams.

For every source, every limit (or its peak check) and every sensor measuring the
source, samples are (1) converted to the limit's unit, (2) brought to dry gas (when
declared wet) and to the limit's reference O2, (3) masked outside operating time
where the limit says so, (4) averaged over clock-aligned windows (or built from
validated shorter averages), (5) validated by subtracting the confidence interval,
and (6) judged by the limit's rule. The result keeps every window with its status,
for detections and reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import xarray as xr

from vth.detectors.compliance.averages import (
    LimitAverages,
    averages_of_averages,
    validated_averages,
)
from vth.detectors.compliance.rules import (
    DiscardedYear,
    PercentileOutcome,
    Rolling24h,
    discarded_per_year,
    percentile_any_24h,
    percentile_by_calendar,
)
from vth.detectors.errors import DetectorError
from vth.errors import VthError
from vth.models.profile import EmissionLimit, MbaProfile, PercentileRule, Source
from vth.sensing.errors import ReferenceConditionError, UnitError
from vth.sensing.reference import to_dry, to_reference_o2
from vth.sensing.units import convert
from vth.sensing.windows import (
    PERIOD_NS,
    WindowAverages,
    sampling_interval,
    window_averages,
    window_bounds,
    window_ids,
)

CheckKind = Literal["exceedance", "peak"]


@dataclass(frozen=True)
class LimitCheck:
    """One limit of one source as checked: the permit's limit or its peak check."""

    mba_id: str
    source: Source
    permit_limit: EmissionLimit
    kind: CheckKind

    @property
    def limit(self) -> EmissionLimit:
        """The limit the averages are judged by (for peaks: factor x the permit's value)."""
        if self.kind == "peak":
            peak = self.permit_limit.peak_limit()
            assert peak is not None
            return peak
        return self.permit_limit

    @property
    def rule_label(self) -> str:
        """``all``, ``P97/year``, ... or ``peak x4``."""
        if self.kind == "peak":
            assert self.permit_limit.peak is not None
            return f"peak x{self.permit_limit.peak.factor:g}"
        return self.permit_limit.rule_label


@dataclass(frozen=True)
class Unevaluated:
    """A check that could not run: nothing measures it, or its data is unusable."""

    check: LimitCheck
    reason: str
    #: The error when the data is wrong (e.g. O2 needed but missing); None: not measured.
    error: VthError | None = None


@dataclass(frozen=True)
class LimitEvaluation:
    """A check evaluated on the sensors measuring its source.

    ``averages`` rows follow ``sensors``; ``counted`` marks the windows that belong to
    the evaluated period (the grid may start earlier, for rules over any 24 hours).
    The per-sensor rule outcomes are lists in the order of ``sensors``.
    """

    check: LimitCheck
    sensors: list[str]
    sensor_index: list[int]
    unit: str
    limit_value: float
    confidence_interval: float
    min_coverage: float
    period: tuple[np.datetime64, np.datetime64]
    averages: LimitAverages
    counted: np.ndarray
    percentile: list[list[PercentileOutcome]] = field(default_factory=list)
    rolling: list[Rolling24h | None] = field(default_factory=list)
    discarded_years: list[list[DiscardedYear]] = field(default_factory=list)

    @cached_property
    def above_limit(self) -> np.ndarray:
        """``(sensor, window)``: counted valid averages above the limit."""
        with np.errstate(invalid="ignore"):
            above = self.averages.validated > self.limit_value
        result: np.ndarray = self.averages.valid & above & self.counted[None, :]
        return result


class _Memo:
    """What the limits of one MBA share, computed once.

    The operating-time mask, samples at reference O2 and window averages (e.g. a
    half-hour limit and the half-hours of a daily limit share them).
    """

    def __init__(self, mask: Callable[[np.ndarray], np.ndarray]) -> None:
        self._mask = mask
        self._masks: dict[tuple[int, int, int], np.ndarray] = {}
        self.values: dict[tuple[object, ...], np.ndarray] = {}
        self.windows: dict[tuple[object, ...], WindowAverages] = {}

    def active(self, times: np.ndarray) -> np.ndarray:
        """The operating-time mask of ``times``, computed once per grid."""
        if len(times) == 0:
            return np.zeros(0, dtype=bool)
        t = np.asarray(times, dtype="datetime64[ns]").astype(np.int64)
        key = (int(t[0]), int(t[-1]), len(t))
        if key not in self._masks:
            if len(self._masks) > 16:
                self._masks.clear()
            self._masks[key] = self._mask(times)
        return self._masks[key]


def checks_of(profile: MbaProfile, kinds: tuple[CheckKind, ...]) -> list[LimitCheck]:
    """The checks of a profile's limits.

    ``exceedance`` gives one check per limit, ``peak`` one per limit with a peak check.
    """
    checks = []
    for source in profile.sources:
        for limit in source.limits:
            if "exceedance" in kinds:
                checks.append(LimitCheck(profile.id, source, limit, "exceedance"))
            if "peak" in kinds and limit.peak is not None:
                checks.append(LimitCheck(profile.id, source, limit, "peak"))
    return checks


def evaluate_mba(
    dataset: xr.Dataset,
    profile: MbaProfile,
    kinds: tuple[CheckKind, ...] = ("exceedance",),
    *,
    period: tuple[np.datetime64, np.datetime64] | None = None,
    min_coverage: float | None = None,
    sampling_interval_ns: int | None = None,
    substances: list[str] | None = None,
) -> Iterator[LimitEvaluation | Unevaluated]:
    """Evaluate the profile's checks of ``kinds`` on one MBA's annotated streams.

    Parameters
    ----------
    dataset
        The MBA's ``(sensor, time)`` streams, sorted by time.
    profile
        Its permitted profile.
    kinds
        ``exceedance`` (the limits as written) and/or ``peak`` (peak checks).
    period
        ``(start, end)`` UTC of a report: windows starting in it are judged and
        windows ending after the data are pending. Without it (live detection) the
        windows from the first sample on are judged, each sensor's windows pending
        until its own data reaches their end.
    min_coverage
        Overrides every limit's ``min_coverage``.
    sampling_interval_ns
        Sampling interval for coverage; inferred per sensor and substance when None.
    substances
        Only these substances; all when None.

    Yields
    ------
    LimitEvaluation or Unevaluated
        One per check, in profile order; data problems are yielded as
        :class:`Unevaluated` with their ``error`` so that other checks still run.
    """
    times = dataset["time"].values
    sensors = [str(s) for s in dataset["sensor"].values]
    memo = _Memo(profile.operating_mask)
    intervals: dict[str, np.ndarray] = {}
    horizon = None
    if period is not None and len(times):
        horizon = _data_end(dataset)
    for check in checks_of(profile, kinds):
        limit = check.limit
        if substances is not None and limit.substance not in substances:
            continue
        measuring = [i for i, s in enumerate(sensors) if _measures(profile, s, check.source)]
        if limit.substance not in dataset.data_vars or not measuring:
            yield Unevaluated(check, _not_measured(check, measuring, sensors))
            continue
        raw = dataset[limit.substance].transpose("sensor", "time").values
        if period is not None:
            measuring = [i for i in measuring if not np.isnan(raw[i]).all()]
            if not measuring:
                yield Unevaluated(check, f"no {limit.substance} samples from {check.source.id}")
                continue
        if limit.substance not in intervals:
            intervals[limit.substance] = (
                np.full(len(sensors), sampling_interval_ns, dtype=np.int64)
                if sampling_interval_ns is not None
                else sampling_interval(times, raw)
            )
        try:
            yield _evaluate(
                dataset,
                profile,
                check,
                measuring,
                intervals[limit.substance][measuring],
                memo,
                period,
                horizon,
                min_coverage,
            )
        except VthError as exc:
            yield Unevaluated(check, str(exc), error=exc)


def _evaluate(
    ds: xr.Dataset,
    profile: MbaProfile,
    check: LimitCheck,
    rows: list[int],
    interval_ns: np.ndarray,
    memo: _Memo,
    period: tuple[np.datetime64, np.datetime64] | None,
    horizon: np.datetime64 | None,
    min_coverage: float | None,
) -> LimitEvaluation:
    limit, source = check.limit, check.source
    var = ds[limit.substance].transpose("sensor", "time")
    unit = str(var.attrs.get("units", ""))
    try:
        to_stream_unit = float(convert(np.array(1.0), limit.unit, unit))
    except UnitError as exc:
        raise DetectorError(
            f"{profile.id}/{source.id}: {limit.substance} limit in {limit.unit!r} cannot be "
            f"compared with the stream's {unit!r}: {exc}"
        ) from None
    limit_value = limit.value * to_stream_unit
    ci = 0.0 if check.kind == "peak" else source.confidence_interval_value(limit) * to_stream_unit
    coverage = min_coverage if min_coverage is not None else limit.min_coverage
    times = ds["time"].values
    active = memo.active if limit.operating_time_only else None
    values_key = (limit.substance, limit.reference_o2, tuple(rows), limit.operating_time_only)
    if values_key not in memo.values:
        values = _at_reference_o2(ds, profile, source, limit, rows, var.values[rows])
        if active is not None:
            values = np.where(active(times)[None, :], values, np.nan)
        memo.values[values_key] = values
    values = memo.values[values_key]
    judged = _judged_span(times, limit, period)
    span = _grid_span(judged, limit)
    period_of_samples = limit.from_average or limit.average
    windows_key = (*values_key, period_of_samples, span, tuple(interval_ns.tolist()))
    if windows_key not in memo.windows:
        memo.windows[windows_key] = window_averages(
            values, times, period_of_samples, interval_ns, active, span=span
        )
    averages = validated_averages(
        memo.windows[windows_key],
        period_of_samples,
        min_coverage=coverage,
        confidence_interval=ci,
        horizon=horizon,
    )
    if limit.from_average is not None:
        averages = averages_of_averages(
            averages, limit.average, min_coverage=coverage, max_discarded=limit.max_discarded
        )
    counted = averages.start >= judged[0]
    evaluation = LimitEvaluation(
        check=check,
        sensors=[str(ds["sensor"].values[i]) for i in rows],
        sensor_index=rows,
        unit=unit,
        limit_value=limit_value,
        confidence_interval=ci,
        min_coverage=coverage,
        period=judged,
        averages=averages,
        counted=counted,
    )
    _apply_rules(evaluation, _first_window_start(times, limit))
    return evaluation


def _apply_rules(ev: LimitEvaluation, data_start: np.datetime64 | None) -> None:
    limit = ev.check.limit
    for row in range(len(ev.sensors)):
        rule = limit.rule
        if isinstance(rule, PercentileRule) and rule.over == "any_24h":
            ev.rolling.append(
                percentile_any_24h(
                    ev.averages,
                    row,
                    ev.limit_value,
                    rule.percentile,
                    ev.period[0],
                    earliest_start=data_start,
                )
            )
        else:
            ev.rolling.append(None)
        if isinstance(rule, PercentileRule) and rule.over != "any_24h":
            ev.percentile.append(
                percentile_by_calendar(
                    ev.averages,
                    row,
                    ev.counted,
                    ev.limit_value,
                    rule.percentile,
                    rule.over,
                    ev.period,
                )
            )
        else:
            ev.percentile.append([])
        if limit.max_discarded_per_year is not None:
            ev.discarded_years.append(
                discarded_per_year(
                    ev.averages, row, ev.counted, limit.max_discarded_per_year, ev.period
                )
            )
        else:
            ev.discarded_years.append([])


def _judged_span(
    times: np.ndarray, limit: EmissionLimit, period: tuple[np.datetime64, np.datetime64] | None
) -> tuple[np.datetime64, np.datetime64]:
    """The span whose windows are judged: the report period, or the data's windows."""
    if period is not None:
        return period[0].astype("datetime64[ns]"), period[1].astype("datetime64[ns]")
    if len(times) == 0:
        zero = np.datetime64(0, "ns")
        return zero, zero
    starts, ends = window_bounds(window_ids(times[[0, -1]], limit.average), limit.average)
    return starts[0], ends[1]


def _first_window_start(times: np.ndarray, limit: EmissionLimit) -> np.datetime64 | None:
    """Start of the window holding the data's first sample (None without data)."""
    if len(times) == 0:
        return None
    starts, _ = window_bounds(window_ids(times[:1], limit.average), limit.average)
    start: np.datetime64 = starts[0]
    return start


def _grid_span(
    judged: tuple[np.datetime64, np.datetime64], limit: EmissionLimit
) -> tuple[np.datetime64, np.datetime64]:
    """The span of the averaging grid.

    For rules over any 24 hours it starts early enough that the first 24 hours judged
    end one window into the judged span.
    """
    rule = limit.rule
    if isinstance(rule, PercentileRule) and rule.over == "any_24h":
        lookback = np.timedelta64(86400 * 10**9 - PERIOD_NS[limit.average], "ns")
        return judged[0] - lookback, judged[1]
    return judged


def _dry(ds: xr.Dataset, name: str, rows: list[int], values: np.ndarray, where: str) -> np.ndarray:
    """``values`` of variable ``name`` on a dry basis (unchanged unless declared wet)."""
    basis = str(ds[name].attrs.get("basis", "dry"))
    if basis == "dry":
        return values
    if basis != "wet":
        raise ReferenceConditionError(
            f"{where}: {name} has attrs basis={basis!r}; use 'dry' (default) or 'wet'"
        )
    if "H2O" not in ds.data_vars:
        raise ReferenceConditionError(
            f"{where}: {name} is measured in wet gas (basis 'wet') but the stream has no H2O "
            f"(% vol) to bring it to dry gas; add H2O"
        )
    return to_dry(values, ds["H2O"].transpose("sensor", "time").values[rows])


def _at_reference_o2(
    ds: xr.Dataset,
    profile: MbaProfile,
    source: Source,
    limit: EmissionLimit,
    rows: list[int],
    values: np.ndarray,
) -> np.ndarray:
    where = f"{profile.id}/{source.id}"
    values = _dry(ds, limit.substance, rows, values, where)
    if limit.reference_o2 is None:
        return values
    declared = ds[limit.substance].attrs.get("reference_o2")
    if declared is not None:
        if float(declared) == limit.reference_o2:
            return values
        raise ReferenceConditionError(
            f"{where}: {limit.substance} is at {declared}% O2 but the limit "
            f"applies at {limit.reference_o2}% O2; send measured O2 instead"
        )
    if "O2" not in ds.data_vars:
        sensors = ", ".join(str(ds["sensor"].values[i]) for i in rows)
        raise ReferenceConditionError(
            f"{where}: the {limit.substance} limit applies at "
            f"{limit.reference_o2}% O2, but the stream of {sensors} has no O2; add O2, or set "
            f"attrs reference_o2={limit.reference_o2} on {limit.substance} if its values are "
            f"already at reference O2"
        )
    o2 = _dry(ds, "O2", rows, ds["O2"].transpose("sensor", "time").values[rows], where)
    return to_reference_o2(values, o2, limit.reference_o2)


def _data_end(ds: xr.Dataset) -> np.datetime64:
    """The end of the data: its last time plus the typical sampling interval."""
    times = ds["time"].values.astype("datetime64[ns]")
    step = np.diff(times).astype(np.int64)
    typical = int(np.median(step)) if len(step) else 0
    return np.datetime64(int(times[-1].astype(np.int64)) + typical, "ns")


def _measures(profile: MbaProfile, sensor_id: str, source: Source) -> bool:
    found = profile.source_of_sensor(sensor_id)
    return found is not None and found.id == source.id


def _not_measured(check: LimitCheck, measuring: list[int], sensors: list[str]) -> str:
    if not measuring:
        return f"no sensor in the data measures source {check.source.id}"
    names = ", ".join(sensors[i] for i in measuring)
    return f"the streams of {names} have no {check.limit.substance}"
