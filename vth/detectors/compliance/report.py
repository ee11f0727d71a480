"""Compliance reports: per MBA, source, sensor and limit, what the period's data shows.

Counts of valid, discarded, not-operating and pending windows; the exceeding and the
discarded windows themselves; percentile results; discarded averages per year; and a
verdict with its reasons. JSON via pydantic; :mod:`.table` renders it for the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal, get_args

import numpy as np
import xarray as xr
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vth import __version__
from vth.detectors.compliance.averages import WindowStatus
from vth.detectors.compliance.detections import rounded, utc, window_records
from vth.detectors.compliance.evaluation import (
    CheckKind,
    LimitCheck,
    LimitEvaluation,
    Unevaluated,
    evaluate_mba,
)
from vth.detectors.compliance.period import ReportPeriod
from vth.detectors.compliance.rules import PercentileOutcome
from vth.models.profile import MbaProfile, PercentileRule
from vth.sensing.streams import annotate

#: Verdicts from worst to best; an MBA's verdict is the worst of its limits.
Verdict = Literal[
    "non-compliant",
    "error",
    "insufficient data",
    "provisional",
    "not measured",
    "not operating",
    "compliant",
]
VERDICT_ORDER: tuple[Verdict, ...] = get_args(Verdict)
#: At most this many exceeding or discarded windows are listed per limit and sensor.
MAX_LISTED = 2000


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True)


class WindowCounts(_Report):
    """How the windows of the period came out."""

    total: int
    valid: int
    discarded: int
    not_operating: int
    pending: int


class WindowRecord(_Report):
    """One averaging window of one sensor."""

    start: str
    end: str
    status: str
    average: float | None
    validated: float | None
    max: float | None
    samples: int
    discarded: int
    coverage: float | None


class PercentileResult(_Report):
    """A percentile rule over one span (a calendar span, or the worst of a run of 24 h)."""

    start: AwareDatetime
    end: AwareDatetime
    valid: int
    within: int
    fraction: float | None
    percentile_value: float | None
    required: float
    passed: bool | None = Field(description="None: the span is open and may still pass.")
    complete: bool


class Rolling24hResult(_Report):
    """A percentile rule over any 24 hours."""

    required: float
    judged: int
    failed: int
    worst_fraction: float | None
    failing: list[PercentileResult]


class DiscardedYearResult(_Report):
    """Discarded averages in a calendar year against the allowance."""

    year: int
    discarded: int
    allowed: int
    passed: bool
    complete: bool


class LimitReport(_Report):
    """One limit (or peak check) of one source, on one sensor, over the period."""

    source_id: str
    sensor_id: str | None
    substance: str
    average: str
    rule: str
    kind: CheckKind
    limit: float = Field(description="The limit as judged (for peaks: factor x the limit).")
    unit: str
    reference_o2: float | None
    limit_in_stream_unit: float | None = None
    stream_unit: str | None = None
    confidence_interval: float | None = Field(
        default=None, description="Subtracted from each average, in the stream unit."
    )
    windows: WindowCounts | None = None
    exceedances: int = Field(default=0, description="Valid averages above the limit.")
    max_validated: float | None = None
    exceeding_windows: list[WindowRecord] = Field(default_factory=list)
    discarded_windows: list[WindowRecord] = Field(default_factory=list)
    percentile: list[PercentileResult] = Field(default_factory=list)
    rolling_24h: Rolling24hResult | None = None
    discarded_per_year: list[DiscardedYearResult] = Field(default_factory=list)
    verdict: Verdict
    reasons: list[str] = Field(default_factory=list)


class MbaReport(_Report):
    """Every limit of one MBA."""

    mba_id: str
    name: str
    verdict: Verdict
    limits: list[LimitReport]


class ComplianceReport(_Report):
    """The compliance of the MBAs in the data over one period."""

    period: str
    period_start: AwareDatetime
    period_end: AwareDatetime
    data_end: AwareDatetime | None
    generated_at: AwareDatetime
    versions: dict[str, str]
    mbas: list[MbaReport]

    @property
    def verdict(self) -> Verdict:
        """The worst verdict over all MBAs (``not measured`` without any)."""
        return worst([m.verdict for m in self.mbas]) if self.mbas else "not measured"

    @property
    def errors(self) -> list[str]:
        """The reasons of every limit that could not be evaluated."""
        return [
            f"{m.mba_id}/{lim.source_id} {lim.substance} {lim.average}: {reason}"
            for m in self.mbas
            for lim in m.limits
            if lim.verdict == "error"
            for reason in lim.reasons
        ]


def worst(verdicts: list[Verdict]) -> Verdict:
    """The worst of ``verdicts`` by :data:`VERDICT_ORDER`."""
    return min(verdicts, key=VERDICT_ORDER.index)


def compliance_report(
    datasets: Mapping[str, xr.Dataset],
    profiles: Mapping[str, MbaProfile],
    period: ReportPeriod | None = None,
    kinds: tuple[CheckKind, ...] = ("exceedance", "peak"),
) -> ComplianceReport:
    """Evaluate every limit of the MBAs in ``datasets`` over ``period``.

    Parameters
    ----------
    datasets
        Stream datasets keyed by MBA id, time sorted as the stream contract says (as
        :func:`vth.sensing.open_streams` gives them).
    profiles
        Profiles keyed by MBA id; MBAs without a profile are left out.
    period
        The period to judge; the whole UTC days of the data when None.
    kinds
        ``exceedance`` for the limits, ``peak`` for their peak checks.
    """
    wanted = {mba: ds for mba, ds in datasets.items() if mba in profiles}
    if period is None:
        times = np.concatenate([ds["time"].values for ds in wanted.values()] or [np.array([])])
        period = ReportPeriod.covering(times)
    data_end = None
    mbas = []
    for mba_id, dataset in sorted(wanted.items()):
        profile = profiles[mba_id]
        annotated = annotate(dataset, profile)
        limits: list[LimitReport] = []
        for ev in evaluate_mba(annotated, profile, kinds, period=(period.start, period.end)):
            limits.extend(_limit_reports(ev))
        if len(annotated["time"]):
            end = utc(annotated["time"].values[-1])
            data_end = end if data_end is None else max(data_end, end)
        mbas.append(
            MbaReport(
                mba_id=mba_id,
                name=profile.name,
                verdict=worst([lim.verdict for lim in limits]) if limits else "not measured",
                limits=limits,
            )
        )
    return ComplianceReport(
        period=period.label,
        period_start=utc(period.start),
        period_end=utc(period.end),
        data_end=data_end,
        generated_at=datetime.now(UTC),
        versions={"vth": __version__},
        mbas=mbas,
    )


def _limit_reports(ev: LimitEvaluation | Unevaluated) -> list[LimitReport]:
    if isinstance(ev, Unevaluated):
        return [
            LimitReport(
                **_describe(ev.check),
                sensor_id=None,
                verdict="not measured" if ev.error is None else "error",
                reasons=[ev.reason],
            )
        ]
    return [_sensor_report(ev, row) for row in range(len(ev.sensors))]


def _describe(check: LimitCheck) -> dict[str, object]:
    limit = check.limit
    return {
        "source_id": check.source.id,
        "substance": limit.substance,
        "average": limit.average,
        "rule": check.rule_label,
        "kind": check.kind,
        "limit": limit.value,
        "unit": limit.unit,
        "reference_o2": limit.reference_o2,
    }


def _sensor_report(ev: LimitEvaluation, row: int) -> LimitReport:
    avg, counted = ev.averages, ev.counted
    status = avg.status[row][counted]
    above = ev.above_limit[row]
    discarded = avg.is_discarded[row] & counted
    counts = WindowCounts(
        total=int(counted.sum()),
        valid=int((status == WindowStatus.VALID).sum()),
        discarded=int(discarded.sum()),
        not_operating=int((status == WindowStatus.NOT_OPERATING).sum()),
        pending=int((status == WindowStatus.PENDING).sum()),
    )
    valid_validated = avg.validated[row][counted & avg.valid[row]]
    rolling = ev.rolling[row]
    rule = ev.check.limit.rule
    percentile = [_percentile(o) for o in ev.percentile[row]]
    rolling_24h = (
        None
        if rolling is None or not isinstance(rule, PercentileRule)
        else Rolling24hResult(
            required=rule.percentile,
            judged=rolling.judged,
            failed=rolling.failed,
            worst_fraction=rounded(rolling.worst_fraction),
            failing=[_percentile(o) for o in rolling.failing],
        )
    )
    years = [
        DiscardedYearResult.model_validate(y, from_attributes=True) for y in ev.discarded_years[row]
    ]
    verdict, reasons = _verdict(ev, counts, int(above.sum()), percentile, rolling_24h, years)
    return LimitReport(
        **_describe(ev.check),
        sensor_id=ev.sensors[row],
        limit_in_stream_unit=ev.limit_value,
        stream_unit=ev.unit,
        confidence_interval=ev.confidence_interval,
        windows=counts,
        exceedances=int(above.sum()),
        max_validated=rounded(float(valid_validated.max())) if len(valid_validated) else None,
        exceeding_windows=window_records(avg, row, np.flatnonzero(above)[:MAX_LISTED]),
        discarded_windows=window_records(avg, row, np.flatnonzero(discarded)[:MAX_LISTED]),
        percentile=percentile,
        rolling_24h=rolling_24h,
        discarded_per_year=years,
        verdict=verdict,
        reasons=reasons,
    )


def _percentile(o: PercentileOutcome) -> PercentileResult:
    return PercentileResult(
        start=utc(o.start),
        end=utc(o.end),
        valid=o.valid,
        within=o.within,
        fraction=rounded(o.fraction),
        percentile_value=rounded(o.percentile_value),
        required=o.required,
        passed=o.passed,
        complete=o.complete,
    )


def _verdict(
    ev: LimitEvaluation,
    counts: WindowCounts,
    n_above: int,
    percentile: list[PercentileResult],
    rolling: Rolling24hResult | None,
    years: list[DiscardedYearResult],
) -> tuple[Verdict, list[str]]:
    limit = ev.check.limit
    what = f"{limit.value:g} {limit.unit}"
    reasons: list[str] = []
    if limit.rule == "all" and n_above:
        reasons.append(f"{n_above} {limit.average} average(s) above {what}")
    for p in percentile:
        if p.passed is False:
            reasons.append(
                f"{p.fraction:.1%} of {p.valid} {limit.average} averages within {what} from "
                f"{p.start:%Y-%m-%d}, {p.required:g}% required"
                + ("" if p.complete else " (certain to fail)")
            )
    open_rule = any(p.passed is None for p in percentile)
    if rolling is not None and rolling.failed:
        reasons.append(
            f"{rolling.failed} of {rolling.judged} 24-hour spans with fewer than "
            f"{rolling.required:g}% of the {limit.average} averages within {what}"
        )
    # an open year's allowance is reported as counted so far; it does not hold the
    # period's verdict open
    for y in years:
        if not y.passed:
            reasons.append(
                f"{y.discarded} {limit.average} averages discarded in {y.year}; "
                f"at most {y.allowed} allowed"
            )
    if reasons:
        return "non-compliant", reasons
    if counts.total and counts.not_operating == counts.total:
        return "not operating", ["no operating time in the period"]
    if counts.valid == 0:
        if counts.pending:
            return "provisional", ["no valid average yet; the data does not reach the end"]
        return "insufficient data", [f"none of {counts.discarded} due averages is valid"]
    notes = []
    if counts.discarded:
        notes.append(f"{counts.discarded} of {counts.total} averages discarded (too few samples)")
    if counts.pending or open_rule:
        notes.append(
            f"{counts.pending} average(s) pending: the data ends before the period"
            if counts.pending
            else "the rule's span reaches beyond the period"
        )
        return "provisional", notes
    return "compliant", notes
