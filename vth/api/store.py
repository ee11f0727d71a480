"""The alert store: one row per alert id in SQLite (default) or PostgreSQL.

Searchable fields are columns; the whole alert is kept as JSON in ``body``, so an alert
reads back exactly as it was written. Storing an alert whose id is already there
updates it: an exceedance that keeps going grows (later ``end``, worse ``value``)
under the same id. Every database failure is raised as :class:`StoreError`.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Engine,
    Float,
    Index,
    String,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, Connection, Dialect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from vth.api.errors import StoreError
from vth.models import Alert, AlertKind, AlertReview

#: Attempts of one write when another writer inserts the same alert id meanwhile.
_MAX_ATTEMPTS = 3


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


class AlertStore:
    """Alerts in a SQL database, one row per alert id.

    Parameters
    ----------
    url
        SQLAlchemy URL: ``sqlite:///var/vth.db`` (the parent directory is created),
        ``sqlite://`` for an in-memory database shared by all threads (tests), or
        ``postgresql+psycopg://user:password@host/vth`` when several API workers
        share one store. The table is created when missing.

    Raises
    ------
    StoreError
        When the URL is invalid, its driver is missing or the database cannot be
        opened; the message shows the URL with the password masked.

    Examples
    --------
    >>> store = AlertStore("sqlite://")
    >>> store.count()
    0
    >>> store.close()
    """

    def __init__(self, url: str) -> None:
        self.engine: Engine = _create_engine(url)
        #: The URL with the password masked, for messages and logs.
        self.url: str = self.engine.url.render_as_string(hide_password=True)
        # An in-memory SQLite database is one connection shared by every thread:
        # transactions on it must not interleave.
        self._lock: threading.Lock | None = (
            threading.Lock() if _is_sqlite_memory(self.engine.url) else None
        )
        try:
            self.create_schema()
        except StoreError:
            self.engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"AlertStore({self.url!r})"

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_schema(self) -> None:
        """Create the ``alerts`` table and its indexes when they do not exist yet."""
        with self._failures("create the alerts table"), self._serialised():
            _Base.metadata.create_all(self.engine)
            _add_missing_columns(self.engine)

    def upsert(self, alert: Alert) -> bool:
        """Store an alert, or update the stored alert with the same id.

        An update replaces the alert (its ``end``, ``value``, ``severity``, ... and the
        JSON body) but keeps the time it was first stored (``created_at``).

        Returns
        -------
        bool
            True when the alert is new, False when an alert with its id existed.
        """
        return self.upsert_many([alert]) == 1

    def upsert_many(self, alerts: Iterable[Alert]) -> int:
        """Store or update several alerts in one transaction.

        Returns
        -------
        int
            How many of the alerts were new.
        """
        batch = builtins.list(alerts)
        if not batch:
            return 0
        with self._failures(f"store {len(batch)} alert(s)"):
            attempt = 1
            while True:
                try:
                    with self._serialised(), self.engine.begin() as conn:
                        now = datetime.now(UTC)
                        return sum(_write(conn, alert, now) for alert in batch)
                except IntegrityError:
                    # Another writer inserted one of these ids after our UPDATE found
                    # no row. Ours was rolled back; the next attempt finds the row.
                    if attempt >= _MAX_ATTEMPTS:
                        raise
                    attempt += 1

    def get(self, alert_id: str) -> Alert | None:
        """Return the stored alert with this id, or None."""
        query = select(*_READ).where(AlertRow.id == alert_id)
        with (
            self._failures(f"read alert {alert_id}"),
            self._serialised(),
            self.engine.connect() as conn,
        ):
            row = conn.execute(query).one_or_none()
        return None if row is None else _alert_from_row(row)

    def review(self, alert_id: str, review: AlertReview) -> Alert | None:
        """Close an alert with an inspector's verdict (a later review replaces it).

        Returns the reviewed alert, or None when there is no alert with this id.
        """
        values = {"review": review.model_dump(mode="json"), "updated_at": datetime.now(UTC)}
        with self._failures(f"review alert {alert_id}"):
            with self._serialised(), self.engine.begin() as conn:
                updated = conn.execute(
                    update(AlertRow).where(AlertRow.id == alert_id).values(**values)
                )
            if not updated.rowcount:
                return None
        return self.get(alert_id)

    def count(self, where: AlertFilter | None = None) -> int:
        """How many stored alerts match the filter (all when None)."""
        conditions = (where or AlertFilter()).conditions()
        query = select(func.count()).select_from(AlertRow).where(*conditions)
        with self._failures("count alerts"), self._serialised(), self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def ping(self) -> bool:
        """Tell whether the database answers ``SELECT 1``; never raises."""
        try:
            with self._serialised(), self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def close(self) -> None:
        """Close every pooled connection (an in-memory database is gone afterwards)."""
        self.engine.dispose()

    def list(
        self,
        where: AlertFilter | None = None,
        *,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Alert]:
        """Return the stored alerts matching every given filter, newest ``start`` first.

        Alerts that started at the same time are ordered by id.

        Parameters
        ----------
        where
            Which alerts; all when None.
        limit, offset
            The page of results: at most ``limit`` alerts after skipping ``offset``.
        """
        query = (
            select(*_READ)
            .where(*(where or AlertFilter()).conditions())
            .order_by(AlertRow.start.desc(), AlertRow.id)
            .limit(limit)
            .offset(offset)
        )
        with self._failures("list alerts"), self._serialised(), self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_alert_from_row(row) for row in rows]

    def _serialised(self) -> AbstractContextManager[object]:
        return self._lock if self._lock is not None else nullcontext()

    @contextmanager
    def _failures(self, action: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise StoreError(f"alert store {self.url}: cannot {action}: {_reason(exc)}") from exc


def _write(conn: Connection, alert: Alert, now: datetime) -> bool:
    """Update the row of ``alert.id`` or insert it; True when inserted.

    An alert without a review leaves a stored review as it is.
    """
    columns = _columns(alert)
    if alert.review is not None:
        columns["review"] = alert.review.model_dump(mode="json")
    updated = conn.execute(
        update(AlertRow).where(AlertRow.id == alert.id).values(**columns, updated_at=now)
    )
    if updated.rowcount:
        return False
    conn.execute(
        insert(AlertRow).values(id=alert.id, created_at=alert.created_at, updated_at=now, **columns)
    )
    return True


def _columns(alert: Alert) -> dict[str, Any]:
    """Column values of an alert that an update replaces (all but id and created_at)."""
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
        "body": alert.model_dump(mode="json", exclude={"review"}),
    }


#: Columns an alert is rebuilt from.
_READ = (AlertRow.body, AlertRow.created_at, AlertRow.review)


def _alert_from_row(row: Any) -> Alert:
    """Rebuild the alert of a row; ``created_at`` is when it was first stored."""
    return Alert.model_validate({**row.body, "created_at": row.created_at, "review": row.review})


def _add_missing_columns(engine: Engine) -> None:
    """Add columns newer versions have to an alerts table an older version created."""
    present = {c["name"] for c in inspect(engine).get_columns(AlertRow.__tablename__)}
    if "review" not in present:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE alerts ADD COLUMN review JSON"))


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts to read; every field that is set must match.

    ``since`` keeps alerts still going at or after that time (``end >= since``);
    ``until`` keeps alerts that started at or before it (``start <= until``). Both
    must be timezone-aware.
    """

    mba_id: str | None = None
    kind: AlertKind | None = None
    source_id: str | None = None
    substance: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: True: only alerts an inspector closed with a verdict; False: only open ones.
    reviewed: bool | None = None

    def conditions(self) -> builtins.list[ColumnElement[bool]]:
        """WHERE clauses of the filter (none for an empty filter)."""
        where: builtins.list[ColumnElement[bool]] = []
        for column, wanted in (
            (AlertRow.mba_id, self.mba_id),
            (AlertRow.kind, self.kind),
            (AlertRow.source_id, self.source_id),
            (AlertRow.substance, self.substance),
        ):
            if wanted is not None:
                where.append(column == wanted)
        if self.since is not None:
            where.append(AlertRow.end >= _aware(self.since, "since"))
        if self.until is not None:
            where.append(AlertRow.start <= _aware(self.until, "until"))
        if self.reviewed is not None:
            where.append(
                AlertRow.review.is_not(None) if self.reviewed else AlertRow.review.is_(None)
            )
        return where


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (ISO-8601 with Z or an offset)")
    return value


