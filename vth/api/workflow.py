"""The workflow steps the store takes inside one transaction.

Storing a new alert suggests its LHSO category by the agency's rules and the MBA's
history, groups it into an incident (same MBA and kind, overlapping in time within
the quiet period) and, when it opens a new incident, queues it in the outbox for the
targets that forward new alerts: all in the transaction that inserts the alert, so
an alert is never stored without its forwarding, nor forwarded without being stored.
Inspectors' status changes and LHSO decisions are checked and audited here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from vth.api.tables import AlertEventRow, AlertRow, IncidentRow, OutboxRow
from vth.errors import VthError
from vth.models import WORKFLOW_FIELDS, Alert, AlertReview, LhsoRules, verdict_of
from vth.models.detection import exceedance_factor
from vth.models.workflow import AlertStatus, LhsoDecision, StatusChange, can_move

#: When a target gets an alert: when it is stored (``new``, e.g. the control room's
#: webhook) or when an inspector forwards it (``forward``, e.g. a ZGW case).
Trigger = Literal["new", "forward"]

_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class WorkflowError(VthError):
    """A workflow step is not allowed (e.g. reopening a closed alert)."""


@dataclass(frozen=True)
class WorkflowPolicy:
    """How the store groups, suggests and forwards.

    Parameters
    ----------
    quiet_period_s
        An alert starting within this many seconds after an open incident of the same
        MBA and kind ended joins it instead of opening a new one.
    quiet_period_by_kind
        Per alert kind, a quiet period other than ``quiet_period_s``.
    lhso_rules
        The agency's LHSO rules.
    targets
        Forwarding target name -> when it gets an alert.
    """

    quiet_period_s: float = 3600.0
    quiet_period_by_kind: Mapping[str, float] = field(default_factory=dict)
    lhso_rules: LhsoRules = field(default_factory=LhsoRules)
    targets: Mapping[str, Trigger] = field(default_factory=dict)

    def quiet_period(self, kind: str) -> timedelta:
        """The quiet period of alerts of this kind."""
        return timedelta(seconds=self.quiet_period_by_kind.get(kind, self.quiet_period_s))

    def targets_on(self, trigger: Trigger) -> list[str]:
        """Names of the targets that get an alert on this trigger."""
        return sorted(name for name, when in self.targets.items() if when == trigger)


def store_alert(
    conn: Connection, alert: Alert, policy: WorkflowPolicy, now: datetime, actor: str
) -> bool:
    """Insert a new alert with its workflow, or update a stored one; True when new.

    An update replaces what the detector measured (``end``, ``value``, the body) and
    widens its incident, but keeps the workflow (status, review, LHSO decision,
    deliveries). Either way the LHSO suggestion is made by the agency's rules.
    """
    alert = alert.model_copy(update={"lhso": _suggest(conn, alert, policy)})
    columns = _measured_columns(alert)
    stored = conn.execute(select(AlertRow.incident_id).where(AlertRow.id == alert.id)).one_or_none()
    if stored is not None:
        # rows are locked incident first, then alert, on both paths: two writers of
        # the same incident never wait for each other in a circle (PostgreSQL deadlock)
        if stored.incident_id is not None:
            _widen_incident(conn, stored.incident_id, alert, now, joined=False)
        conn.execute(
            update(AlertRow).where(AlertRow.id == alert.id).values(**columns, updated_at=now)
        )
        return False

    incident_id = _open_incident_for(conn, alert, policy)
    if incident_id is None:
        incident_id = alert.id
        conn.execute(
            insert(IncidentRow).values(
                id=alert.id,
                mba_id=alert.mba_id,
                kind=alert.kind,
                start=alert.start,
                end=alert.end,
                alert_count=1,
                severity=alert.severity,
                status="open",
                updated_at=now,
            )
        )
        record_event(conn, alert.id, now, actor, "stored", to_status="new")
        queue(conn, alert.id, policy.targets_on("new"), now)
    else:
        _widen_incident(conn, incident_id, alert, now, joined=True)
        record_event(
            conn,
            alert.id,
            now,
            actor,
            "grouped",
            to_status="new",
            detail={"incident_id": incident_id},
        )
    conn.execute(
        insert(AlertRow).values(
            id=alert.id,
            created_at=alert.created_at,
            updated_at=now,
            status="new",
            incident_id=incident_id,
            **columns,
        )
    )
    return True


def change_status(
    conn: Connection,
    alert_id: str,
    change: StatusChange,
    actor: str,
    policy: WorkflowPolicy,
    now: datetime,
) -> bool:
    """Move an alert on in the workflow; False when there is no such alert.

    Forwarding queues the alert for the targets that forward on an inspector's
    decision; closing records the outcome as the alert's review (a label for tuning)
    and closes its incident when the alert leads it.

    Raises
    ------
    WorkflowError
        When the change goes back, or the alert is closed already.
    """
    row = conn.execute(
        select(AlertRow.status, AlertRow.kind, AlertRow.incident_id).where(AlertRow.id == alert_id)
    ).one_or_none()
    if row is None:
        return False
    current: AlertStatus = row.status
    if current == "closed":
        raise WorkflowError(f"alert {alert_id} is closed; a closed alert cannot change")
    if not can_move(current, change.status):
        raise WorkflowError(f"alert {alert_id} is {current}; it cannot go back to {change.status}")
    values: dict[str, Any] = {"status": change.status, "updated_at": now}
    detail: dict[str, Any] = {}
    if change.note:
        detail["note"] = change.note
    if change.status == "forwarded":
        targets = policy.targets_on("forward")
        queue(conn, alert_id, targets, now)
        detail["targets"] = targets
    if change.status == "closed":
        assert change.outcome is not None  # StatusChange requires it
        review = AlertReview(
            verdict=verdict_of(change.outcome, row.kind),
            outcome=change.outcome,
            closed_at=now,
            inspector=actor,
            note=change.note,
        )
        values["review"] = review.model_dump(mode="json")
        detail["outcome"] = change.outcome
        if row.incident_id == alert_id:
            conn.execute(
                update(IncidentRow)
                .where(IncidentRow.id == alert_id)
                .values(status="closed", updated_at=now)
            )
            _close_members(conn, alert_id, values, actor, now)
    conn.execute(update(AlertRow).where(AlertRow.id == alert_id).values(**values))
    record_event(
        conn,
        alert_id,
        now,
        actor,
        "status",
        from_status=current,
        to_status=change.status,
        detail=detail,
    )
    return True


def _close_members(
    conn: Connection, incident_id: str, values: dict[str, Any], actor: str, now: datetime
) -> None:
    """Close the open alerts that joined an incident with the outcome of its first alert."""
    members = conn.execute(
        select(AlertRow.id, AlertRow.status).where(
            AlertRow.incident_id == incident_id,
            AlertRow.id != incident_id,
            AlertRow.status != "closed",
        )
    ).all()
    for member in members:
        conn.execute(update(AlertRow).where(AlertRow.id == member.id).values(**values))
        record_event(
            conn,
            member.id,
            now,
            actor,
            "status",
            from_status=member.status,
            to_status="closed",
            detail={"outcome": values["review"]["outcome"], "with_incident": incident_id},
        )


def decide_lhso(
    conn: Connection, alert_id: str, decision: LhsoDecision, actor: str, now: datetime
) -> bool:
    """Record the inspector's LHSO assessment (a later one replaces it); False: no alert."""
    decided = decision.model_copy(update={"decided_by": actor, "decided_at": now})
    updated = conn.execute(
        update(AlertRow)
        .where(AlertRow.id == alert_id)
        .values(lhso_decision=decided.model_dump(mode="json"), updated_at=now)
    )
    if not updated.rowcount:
        return False
    record_event(
        conn,
        alert_id,
        now,
        actor,
        "lhso",
        detail=decided.model_dump(mode="json", exclude={"decided_by", "decided_at"}),
    )
    return True


