"""The store's tables: alerts, their audit events, incidents and the forwarding outbox.

The schema is created and upgraded by the Alembic migrations in ``vth/api/migrations``;
these declarations are what the store queries (and what a new migration is checked
against).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    PostgreSQL stores ``timestamptz``. SQLite has no time zone type and drops
    ``tzinfo``, so values are stored there as naive UTC (which compares and sorts
    correctly) and read back as aware UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC (naive UTC for SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("alert store timestamps must be timezone-aware")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class _Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class AlertRow(_Base):
    """One stored alert: the searchable fields as columns, the whole alert in ``body``."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_mba_id_start", "mba_id", "start"),
        Index("ix_alerts_kind", "kind"),
        Index("ix_alerts_status", "status"),
        Index("ix_alerts_incident_id", "incident_id"),
        Index("ix_alerts_mba_id_status_start", "mba_id", "status", "start"),  # LHSO history
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mba_id: Mapped[str] = mapped_column(String)
    source_id: Mapped[str | None] = mapped_column(String)
    sensor_id: Mapped[str | None] = mapped_column(String)
    detector: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String(32))
    substance: Mapped[str | None] = mapped_column(String)
    start: Mapped[datetime] = mapped_column(UtcDateTime())
    end: Mapped[datetime] = mapped_column(UtcDateTime())
    value: Mapped[float | None] = mapped_column(Float)
    limit: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String)
    severity: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The inspector's verdict; kept apart from ``body`` so a detector re-storing the
    #: alert (it grew) never erases it.
    review: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="new", server_default="new")
    #: The incident (id of its first alert) this alert was grouped into.
    incident_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lhso_decision: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )


class IncidentRow(_Base):
    """Alerts of one MBA and kind overlapping in time (within the quiet period)."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_mba_id_kind_end", "mba_id", "kind", "end"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mba_id: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String(32))
    start: Mapped[datetime] = mapped_column(UtcDateTime())
    end: Mapped[datetime] = mapped_column(UtcDateTime())
    alert_count: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AlertEventRow(_Base):
    """One audited change of an alert."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_alert_id", "alert_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)


class OutboxRow(_Base):
    """One alert to forward to one target, written in the transaction that stored the alert.

    The forwarder delivers due rows and records the outcome; ``(alert_id, target)`` is
    unique, so an alert is queued once per target however often it is stored.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("alert_id", "target", name="uq_outbox_alert_id_target"),
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: What a target kept between attempts (e.g. the zaak already created) and returned.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
