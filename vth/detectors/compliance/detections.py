"""Detections from limit evaluations: runs of exceeding windows and failed rules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from vth import __version__
from vth.detectors.compliance.averages import LimitAverages, WindowStatus
from vth.detectors.compliance.evaluation import LimitEvaluation
from vth.detectors.compliance.rules import PercentileOutcome
from vth.models.detection import Detection, severity_for
from vth.sensing.windows import runs

#: At most this many windows are copied into an alert's evidence.
MAX_EVIDENCE_WINDOWS = 48


def detections_of(
    ev: LimitEvaluation, ds: xr.Dataset, detector: str, parameters: dict[str, Any]
) -> list[Detection]:
    """Every violation in an evaluation as a detection.

    Rule ``all``: one detection per run of consecutive valid averages above the limit.
    Percentile rules: one per calendar span that failed (or is certain to fail), and
    one per run of failing 24-hour spans.
    """
    found: list[Detection] = []
    above = ev.above_limit
    grid = np.arange(len(ev.averages.start))
    for row in range(len(ev.sensors)):
        if ev.check.limit.rule == "all":
            for first, last in runs(above[row], grid):
                found.append(_window_run(ev, ds, row, first, last, detector, parameters))
        for outcome in ev.percentile[row]:
            if outcome.passed is False:
                found.append(_rule_failure(ev, ds, row, outcome, detector, parameters))
        rolling = ev.rolling[row]
        for outcome in rolling.failing if rolling is not None else []:
            found.append(_rule_failure(ev, ds, row, outcome, detector, parameters))
    return found


def window_records(avg: LimitAverages, row: int, positions: np.ndarray) -> list[dict[str, Any]]:
    """Windows ``positions`` of one sensor as plain JSON values, vectorised."""
    i = np.asarray(positions, dtype=np.intp)
    columns = {
        "start": iso_array(avg.start[i]),
        "end": iso_array(avg.end[i]),
        "status": [WindowStatus(code).label for code in avg.status[row, i].tolist()],
        "average": _rounded_list(avg.mean[row, i]),
        "validated": _rounded_list(avg.validated[row, i]),
        "max": _rounded_list(avg.maximum[row, i]),
        "samples": avg.samples[row, i].tolist(),
        "discarded": avg.discarded[row, i].tolist(),
        "coverage": _rounded_list(avg.coverage[row, i]),
    }
    rows = zip(*columns.values(), strict=True)
    return [dict(zip(columns, values, strict=True)) for values in rows]


def _rounded_list(x: np.ndarray) -> list[float | None]:
    return [None if v != v else v for v in np.round(x.astype(np.float64), 4).tolist()]


def iso_array(t: np.ndarray) -> list[str]:
    """ISO-8601 UTC texts of naive UTC ``datetime64`` values."""
    text = np.datetime_as_string(np.asarray(t, dtype="datetime64[s]"), unit="s")
    return [f"{x}+00:00" for x in text.tolist()]


def _window_run(
    ev: LimitEvaluation,
    ds: xr.Dataset,
    row: int,
    first: int,
    last: int,
    detector: str,
    parameters: dict[str, Any],
) -> Detection:
    avg = ev.averages
    worst = float(np.nanmax(avg.validated[row, first : last + 1]))
    windows = window_records(
        avg, row, np.arange(first, min(last + 1, first + MAX_EVIDENCE_WINDOWS))
    )
    return _detection(
        ev,
        ds,
        row,
        avg.start[first],
        avg.end[last],
        worst,
        detector,
        {"windows": windows, "n_windows": last - first + 1},
        parameters,
    )


def _rule_failure(
    ev: LimitEvaluation,
    ds: xr.Dataset,
    row: int,
    outcome: PercentileOutcome,
    detector: str,
    parameters: dict[str, Any],
) -> Detection:
    avg = ev.averages
    end = outcome.end
    if not outcome.complete:  # an open span certain to fail: up to its last judged window
        judged = (avg.start >= outcome.start) & (avg.end <= outcome.end)
        judged &= avg.status[row] != WindowStatus.PENDING
        end = avg.end[np.flatnonzero(judged)[-1]]
    return _detection(
        ev,
        ds,
        row,
        outcome.start,
        end,
        outcome.percentile_value,
        detector,
        {
            "rule": {
                "percentile_required": outcome.required,
                "valid_averages": outcome.valid,
                "within_limit": outcome.within,
                "fraction_within": rounded(outcome.fraction),
                "percentile_value": rounded(outcome.percentile_value),
                "span_complete": outcome.complete,
            }
        },
        parameters,
    )


def _detection(
    ev: LimitEvaluation,
    ds: xr.Dataset,
    row: int,
    start: np.datetime64,
    end: np.datetime64,
    value: float,
    detector: str,
    details: dict[str, Any],
    parameters: dict[str, Any],
) -> Detection:
    check = ev.check
    lat, lon = _position(ds, ev.sensor_index[row], check)
    evidence: dict[str, Any] = {
        "limit": check.permit_limit.model_dump(mode="json"),
        "limit_in_stream_unit": ev.limit_value,
        "confidence_interval_subtracted": ev.confidence_interval,
        "min_coverage": ev.min_coverage,
        **details,
        "parameters": parameters,
        "versions": {"vth": __version__},
    }
    return Detection(
        detector=detector,
        kind=check.kind,
        mba_id=check.mba_id,
        source_id=check.source.id,
        sensor_id=ev.sensors[row],
        substance=check.limit.substance,
        average=check.limit.average,
        rule=None if check.rule_label == "all" else check.rule_label,
        start=utc(start),
        end=utc(end),
        value=value,
        limit=ev.limit_value,
        unit=ev.unit,
        lat=lat,
        lon=lon,
        severity=severity_for(value / ev.limit_value if ev.limit_value > 0 else None),
        evidence=evidence,
    )


def _position(ds: xr.Dataset, s: int, check: Any) -> tuple[float | None, float | None]:
    location = check.source.location
    if location is not None:
        return location.lat, location.lon
    lat, lon = float(ds["lat"].values[s]), float(ds["lon"].values[s])
    if np.isnan(lat) or np.isnan(lon):
        return None, None
    return lat, lon


def utc(t: np.datetime64) -> Any:
    """A timezone-aware UTC ``datetime`` of a naive UTC ``datetime64``."""
    return pd.Timestamp(t).tz_localize("UTC").to_pydatetime()


def rounded(x: float) -> float | None:
    """``x`` rounded to 4 decimals; None for NaN."""
    return None if np.isnan(x) else round(float(x), 4)