def _reason(exc: SQLAlchemyError) -> str:
    """Describe a failure by the driver's message (not the SQL and its parameters)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return f"{type(exc.orig).__name__}: {exc.orig}"
    return f"{type(exc).__name__}: {exc}"


def _is_sqlite_memory(url: URL) -> bool:
    if url.get_backend_name() != "sqlite":
        return False
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _create_engine(url: str) -> Engine:
    """Create the engine for ``url``, with SQLite set up for threads and concurrent readers."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"invalid database URL: {exc}; use e.g. sqlite:///var/vth.db or "
            "postgresql+psycopg://user:password@host/vth"
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    options: dict[str, Any] = {}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        options["connect_args"] = {"check_same_thread": False}
        if _is_sqlite_memory(parsed):
            options["poolclass"] = StaticPool
        elif parsed.database and not parsed.query.get("uri"):
            directory = Path(parsed.database).parent
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"alert store {shown}: cannot create its directory {directory}: "
                    f"{exc.strerror or exc}"
                ) from exc
    try:
        engine = create_engine(parsed, **options)
    except ImportError as exc:
        raise StoreError(
            f"alert store {shown}: the database driver is not installed ({exc}); "
            "for PostgreSQL: pip install 'psycopg[binary]' and use postgresql+psycopg://"
        ) from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"alert store {shown}: cannot create the engine: {exc}") from exc
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL lets readers go on while one writer writes; wait up to 5 s for a lock."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()
