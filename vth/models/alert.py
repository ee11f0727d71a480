"""Alerts: detections made ready for inspectors (DESIGN.md section 2)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from vth.models.detection import AlertKind, Candidate, Detection, Severity
from vth.models.lhso import LhsoSuggestion, suggest_lhso
from vth.models.timeutil import as_utc
from vth.models.workflow import AlertStatus, LhsoDecision, Outcome

_ALERT_NAMESPACE = uuid.UUID("6f1c7e36-6c55-4c8e-9d2a-3f1f0b2a9e11")

Verdict = Literal["true_alarm", "false_alarm"]

#: Alert fields the workflow sets (inspectors, the store); a sender's values are ignored.
WORKFLOW_FIELDS = frozenset({"review", "status", "incident_id", "lhso_decision"})


class AlertReview(BaseModel):
    """An inspector's verdict on closing an alert: whether something really went on.

    Closed alerts are labels for tuning detectors (``vth labels export``).
    """

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    outcome: Outcome | None = Field(
        default=None, description="What the inspection found, when closed through the workflow."
    )
    closed_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    inspector: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=4000)

    _utc = field_validator("closed_at")(as_utc)


def verdict_of(outcome: Outcome, kind: str) -> Verdict:
    """Whether an alert closed with this outcome was a true alarm of its detector.

    A sensor fault is what a quality alert (kind ``sensor_fault``) looks for, and a false
    alarm for every other detector.
    """
    if outcome == "confirmed_violation":
        return "true_alarm"
    if outcome == "sensor_fault" and kind == "sensor_fault":
        return "true_alarm"
    return "false_alarm"


class Alert(BaseModel):
    """An alert for inspectors; also the ``data`` of the CloudEvent that forwards it."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=64)
    mba_id: str
    source_id: str | None = None
    sensor_id: str | None = None
    detector: str
    kind: AlertKind
    substance: str | None = None
    average: str | None = Field(default=None, description="Averaging period, e.g. 30min.")
    rule: str | None = Field(
        default=None, description="The limit's rule when not 'all', e.g. P97/year or peak x4."
    )
    start: AwareDatetime
    end: AwareDatetime
    value: float | None = None
    limit: float | None = None
    unit: str | None = None
    lat: float | None = None
    lon: float | None = None
    severity: Severity = "medium"
    lhso: LhsoSuggestion
    candidates: list[Candidate] = Field(default_factory=list)
    evidence: dict[str, Any] = Field(default_factory=dict)
    created_at: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    review: AlertReview | None = Field(
        default=None, description="The inspector's verdict once the alert is closed."
    )
    status: AlertStatus = Field(default="new", description="Where the alert is in the workflow.")
    incident_id: str | None = Field(
        default=None, description="The incident the alert belongs to (the id of its first alert)."
    )
    lhso_decision: LhsoDecision | None = Field(
        default=None, description="The inspector's LHSO assessment, once given."
    )

    _utc = field_validator("start", "end", "created_at")(as_utc)

    @field_validator("end")
    @classmethod
    def _end_not_before_start(cls, end: datetime, info: Any) -> datetime:
        start = info.data.get("start")
        if start is not None and end < start:
            raise ValueError("end is before start")
        return end

    @classmethod
    def from_detection(cls, detection: Detection) -> Alert:
        """Turn a detection into an alert.

        The id is derived from what identifies the event (detector, kind, MBA,
        source, sensor, substance, averaging period, rule, start; or the detection's
        ``key``, e.g. a network incident's network and start), so detecting the same
        event again, or receiving it twice, yields the same alert id and the store
        keeps one alert; an hourly and a daily exceedance stay two alerts.
        """
        d = detection
        identity: tuple[object, ...] = (
            (d.detector, d.kind, d.key)
            if d.key is not None
            else (
                d.detector,
                d.kind,
                d.mba_id,
                d.source_id,
                d.sensor_id,
                d.substance,
                d.average,
                *([d.rule] if d.rule not in (None, "all") else []),
                d.start.isoformat(),
            )
        )
        key = "|".join(str(x) for x in identity)
        return cls(
            id=str(uuid.uuid5(_ALERT_NAMESPACE, key)),
            mba_id=d.mba_id,
            source_id=d.source_id,
            sensor_id=d.sensor_id,
            detector=d.detector,
            kind=d.kind,
            substance=d.substance,
            average=d.average,
            rule=d.rule,
            start=d.start,
            end=d.end,
            value=d.value,
            limit=d.limit,
            unit=d.unit,
            lat=d.lat,
            lon=d.lon,
            severity=d.severity,
            lhso=suggest_lhso(d.exceedance_factor, d.duration_s, d.substance),
            candidates=d.candidates,
            evidence=d.evidence,
        )
