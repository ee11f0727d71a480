"""Detections: what a detector found, before it becomes an alert."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from vth.models.timeutil import as_utc

AlertKind = Literal[
    "exceedance", "peak", "gas_incident", "heat_anomaly", "methane_plume", "sensor_fault"
]
Severity = Literal["low", "medium", "high", "critical"]


class Candidate(BaseModel):
    """A candidate source of a gas incident, with its attribution score (0..1)."""

    model_config = ConfigDict(frozen=True)

    mba_id: str
    source_id: str | None = None
    score: float = Field(ge=0, le=1)
    reason: str | None = Field(default=None, description="Why it scores as it does.")


class Detection(BaseModel):
    """One finding of a detector over a span of time, for one MBA source and substance."""

    model_config = ConfigDict(frozen=True)

    detector: str
    kind: AlertKind
    mba_id: str
    source_id: str | None = None
    sensor_id: str | None = None
    substance: str | None = None
    average: str | None = Field(
        default=None, description="Averaging period of the limit the values were judged by."
    )
    rule: str | None = Field(
        default=None,
        description="The limit's rule when it is not 'all', e.g. P97/year or peak x4.",
    )
    start: AwareDatetime
    end: AwareDatetime
    value: float | None = Field(default=None, description="Worst value over the span.")
    limit: float | None = None
    unit: str | None = None
    lat: float | None = None
    lon: float | None = None
    severity: Severity = "medium"
    candidates: list[Candidate] = Field(
        default_factory=list, description="Ranked candidate sources (network incidents)."
    )
    key: str | None = Field(
        default=None,
        description=(
            "What identifies the event when it is not its MBA and source, e.g. the network "
            "and start of a network incident whose ranked candidates may change as data "
            "arrives."
        ),
    )
    within_permit: bool = Field(
        default=False,
        description=(
            "Seen and within the permit (e.g. a permitted flare below its maximum "
            "temperature): recorded, not alerted."
        ),
    )
    evidence: dict[str, Any] = Field(default_factory=dict)

    _utc = field_validator("start", "end")(as_utc)

    @property
    def duration_s(self) -> float:
        """Length of the span in seconds."""
        return (self.end - self.start).total_seconds()

    @property
    def exceedance_factor(self) -> float | None:
        """``value / limit`` when both are known."""
        return exceedance_factor(self.value, self.limit)


def exceedance_factor(value: float | None, limit: float | None) -> float | None:
    """``value / limit`` when both are known and the limit is positive, else None."""
    if value is None or limit is None or limit <= 0:
        return None
    return value / limit


def severity_for(factor: float | None) -> Severity:
    """Severity from how far a value exceeds its limit (value / limit)."""
    if factor is None:
        return "medium"
    if factor >= 3:
        return "critical"
    if factor >= 1.5:
        return "high"
    if factor >= 1.1:
        return "medium"
    return "low"
