"""Event-level metrics: how many labelled events a detector caught, how early, at what cost.

Matching. A detection *matches* a true label when

- it concerns the same place: the label's sensor when the label names one (a
  detection without a sensor matches by the label's MBA), otherwise the label's MBA;
- it is of the label's kind (labels without a kind match any kind);
- its span overlaps the label's *window*: the label from ``start - early`` to
  ``end + late``. ``early`` lets a detection shortly before the event count (e-noses
  often smell a release before the reference analyser's hour shows it); ``late``
  lets one that comes shortly after count.

Counting. One detection may match several labels (all are detected); several
detections may match one label (it counts once, by its first detection).

- ``precision``: matched detections / detections (NaN without detections);
- ``recall``: detected true labels / true labels (NaN without true labels);
- ``f1``: their harmonic mean (NaN when either is NaN, 0 when both are 0);
- ``time_to_detect``: first matching detection's start minus the label's start,
  per detected label (negative: before the label started); median and mean;
- ``early_score``: per true label 1 when its first detection starts at or before the
  label's start, falling linearly to 0 at the end of its window, 0 when missed;
  averaged over true labels (NaN without true labels);
- ``false_alarms``: detections matching no true label; per sensor per month they are
  divided by the number of sensors watched and the months of the evaluated span;
  ``confirmed_false_alarms`` of them overlap a ``truth = false`` label (an inspector
  closed such an alert as a false alarm).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from vth.detectors.tuning.labels import Label
from vth.models.detection import Detection

_NS = 10**9


@dataclass(frozen=True)
class MatchOptions:
    """Tolerances of the match between detections and labels."""

    early: timedelta = timedelta(0)
    late: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.early < timedelta(0) or self.late < timedelta(0):
            raise ValueError("early and late tolerances must not be negative")


@dataclass
class EventMetrics:
    """Event-level scores of one backtest, with the per-label and per-detection detail."""

    labels: int
    detected: int
    detections: int
    true_detections: int
    false_alarms: int
    confirmed_false_alarms: int
    precision: float
    recall: float
    f1: float
    time_to_detect_median_s: float
    time_to_detect_mean_s: float
    early_score: float
    sensors: int
    months: float
    false_alarms_per_sensor_month: float
    #: One row per true label: ``detected``, ``time_to_detect_s``, ``early_score``.
    per_label: pd.DataFrame = field(repr=False)
    #: One row per detection: ``matched``, ``confirmed_false``.
    per_detection: pd.DataFrame = field(repr=False)
    #: False alarms per sensor (detections without a sensor count under their MBA).
    false_alarms_by_sensor: dict[str, int] = field(repr=False)

    def as_row(self) -> dict[str, float | int]:
        """The scores as one flat row of a results table."""
        return {
            "labels": self.labels,
            "detected": self.detected,
            "detections": self.detections,
            "true_detections": self.true_detections,
            "false_alarms": self.false_alarms,
            "confirmed_false_alarms": self.confirmed_false_alarms,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "time_to_detect_median_s": self.time_to_detect_median_s,
            "time_to_detect_mean_s": self.time_to_detect_mean_s,
            "early_score": self.early_score,
            "sensors": self.sensors,
            "months": self.months,
            "false_alarms_per_sensor_month": self.false_alarms_per_sensor_month,
        }


#: Metric columns of :meth:`EventMetrics.as_row`, in order.
METRIC_COLUMNS = (
    "labels",
    "detected",
    "detections",
    "true_detections",
    "false_alarms",
    "confirmed_false_alarms",
    "precision",
    "recall",
    "f1",
    "time_to_detect_median_s",
    "time_to_detect_mean_s",
    "early_score",
    "sensors",
    "months",
    "false_alarms_per_sensor_month",
)


def event_metrics(
    detections: Sequence[Detection],
    labels: Sequence[Label],
    *,
    sensors: int,
    span: tuple[datetime, datetime],
    options: MatchOptions | None = None,
) -> EventMetrics:
    """Score detections against labelled events (see the module docs for the rules).

    Parameters
    ----------
    detections
        What the detector reported over the evaluated span.
    labels
        True events and confirmed non-events over the same span.
    sensors
        How many sensors the detector watched (for false alarms per sensor).
    span
        The evaluated time span, for false alarms per month.
    options
        Early and late tolerances.
    """
    options = options or MatchOptions()
    if sensors < 0:
        raise ValueError("sensors must not be negative")
    true_labels = [label for label in labels if label.truth]
    non_events = [label for label in labels if not label.truth]
    match = _match_matrix(detections, true_labels, options)  # (detection, label)
    d_matched = np.asarray(match.any(axis=1), dtype=bool)
    l_detected = np.asarray(match.any(axis=0), dtype=bool)
    n_det, n_lab = match.shape

    d_start = _ns([d.start for d in detections])
    l_start = _ns([label.start for label in true_labels])
    l_end = _ns([label.end for label in true_labels])
    big = np.iinfo(np.int64).max
    first = np.where(match, d_start[:, None], big).min(axis=0) if n_det else np.full(n_lab, big)
    ttd = np.where(l_detected, (first - l_start) / _NS, np.nan)
    window_end = l_end + _td_ns(options.late)
    length = (window_end - l_start).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        position = np.where(length > 0, (first - l_start) / length, 0.0)
    score = np.where(l_detected, np.clip(1.0 - position, 0.0, 1.0), 0.0)

    confirmed = (
        _match_matrix(detections, non_events, MatchOptions()).any(axis=1) & ~d_matched
        if non_events
        else np.zeros(n_det, dtype=bool)
    )
    false_alarms = int((~d_matched).sum())
    by_sensor: dict[str, int] = {}
    for d, matched in zip(detections, d_matched.tolist(), strict=True):
        if not matched:
            key = d.sensor_id or d.mba_id
            by_sensor[key] = by_sensor.get(key, 0) + 1
    months = _months(*span)
    exposure = sensors * months
    precision = float(d_matched.sum() / n_det) if n_det else math.nan
    recall = float(l_detected.sum() / n_lab) if n_lab else math.nan
    return EventMetrics(
        labels=n_lab,
        detected=int(l_detected.sum()),
        detections=n_det,
        true_detections=int(d_matched.sum()),
        false_alarms=false_alarms,
        confirmed_false_alarms=int(confirmed.sum()),
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        time_to_detect_median_s=float(np.nanmedian(ttd)) if l_detected.any() else math.nan,
        time_to_detect_mean_s=float(np.nanmean(ttd)) if l_detected.any() else math.nan,
        early_score=float(score.mean()) if n_lab else math.nan,
        sensors=sensors,
        months=months,
        false_alarms_per_sensor_month=false_alarms / exposure if exposure > 0 else math.nan,
        per_label=pd.DataFrame(
            {
                "mba_id": [label.mba_id for label in true_labels],
                "sensor": [label.sensor for label in true_labels],
                "start": [label.start for label in true_labels],
                "end": [label.end for label in true_labels],
                "detected": l_detected,
                "time_to_detect_s": ttd,
                "early_score": score,
            }
        ),
        per_detection=pd.DataFrame(
            {
                "mba_id": [d.mba_id for d in detections],
                "sensor": [d.sensor_id for d in detections],
                "start": [d.start for d in detections],
                "end": [d.end for d in detections],
                "matched": d_matched,
                "confirmed_false": confirmed,
            }
        ),
        false_alarms_by_sensor=dict(sorted(by_sensor.items())),
    )


def _match_matrix(
    detections: Sequence[Detection], labels: Sequence[Label], options: MatchOptions
) -> np.ndarray:
    """``(detection, label)`` booleans: same place, compatible kind, overlapping window."""
    n_det, n_lab = len(detections), len(labels)
    if n_det == 0 or n_lab == 0:
        return np.zeros((n_det, n_lab), dtype=bool)
    d_start = _ns([d.start for d in detections])[:, None]
    d_end = _ns([d.end for d in detections])[:, None]
    w_start = (_ns([label.start for label in labels]) - _td_ns(options.early))[None, :]
    w_end = (_ns([label.end for label in labels]) + _td_ns(options.late))[None, :]
    overlap = (d_start <= w_end) & (d_end >= w_start)

    d_mba = np.array([d.mba_id for d in detections], dtype=object)[:, None]
    d_sensor = np.array([d.sensor_id or "" for d in detections], dtype=object)[:, None]
    l_mba = np.array([label.mba_id or "" for label in labels], dtype=object)[None, :]
    l_sensor = np.array([label.sensor or "" for label in labels], dtype=object)[None, :]
    by_sensor = l_sensor != ""
    same_sensor = (d_sensor == l_sensor) | ((d_sensor == "") & (d_mba == l_mba) & (l_mba != ""))
    same_place = np.where(by_sensor, same_sensor, d_mba == l_mba)

    d_kind = np.array([d.kind for d in detections], dtype=object)[:, None]
    l_kind = np.array([label.kind or "" for label in labels], dtype=object)[None, :]
    kind_ok = (l_kind == "") | (d_kind == l_kind)
    result: np.ndarray = overlap & same_place & kind_ok
    return result


def _ns(times: Sequence[datetime]) -> np.ndarray:
    if not times:
        return np.zeros(0, dtype=np.int64)
    return np.array([pd.Timestamp(t).value for t in times], dtype=np.int64)


def _td_ns(delta: timedelta) -> int:
    return int(pd.Timedelta(delta).value)


def _months(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds()) / (30.436875 * 86400)


def _f1(precision: float, recall: float) -> float:
    if math.isnan(precision) or math.isnan(recall):
        return math.nan
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)
