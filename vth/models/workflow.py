"""The inspection workflow of an alert: status, outcome, audit events, incidents, deliveries.

An alert goes ``new -> acknowledged -> forwarded -> in_inspection -> closed``; an
inspector may skip steps forward (close a false alarm straight away) but never goes
back, and a closed alert stays closed. Every change is an :class:`AlertEvent` naming
who made it and when.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from vth.models.detection import AlertKind, Severity
from vth.models.timeutil import as_utc, as_utc_or_none

AlertStatus = Literal["new", "acknowledged", "forwarded", "in_inspection", "closed"]
Outcome = Literal["confirmed_violation", "no_violation", "sensor_fault"]
Behaviour = Literal["A", "B", "C", "D", "unknown"]
DeliveryStatus = Literal["pending", "delivered", "failed"]

#: The statuses in workflow order; a change must move forward in this order.
STATUS_ORDER: tuple[AlertStatus, ...] = get_args(AlertStatus)


def can_move(current: AlertStatus, wanted: AlertStatus) -> bool:
    """Tell whether an alert in ``current`` may move to ``wanted`` (forward only)."""
    return STATUS_ORDER.index(wanted) > STATUS_ORDER.index(current)


class StatusChange(BaseModel):
    """An inspector moves an alert on; closing needs the outcome."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal["acknowledged", "forwarded", "in_inspection", "closed"]
    outcome: Outcome | None = Field(
        default=None, description="Required when closing: what the inspection found."
    )
    note: str | None = Field(default=None, max_length=4000)

    @model_validator(mode="after")
    def _outcome_when_closing(self) -> StatusChange:
        if self.status == "closed" and self.outcome is None:
            raise ValueError("closing an alert needs an outcome")
        if self.status != "closed" and self.outcome is not None:
            raise ValueError("an outcome is given only when closing (status 'closed')")
        return self


class LhsoDecision(BaseModel):
    """The inspector's LHSO assessment, confirming or changing the suggestion."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    consequence: int = Field(ge=1, le=4, description="Gevolg 1 nearly nil .. 4 considerable.")
    behaviour: Behaviour = Field(description="Gedrag A well-meaning .. D criminal, or unknown.")
    note: str | None = Field(default=None, max_length=4000)
    decided_by: str | None = Field(default=None, description="Set by the service.")
    decided_at: AwareDatetime | None = Field(default=None, description="Set by the service.")

    _utc = field_validator("decided_at")(as_utc_or_none)


class AlertEvent(BaseModel):
    """One audited change of an alert: who did what, when."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    at: AwareDatetime
    actor: str = Field(description="API key name, 'detector' or 'forwarder'.")
    action: Literal["stored", "grouped", "status", "lhso", "delivery"]
    from_status: AlertStatus | None = None
    to_status: AlertStatus | None = None
    detail: dict[str, Any] = Field(default_factory=dict)

    _utc = field_validator("at")(as_utc)


class Incident(BaseModel):
    """Alerts of one MBA and kind that overlap in time (within a quiet period) as one event.

    The first alert leads: it is forwarded, the others join it.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The id of the first alert (the lead).")
    mba_id: str
    kind: AlertKind
    start: AwareDatetime
    end: AwareDatetime
    alert_count: int = Field(ge=1)
    severity: Severity
    status: Literal["open", "closed"]
    updated_at: AwareDatetime

    _utc = field_validator("start", "end", "updated_at")(as_utc)


class Delivery(BaseModel):
    """Where forwarding an alert to one target stands."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    target: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: AwareDatetime | None = None
    last_error: str | None = None
    delivered_at: AwareDatetime | None = None
    result: dict[str, Any] = Field(
        default_factory=dict, description="What the target returned, e.g. the zaak URL."
    )

    _utc = field_validator("next_attempt_at", "delivered_at")(as_utc_or_none)


def now_utc() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)
