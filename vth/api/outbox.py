"""The forwarding outbox: claim due deliveries, record how they went.

A claim leases a row (moves its ``next_attempt_at`` past the lease) with a
compare-and-set on the old value, so two forwarders (two API workers) never deliver the
same row at once, on SQLite and PostgreSQL alike. A delivery that fails is tried
again after an exponentially growing wait, until ``max_attempts``; then it is
``failed`` and waits for someone to retry it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from vth.api.tables import OutboxRow
from vth.models.workflow import Delivery


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff of failed deliveries.

    The n-th retry waits ``base_s * 2**(n-1)`` seconds, at most ``max_s``, shortened at
    random by up to ``jitter`` of itself so that many failed deliveries do not all
    come back at the same moment.
    """

    base_s: float = 2.0
    max_s: float = 600.0
    max_attempts: int = 12
    jitter: float = 0.2
    #: How long a claimed delivery is left to its forwarder before another may take it.
    lease_s: float = 120.0

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        wait = min(self.max_s, self.base_s * 2 ** max(0, attempts - 1))
        return timedelta(seconds=wait * (1 - self.jitter * random.random()))


@dataclass(frozen=True)
class Claim:
    """A delivery a forwarder holds: the outbox row, its alert and target."""

    row_id: int
    alert_id: str
    target: str
    attempts: int
    result: dict[str, Any]


def claim_due(
    conn: Connection, now: datetime, policy: RetryPolicy, targets: list[str], limit: int
) -> list[Claim]:
    """Lease up to ``limit`` pending deliveries to ``targets`` whose time has come."""
    rows = conn.execute(
        select(
            OutboxRow.id,
            OutboxRow.alert_id,
            OutboxRow.target,
            OutboxRow.attempts,
            OutboxRow.next_attempt_at,
            OutboxRow.result,
        )
        .where(
            OutboxRow.status == "pending",
            OutboxRow.next_attempt_at <= now,
            OutboxRow.target.in_(targets),
        )
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(limit)
    ).all()
    lease_until = now + timedelta(seconds=policy.lease_s)
    claims = []
    for row in rows:
        taken = conn.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == row.id,
                OutboxRow.status == "pending",
                OutboxRow.next_attempt_at == row.next_attempt_at,
            )
            .values(next_attempt_at=lease_until)
        )
        if taken.rowcount:
            claims.append(Claim(row.id, row.alert_id, row.target, row.attempts, row.result or {}))
    return claims


def record_success(conn: Connection, claim: Claim, result: dict[str, Any], now: datetime) -> None:
    """Mark a claimed delivery delivered, with what the target returned."""
    conn.execute(
        update(OutboxRow)
        .where(OutboxRow.id == claim.row_id)
        .values(
            status="delivered",
            attempts=claim.attempts + 1,
            delivered_at=now,
            next_attempt_at=None,
            last_error=None,
            result=result or None,
        )
    )


def record_failure(
    conn: Connection,
    claim: Claim,
    error: str,
    now: datetime,
    policy: RetryPolicy,
    *,
    permanent: bool,
    result: dict[str, Any] | None = None,
) -> bool:
    """Record a failed attempt; True when it will be tried again.

    ``result`` keeps what the target did before it failed (e.g. the zaak it created),
    so the next attempt goes on from there instead of starting over.
    """
    attempts = claim.attempts + 1
    retry = not permanent and attempts < policy.max_attempts
    conn.execute(
        update(OutboxRow)
        .where(OutboxRow.id == claim.row_id)
        .values(
            status="pending" if retry else "failed",
            attempts=attempts,
            next_attempt_at=now + policy.delay(attempts) if retry else None,
            last_error=error[:2000],
            result=(result if result is not None else claim.result) or None,
        )
    )
    return retry


def retry_failed(conn: Connection, alert_id: str, target: str, now: datetime) -> bool:
    """Put a failed delivery back in the queue, due now; False when none failed."""
    updated = conn.execute(
        update(OutboxRow)
        .where(
            OutboxRow.alert_id == alert_id,
            OutboxRow.target == target,
            OutboxRow.status == "failed",
        )
        .values(status="pending", next_attempt_at=now)
    )
    return bool(updated.rowcount)


def deliveries(conn: Connection, alert_id: str) -> list[Delivery]:
    """Where forwarding this alert stands, per target."""
    rows = conn.execute(
        select(
            OutboxRow.alert_id,
            OutboxRow.target,
            OutboxRow.status,
            OutboxRow.attempts,
            OutboxRow.next_attempt_at,
            OutboxRow.last_error,
            OutboxRow.delivered_at,
            OutboxRow.result,
        )
        .where(OutboxRow.alert_id == alert_id)
        .order_by(OutboxRow.target)
    ).all()
    return [
        Delivery(
            alert_id=r.alert_id,
            target=r.target,
            status=r.status,
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at if r.status == "pending" else None,
            last_error=r.last_error,
            delivered_at=r.delivered_at,
            result=r.result or {},
        )
        for r in rows
    ]
