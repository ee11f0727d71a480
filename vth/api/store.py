"""The alert store: one row per alert id in SQLite (default) or PostgreSQL.

Searchable fields are columns; the whole alert is kept as JSON in ``body``, so an alert
reads back exactly as it was written. Storing an alert whose id is already there
updates it: an exceedance that keeps going grows (later ``end``, worse ``value``)
under the same id. Beside the alerts the store keeps their workflow (status, audit
events, incidents, the forwarding outbox; :mod:`vth.api.workflow`), written in the
same transactions. Every database failure is raised as :class:`StoreError`.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Engine,
    bindparam,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from vth.api import outbox, workflow
from vth.api.errors import StoreError
from vth.api.outbox import Claim, RetryPolicy
from vth.api.schema import upgrade_schema
from vth.api.tables import AlertEventRow, AlertRow, IncidentRow
from vth.api.workflow import WorkflowPolicy, change_status, decide_lhso, record_event
from vth.models import Alert, AlertKind
from vth.models.workflow import (
    AlertEvent,
    AlertStatus,
    Delivery,
    Incident,
    LhsoDecision,
    StatusChange,
)

_T = TypeVar("_T")

#: Attempts of one write when another writer inserts the same alert id meanwhile.
_MAX_ATTEMPTS = 3


class AlertStore:
    """Alerts in a SQL database, one row per alert id.

    Parameters
    ----------
    url
        SQLAlchemy URL: ``sqlite:///var/vth.db`` (the parent directory is created),
        ``sqlite://`` for an in-memory database shared by all threads (tests), or
        ``postgresql+psycopg://user:password@host/vth`` when several API workers
        share one store. The tables are created or upgraded when needed.
    policy
        How alerts are grouped, suggested and forwarded; the defaults group within
        an hour and forward nowhere.

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

    def __init__(self, url: str, policy: WorkflowPolicy | None = None) -> None:
        self.policy = policy if policy is not None else WorkflowPolicy()
        self.engine: Engine = _create_engine(url)
        #: The URL with the password masked, for messages and logs.
        self.url: str = self.engine.url.render_as_string(hide_password=True)
        # An in-memory SQLite database is one connection shared by every thread:
        # transactions on it must not interleave.
        self._lock: threading.Lock | None = (
            threading.Lock() if _is_sqlite_memory(self.engine.url) else None
        )
        # SQLite lets one writer in at a time; others wait in its busy handler, which
        # sleeps in growing steps (up to 100 ms) and is unfair. The writers of this
        # process queue here instead; those of other processes still meet the busy timeout.
        self._write_lock: threading.Lock | None = self._lock
        if self._write_lock is None and self.engine.url.get_backend_name() == "sqlite":
            self._write_lock = threading.Lock()
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
        """Create the store's tables, or upgrade them to this version's schema.

        Runs the Alembic migrations of :mod:`vth.api.migrations` to the newest one.
        """
        with self._failures("create the alerts table"), self._writing():
            upgrade_schema(self.engine)

    def upsert(self, alert: Alert, actor: str = "detector") -> bool:
        """Store an alert, or update the stored alert with the same id.

        An update replaces the alert (its ``end``, ``value``, ``severity``, ... and the
        JSON body) but keeps the time it was first stored (``created_at``).

        Returns
        -------
        bool
            True when the alert is new, False when an alert with its id existed.
        """
        return self.upsert_many([alert], actor) == 1

    def upsert_many(self, alerts: Iterable[Alert], actor: str = "detector") -> int:
        """Store or update several alerts in one transaction.

        Returns
        -------
        int
            How many of the alerts were new.
        """
        batch = builtins.list(alerts)
        if not batch:
            return 0

        def store(conn: Connection, now: datetime) -> int:
            return sum(workflow.store_alert(conn, a, self.policy, now, actor) for a in batch)

        return self._write(f"store {len(batch)} alert(s)", store)

    def submit(self, alert: Alert, actor: str) -> Submission:
        """Store an alert unless its id is another MBA's, and read it back: ``POST /alerts``.

        One transaction does what :meth:`get`, :meth:`upsert` and :meth:`get` again
        would, so no other writer comes in between and the request takes one
        connection instead of three.

        Returns
        -------
        Submission
            The stored alert as read back and whether it is new; or, when an alert with
            this id belongs to another MBA, that MBA and nothing written.
        """

        def store(conn: Connection, now: datetime) -> tuple[Any, bool, str | None]:
            other = conn.execute(_MBA_OF, {"alert_id": alert.id}).scalar_one_or_none()
            if other is not None and other != alert.mba_id:
                return None, False, other
            new = workflow.store_alert(conn, alert, self.policy, now, actor)
            return conn.execute(_GET, {"alert_id": alert.id}).one(), new, None

        row, new, other = self._write("store 1 alert(s)", store)
        if row is None:
            return Submission(None, new=False, other_mba=other)
        # rebuilt outside the transaction: other writers need not wait for it
        return Submission(_alert_from_row(row), new=new)

    def _write(self, action: str, work: Callable[[Connection, datetime], _T]) -> _T:
        """Run ``work(conn, now)`` in a write transaction, retried when rolled back.

        A concurrent insert of the same alert id, or a deadlock PostgreSQL broke, rolls
        it back; it runs again, at most :data:`_MAX_ATTEMPTS` times in all.
        """
        with self._failures(action):
            attempt = 1
            while True:
                try:
                    with self._writing(), self.engine.begin() as conn:
                        return work(conn, datetime.now(UTC))
                except DBAPIError as exc:
                    # Another writer inserted one of these ids after we found no row
                    # (or PostgreSQL broke a lock cycle). Ours was rolled back; the next
                    # attempt finds the row.
                    if attempt >= _MAX_ATTEMPTS or not _worth_retrying(exc):
                        raise
                    attempt += 1

    def get(self, alert_id: str) -> Alert | None:
        """Return the stored alert with this id, or None."""
        with (
            self._failures(f"read alert {alert_id}"),
            self._serialised(),
            self.engine.connect() as conn,
        ):
            row = conn.execute(_GET, {"alert_id": alert_id}).one_or_none()
        return None if row is None else _alert_from_row(row)

    def change_status(self, alert_id: str, change: StatusChange, actor: str) -> Alert | None:
        """Move an alert on in the workflow, audited as done by ``actor``.

        Returns the changed alert, or None when there is no alert with this id.

        Raises
        ------
        WorkflowError
            When the change goes back or the alert is closed already.
        """
        with self._transaction(f"change the status of alert {alert_id}") as conn:
            found = change_status(conn, alert_id, change, actor, self.policy, _now())
        return self.get(alert_id) if found else None

    def decide_lhso(self, alert_id: str, decision: LhsoDecision, actor: str) -> Alert | None:
        """Record the inspector's LHSO assessment; None when there is no such alert."""
        with self._transaction(f"record the LHSO decision on alert {alert_id}") as conn:
            found = decide_lhso(conn, alert_id, decision, actor, _now())
        return self.get(alert_id) if found else None

    def events(self, alert_id: str) -> builtins.list[AlertEvent]:
        """The audit trail of an alert, oldest first."""
        query = (
            select(AlertEventRow)
            .where(AlertEventRow.alert_id == alert_id)
            .order_by(AlertEventRow.id)
        )
        with self._failures(f"read the events of alert {alert_id}"), self._reading() as conn:
            rows = conn.execute(query).all()
        return [AlertEvent.model_validate({**r._mapping, "detail": r.detail or {}}) for r in rows]

    def incidents(
        self,
        *,
        mba_ids: frozenset[str] | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Incident]:
        """Incidents, newest start first; only of ``mba_ids`` when given."""
        query = select(IncidentRow)
        if mba_ids is not None:
            query = query.where(IncidentRow.mba_id.in_(sorted(mba_ids)))
        if status is not None:
            query = query.where(IncidentRow.status == status)
        query = query.order_by(IncidentRow.start.desc(), IncidentRow.id).limit(limit).offset(offset)
        with self._failures("list incidents"), self._reading() as conn:
            rows = conn.execute(query).all()
        return [_incident(r) for r in rows]

    def incident(self, incident_id: str) -> Incident | None:
        """The incident with this id, or None."""
        query = select(IncidentRow).where(IncidentRow.id == incident_id)
        with self._failures(f"read incident {incident_id}"), self._reading() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else _incident(row)

    def deliveries(self, alert_id: str) -> builtins.list[Delivery]:
        """Where forwarding the alert stands, one entry per target it is queued for."""
        with self._failures(f"read the deliveries of alert {alert_id}"), self._reading() as conn:
            return outbox.deliveries(conn, alert_id)

    def claim_deliveries(
        self, policy: RetryPolicy, targets: builtins.list[str], limit: int = 50
    ) -> builtins.list[Claim]:
        """Lease due deliveries to ``targets`` (see :func:`vth.api.outbox.claim_due`)."""
        with self._transaction("claim deliveries") as conn:
            return outbox.claim_due(conn, _now(), policy, targets, limit)

    def delivered(self, claim: Claim, result: dict[str, Any]) -> None:
        """Record that a claimed delivery arrived."""
        with self._transaction(f"record the delivery of alert {claim.alert_id}") as conn:
            now = _now()
            outbox.record_success(conn, claim, result, now)
            record_event(
                conn,
                claim.alert_id,
                now,
                "forwarder",
                "delivery",
                detail={"target": claim.target, "status": "delivered", **result},
            )

    def delivery_failed(
        self,
        claim: Claim,
        error: str,
        policy: RetryPolicy,
        *,
        permanent: bool,
        result: dict[str, Any] | None = None,
    ) -> bool:
        """Record a failed attempt; True when it will be tried again."""
        with self._transaction(f"record the delivery of alert {claim.alert_id}") as conn:
            now = _now()
            retry = outbox.record_failure(
                conn, claim, error, now, policy, permanent=permanent, result=result
            )
            if not retry:
                record_event(
                    conn,
                    claim.alert_id,
                    now,
                    "forwarder",
                    "delivery",
                    detail={"target": claim.target, "status": "failed", "error": error},
                )
        return retry

    def retry_delivery(self, alert_id: str, target: str) -> bool:
        """Queue a failed delivery again, due now; False when none failed."""
        with self._transaction(f"retry the delivery of alert {alert_id}") as conn:
            return outbox.retry_failed(conn, alert_id, target, _now())

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

    def _writing(self) -> AbstractContextManager[object]:
        return self._write_lock if self._write_lock is not None else nullcontext()

    @contextmanager
    def _transaction(self, action: str) -> Iterator[Connection]:
        with self._failures(action), self._writing(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._serialised(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _failures(self, action: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise StoreError(f"alert store {self.url}: cannot {action}: {_reason(exc)}") from exc


#: Columns an alert is rebuilt from: the body and the workflow kept beside it.
_READ = (
    AlertRow.body,
    AlertRow.created_at,
    AlertRow.review,
    AlertRow.status,
    AlertRow.incident_id,
    AlertRow.lhso_decision,
)

#: One alert by id (built once: building a statement costs more than running it).
_GET = select(*_READ).where(AlertRow.id == bindparam("alert_id"))
#: The MBA of an alert id.
_MBA_OF = select(AlertRow.mba_id).where(AlertRow.id == bindparam("alert_id"))


@dataclass(frozen=True)
class Submission:
    """What :meth:`AlertStore.submit` did."""

    #: The stored alert as read back; None when the id is another MBA's.
    alert: Alert | None
    #: True when the alert is new, False when an alert with its id existed.
    new: bool
    #: The MBA of the stored alert with this id when it is not the submitted alert's:
    #: then nothing was written.
    other_mba: str | None = None


def _alert_from_row(row: Any) -> Alert:
    """Rebuild the alert of a row; ``created_at`` is when it was first stored."""
    return Alert.model_validate(
        {
            **row.body,
            "created_at": row.created_at,
            "review": row.review,
            "status": row.status,
            "incident_id": row.incident_id,
            "lhso_decision": row.lhso_decision,
        }
    )


def _incident(row: Any) -> Incident:
    return Incident.model_validate(row._mapping)


def _now() -> datetime:
    return datetime.now(UTC)


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
    status: AlertStatus | None = None
    incident_id: str | None = None
    #: Only alerts of these MBAs (an inspector sees the MBAs of their agency).
    mba_ids: frozenset[str] | None = None
    #: True: only alerts that opened an incident; False: only those that joined one.
    incident_lead: bool | None = None

    def conditions(self) -> builtins.list[ColumnElement[bool]]:
        """WHERE clauses of the filter (none for an empty filter)."""
        where: builtins.list[ColumnElement[bool]] = []
        for column, wanted in (
            (AlertRow.mba_id, self.mba_id),
            (AlertRow.kind, self.kind),
            (AlertRow.source_id, self.source_id),
            (AlertRow.substance, self.substance),
            (AlertRow.status, self.status),
            (AlertRow.incident_id, self.incident_id),
        ):
            if wanted is not None:
                where.append(column == wanted)
        if self.since is not None:
            where.append(AlertRow.end >= _aware(self.since, "since"))
        if self.until is not None:
            where.append(AlertRow.start <= _aware(self.until, "until"))
        if self.mba_ids is not None:
            where.append(AlertRow.mba_id.in_(sorted(self.mba_ids)))
        if self.incident_lead is not None:
            lead = AlertRow.incident_id == AlertRow.id
            where.append(lead if self.incident_lead else ~lead)
        if self.reviewed is not None:
            where.append(
                AlertRow.review.is_not(None) if self.reviewed else AlertRow.review.is_(None)
            )
        return where


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (ISO-8601 with Z or an offset)")
    return value


#: SQLSTATEs of a transaction PostgreSQL rolled back to break a deadlock or conflict.
_RETRY_SQLSTATES = frozenset({"40P01", "40001"})


def _worth_retrying(exc: DBAPIError) -> bool:
    """A duplicate id from a concurrent insert, or a deadlock or serialization failure."""
    return isinstance(exc, IntegrityError) or (
        getattr(exc.orig, "sqlstate", None) in _RETRY_SQLSTATES
    )


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