def queue(conn: Connection, alert_id: str, targets: list[str], now: datetime) -> None:
    """Queue an alert for each target it is not queued for yet."""
    if not targets:
        return
    present = set(
        conn.execute(select(OutboxRow.target).where(OutboxRow.alert_id == alert_id)).scalars()
    )
    for target in targets:
        if target not in present:
            conn.execute(
                insert(OutboxRow).values(
                    alert_id=alert_id,
                    target=target,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )


def record_event(
    conn: Connection,
    alert_id: str,
    at: datetime,
    actor: str,
    action: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit event of an alert."""
    conn.execute(
        insert(AlertEventRow).values(
            alert_id=alert_id,
            at=at,
            actor=actor,
            action=action,
            from_status=from_status,
            to_status=to_status,
            detail=detail or None,
        )
    )


def _measured_columns(alert: Alert) -> dict[str, Any]:
    """Columns of what a detector measured; a re-stored alert replaces these only."""
    return {
        "mba_id": alert.mba_id,
        "source_id": alert.source_id,
        "sensor_id": alert.sensor_id,
        "detector": alert.detector,
        "kind": alert.kind,
        "substance": alert.substance,
        "start": alert.start,
        "end": alert.end,
        "value": alert.value,
        "limit": alert.limit,
        "unit": alert.unit,
        "severity": alert.severity,
        "body": alert.model_dump(mode="json", exclude=set(WORKFLOW_FIELDS)),
    }


def _suggest(conn: Connection, alert: Alert, policy: WorkflowPolicy) -> Any:
    """The LHSO suggestion by the agency's rules and the MBA's confirmed violations."""
    rules = policy.lhso_rules
    since = alert.start - timedelta(days=rules.history_days)
    confirmed = conn.execute(
        select(func.count())
        .select_from(AlertRow)
        .where(
            AlertRow.mba_id == alert.mba_id,
            AlertRow.status == "closed",
            AlertRow.start >= since,
            AlertRow.start < alert.start,
            AlertRow.review["outcome"].as_string() == "confirmed_violation",
        )
    ).scalar_one()
    return rules.suggest(
        exceedance_factor(alert.value, alert.limit),
        (alert.end - alert.start).total_seconds(),
        alert.substance,
        confirmed_violations=int(confirmed),
    )


def _open_incident_for(conn: Connection, alert: Alert, policy: WorkflowPolicy) -> str | None:
    """The open incident of the alert's MBA and kind it overlaps (within the quiet period)."""
    quiet = policy.quiet_period(alert.kind)
    return conn.execute(
        select(IncidentRow.id)
        .where(
            IncidentRow.mba_id == alert.mba_id,
            IncidentRow.kind == alert.kind,
            IncidentRow.status == "open",
            IncidentRow.start <= alert.end + quiet,
            IncidentRow.end >= alert.start - quiet,
        )
        .order_by(IncidentRow.start)
        .limit(1)
    ).scalar_one_or_none()


def _widen_incident(
    conn: Connection, incident_id: str, alert: Alert, now: datetime, *, joined: bool
) -> None:
    """Stretch an incident over the alert, take its severity when worse, count it when new."""
    incident = conn.execute(
        select(
            IncidentRow.start, IncidentRow.end, IncidentRow.severity, IncidentRow.alert_count
        ).where(IncidentRow.id == incident_id)
    ).one()
    worse = _SEVERITY_RANK[alert.severity] > _SEVERITY_RANK.get(incident.severity, 0)
    conn.execute(
        update(IncidentRow)
        .where(IncidentRow.id == incident_id)
        .values(
            start=min(incident.start, alert.start),
            end=max(incident.end, alert.end),
            severity=alert.severity if worse else incident.severity,
            alert_count=incident.alert_count + (1 if joined else 0),
            updated_at=now,
        )
    )
