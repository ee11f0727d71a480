"""The store runs the inspection workflow: lifecycle, audit, incidents, outbox and LHSO."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import T0, build_alert, measured
from vth.api.outbox import Claim, RetryPolicy
from vth.api.store import AlertFilter, AlertStore
from vth.api.workflow import WorkflowError, WorkflowPolicy
from vth.models import Alert, LhsoRules
from vth.models.lhso import BehaviourRule, LhsoSuggestion
from vth.models.workflow import (
    STATUS_ORDER,
    AlertStatus,
    LhsoDecision,
    Outcome,
    StatusChange,
)

OpenStore = Callable[[WorkflowPolicy], AlertStore]

#: The control room's webhook and pager get every new incident, the case system
#: (zaken) what an inspector forwards.
FORWARDING = WorkflowPolicy(targets={"hook": "new", "pager": "new", "zaken": "forward"})
#: Forward at once, retry at once: nothing waits in these tests.
NO_WAIT = RetryPolicy(base_s=0, jitter=0, lease_s=0)


@pytest.fixture
def store(any_store: AlertStore) -> AlertStore:
    """The tests here that take ``store`` run on SQLite and on PostgreSQL."""
    return any_store


@pytest.fixture
def open_store(any_store: AlertStore) -> Iterator[OpenStore]:
    """Open a store on the test's database (SQLite or PostgreSQL) with a policy of its own."""
    opened: list[AlertStore] = []

    def open_(policy: WorkflowPolicy) -> AlertStore:
        # an in-memory SQLite URL opens a database of its own, a PostgreSQL URL the same
        opened.append(AlertStore(any_store.engine.url.render_as_string(False), policy))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def sqlite_store() -> Iterator[AlertStore]:
    """A store in SQLite memory only, for what the workflow decides in Python.

    The queries beneath (grouping, counting violations, claiming) run on both databases
    in the tests that take ``store``; running these on PostgreSQL too would only add
    the cost of a fresh database each.
    """
    with AlertStore("sqlite://") as store:
        yield store


@pytest.fixture
def open_sqlite_store() -> Iterator[OpenStore]:
    """Open stores in SQLite memory with a policy of their own."""
    opened: list[AlertStore] = []

    def open_(policy: WorkflowPolicy) -> AlertStore:
        opened.append(AlertStore("sqlite://", policy))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def forwarding(open_store: OpenStore) -> AlertStore:
    """A store that queues new incidents for 'hook' and 'pager', forwarded alerts for 'zaken'."""
    return open_store(FORWARDING)


@pytest.fixture
def sqlite_forwarding(open_sqlite_store: OpenStore) -> AlertStore:
    """``forwarding`` in SQLite memory only."""
    return open_sqlite_store(FORWARDING)


def alert_at(hours: float, *, minutes: float = 30, **overrides: Any) -> Alert:
    """The NOx exceedance of ``build_alert``, starting ``hours`` after T0, ``minutes`` long."""
    start = T0 + timedelta(hours=hours)
    return build_alert(start=start, end=start + timedelta(minutes=minutes), **overrides)


def move(store: AlertStore, alert: Alert, status: str, actor: str = "j.devries") -> Alert:
    """Move a stored alert on (to ``closed`` as no violation) and return it."""
    change = StatusChange.model_validate(
        {"status": status, "outcome": "no_violation" if status == "closed" else None}
    )
    moved = store.change_status(alert.id, change, actor)
    assert moved is not None
    return moved


def close(
    store: AlertStore, alert: Alert, outcome: Outcome = "confirmed_violation", actor: str = "insp"
) -> Alert:
    closed = store.change_status(alert.id, StatusChange(status="closed", outcome=outcome), actor)
    assert closed is not None
    return closed


def status_of(store: AlertStore, alert: Alert) -> AlertStatus:
    stored = store.get(alert.id)
    assert stored is not None
    return stored.status


def within(moment: datetime | None, before: datetime, after: datetime) -> bool:
    """Whether a time the store set lies between two readings of the clock (aware UTC)."""
    assert moment is not None and moment.utcoffset() == timedelta(0)
    return before <= moment <= after


# --- the lifecycle -----------------------------------------------------------------------


def test_a_stored_alert_starts_new_and_goes_through_every_step(store: AlertStore) -> None:
    alert = build_alert()
    store.upsert(alert)
    assert status_of(store, alert) == "new"

    for status in STATUS_ORDER[1:]:
        moved = move(store, alert, status)
        assert moved.status == status
        assert status_of(store, alert) == status

    closed = store.get(alert.id)
    assert closed is not None and closed.review is not None
    assert measured(closed) == measured(store.list()[0]), "list reads the same alert"
    assert store.deliveries(alert.id) == [], "without targets nothing is queued"


def test_every_move_forward_is_allowed_also_skipping_steps(sqlite_store: AlertStore) -> None:
    pairs = list(itertools.combinations(STATUS_ORDER, 2))
    for n, (current, wanted) in enumerate(pairs):
        alert = alert_at(3 * n)
        sqlite_store.upsert(alert)
        if current != "new":
            move(sqlite_store, alert, current)

        assert move(sqlite_store, alert, wanted).status == wanted, f"{current} -> {wanted}"


def test_moving_back_or_to_the_same_status_is_refused_and_names_both(
    sqlite_store: AlertStore,
) -> None:
    reachable = [s for s in STATUS_ORDER if s not in ("new", "closed")]
    for n, current in enumerate(reachable):
        alert = alert_at(3 * n)
        sqlite_store.upsert(alert)
        move(sqlite_store, alert, current)
        events_before = sqlite_store.events(alert.id)

        for wanted in STATUS_ORDER[1 : STATUS_ORDER.index(current) + 1]:
            with pytest.raises(WorkflowError) as refused:
                move(sqlite_store, alert, wanted)
            message = str(refused.value)
            assert alert.id in message
            assert f"is {current}" in message and f"back to {wanted}" in message

        assert status_of(sqlite_store, alert) == current
        assert sqlite_store.events(alert.id) == events_before, "a refused change is not audited"


def test_a_closed_alert_never_changes_again(store: AlertStore) -> None:
    alert = build_alert()
    store.upsert(alert)
    review = close(store, alert).review

    for wanted in STATUS_ORDER[1:]:
        with pytest.raises(WorkflowError, match=rf"alert {alert.id} is closed"):
            move(store, alert, wanted)

    stored = store.get(alert.id)
    assert stored is not None
    assert (stored.status, stored.review) == ("closed", review)
    assert len(store.events(alert.id)) == 2, "stored and closed, nothing after"


def test_an_unknown_alert_is_neither_moved_nor_decided_on(sqlite_store: AlertStore) -> None:
    change = StatusChange(status="acknowledged")
    decision = LhsoDecision(consequence=2, behaviour="A")

    assert sqlite_store.change_status("no-such-alert", change, "j.devries") is None
    assert sqlite_store.decide_lhso("no-such-alert", decision, "j.devries") is None
    assert sqlite_store.events("no-such-alert") == []
    assert sqlite_store.count() == 0


# --- the audit trail ---------------------------------------------------------------------


def test_every_change_is_audited_in_order_with_who_and_when(store: AlertStore) -> None:
    alert, other = build_alert(), build_alert(mba_id="chemie-botlek")
    before = datetime.now(UTC)
    store.upsert(alert, actor="gateway-rijnmond")
    store.upsert(other)
    move(store, other, "acknowledged")
    store.change_status(alert.id, StatusChange(status="acknowledged"), "j.devries")
    store.change_status(
        alert.id, StatusChange(status="in_inspection", note="visiting the site"), "j.devries"
    )
    store.change_status(
        alert.id,
        StatusChange(status="closed", outcome="sensor_fault", note="analyser drift"),
        "a.bakker",
    )
    after = datetime.now(UTC)

    events = store.events(alert.id)

    assert [(e.action, e.actor, e.from_status, e.to_status, e.detail) for e in events] == [
        ("stored", "gateway-rijnmond", None, "new", {}),
        ("status", "j.devries", "new", "acknowledged", {}),
        ("status", "j.devries", "acknowledged", "in_inspection", {"note": "visiting the site"}),
        (
            "status",
            "a.bakker",
            "in_inspection",
            "closed",
            {"note": "analyser drift", "outcome": "sensor_fault"},
        ),
    ]
    assert all(e.alert_id == alert.id for e in events), "the other alert's are left out"
    assert all(within(e.at, before, after) for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_a_grouped_alert_is_audited_as_stored_by_whoever_sent_it(store: AlertStore) -> None:
    store.upsert(alert_at(0), actor="gateway-rijnmond")
    joining = alert_at(0.25, substance="SO2")

    store.upsert(joining, actor="gateway-rijnmond")

    (event,) = store.events(joining.id)
    assert (event.action, event.actor) == ("grouped", "gateway-rijnmond")


# --- incidents ---------------------------------------------------------------------------


def test_the_first_alert_opens_an_incident_it_leads(store: AlertStore) -> None:
    alert = build_alert(severity="high")
    before = datetime.now(UTC)
    store.upsert(alert)
    after = datetime.now(UTC)

    incident = store.incident(alert.id)
    stored = store.get(alert.id)

    assert stored is not None and stored.incident_id == alert.id
    assert incident is not None
    assert (incident.id, incident.mba_id, incident.kind) == (alert.id, alert.mba_id, alert.kind)
    assert (incident.start, incident.end) == (alert.start, alert.end)
    assert (incident.alert_count, incident.severity, incident.status) == (1, "high", "open")
    assert within(incident.updated_at, before, after)
    (event,) = store.events(alert.id)
    assert (event.action, event.to_status) == ("stored", "new")


def test_an_overlapping_alert_joins_the_open_incident(store: AlertStore) -> None:
    first = alert_at(0)
    store.upsert(first)
    overlapping = alert_at(0.25, minutes=60, substance="SO2")

    assert store.upsert(overlapping) is True

    stored = store.get(overlapping.id)
    assert stored is not None and stored.incident_id == first.id
    assert stored.status == "new"
    (event,) = store.events(overlapping.id)
    assert (event.action, event.to_status, event.detail) == (
        "grouped",
        "new",
        {"incident_id": first.id},
    )
    incident = store.incident(first.id)
    assert incident is not None
    assert (incident.alert_count, incident.start, incident.end) == (2, first.start, overlapping.end)
    assert store.incident(overlapping.id) is None, "a joined alert opens no incident"


def test_an_alert_within_the_quiet_period_joins_the_open_incident(store: AlertStore) -> None:
    first = alert_at(0)  # 10:00-10:30; the default quiet period is an hour
    store.upsert(first)
    at_the_edge = alert_at(1.5)  # starts 11:30, exactly an hour after the incident ended
    reported_late = alert_at(-1.5)  # 08:30-09:00, an hour before the incident started

    store.upsert_many([at_the_edge, reported_late])

    for joined in (at_the_edge, reported_late):
        stored = store.get(joined.id)
        assert stored is not None and stored.incident_id == first.id
    incident = store.incident(first.id)
    assert incident is not None
    assert (incident.start, incident.end) == (reported_late.start, at_the_edge.end)
    assert incident.alert_count == 3


def test_an_alert_beyond_the_quiet_period_opens_a_new_incident(store: AlertStore) -> None:
    first = alert_at(0)
    store.upsert(first)
    later = alert_at(1.5 + 1 / 60)  # 11:31, a minute past the quiet period

    store.upsert(later)

    stored = store.get(later.id)
    assert stored is not None and stored.incident_id == later.id
    assert [e.action for e in store.events(later.id)] == ["stored"]
    assert [i.id for i in store.incidents()] == [later.id, first.id]


def test_an_alert_of_another_kind_or_mba_never_joins(sqlite_store: AlertStore) -> None:
    first = alert_at(0)
    sqlite_store.upsert(first)
    peak = alert_at(0, kind="peak", detector="peaks")
    elsewhere = alert_at(0, mba_id="chemie-botlek")

    sqlite_store.upsert_many([peak, elsewhere])

    for alone in (peak, elsewhere):
        stored = sqlite_store.get(alone.id)
        assert stored is not None and stored.incident_id == alone.id
    counts = {i.id: i.alert_count for i in sqlite_store.incidents()}
    assert counts == {first.id: 1, peak.id: 1, elsewhere.id: 1}


def test_the_quiet_period_may_differ_per_kind(open_sqlite_store: OpenStore) -> None:
    policy = WorkflowPolicy(quiet_period_s=3600, quiet_period_by_kind={"peak": 6 * 3600})
    store = open_sqlite_store(policy)
    assert policy.quiet_period("peak") == timedelta(hours=6)
    assert policy.quiet_period("exceedance") == timedelta(hours=1)
    peak: dict[str, Any] = {"kind": "peak", "detector": "peaks"}
    store.upsert_many([alert_at(0, **peak), alert_at(0)])

    peak_later, exceedance_later = alert_at(3, **peak), alert_at(3)
    store.upsert_many([peak_later, exceedance_later])

    grouped = store.get(peak_later.id)
    alone = store.get(exceedance_later.id)
    assert grouped is not None and grouped.incident_id == alert_at(0, **peak).id
    assert alone is not None and alone.incident_id == exceedance_later.id


def test_a_closed_incident_is_not_joined(store: AlertStore) -> None:
    first = alert_at(0)
    store.upsert(first)
    close(store, first, "no_violation")
    incident = store.incident(first.id)
    assert incident is not None and incident.status == "closed"

    overlapping = alert_at(0.25, substance="SO2")
    store.upsert(overlapping)

    stored = store.get(overlapping.id)
    assert stored is not None and stored.incident_id == overlapping.id
    assert [i.id for i in store.incidents(status="open")] == [overlapping.id]
    assert [i.id for i in store.incidents(status="closed")] == [first.id]


def test_closing_a_member_leaves_the_incident_open(sqlite_store: AlertStore) -> None:
    first, member = alert_at(0), alert_at(0.25, substance="SO2")
    sqlite_store.upsert_many([first, member])

    close(sqlite_store, member, "no_violation")

    incident = sqlite_store.incident(first.id)
    assert incident is not None and incident.status == "open"
    joining = alert_at(0.5, substance="CO")
    sqlite_store.upsert(joining)
    stored = sqlite_store.get(joining.id)
    assert stored is not None and stored.incident_id == first.id


def test_an_incident_spans_its_alerts_and_takes_the_worst_severity(store: AlertStore) -> None:
    first = alert_at(0, severity="medium")
    worst = alert_at(0.5, minutes=120, substance="SO2", severity="critical")
    mild = alert_at(-1, substance="CO", severity="low")

    assert store.upsert_many([first, worst, mild]) == 3

    incident = store.incident(first.id)
    assert incident is not None
    assert incident.alert_count == 3
    assert (incident.start, incident.end) == (mild.start, worst.end)
    assert incident.severity == "critical"
    members = store.list(AlertFilter(incident_id=first.id))
    assert {a.id for a in members} == {first.id, worst.id, mild.id}
    assert store.count(AlertFilter(incident_id=first.id)) == 3
    assert store.list(AlertFilter(incident_id=worst.id)) == []


def test_restoring_a_member_widens_the_incident_without_counting_it_twice(
    store: AlertStore,
) -> None:
    first, member = alert_at(0), alert_at(0.25, substance="SO2")
    store.upsert_many([first, member])
    grown = alert_at(0.25, minutes=300, substance="SO2", severity="high")
    assert grown.id == member.id

    assert store.upsert(grown) is False
    assert store.upsert(grown) is False

    incident = store.incident(first.id)
    assert incident is not None
    assert incident.alert_count == 2
    assert incident.end == grown.end
    assert incident.severity == "high"
    assert [e.action for e in store.events(member.id)] == ["grouped"]


def test_incidents_are_listed_newest_first_and_by_mba(
    store: AlertStore, three_alerts: list[Alert]
) -> None:
    nox, so2, gas = three_alerts

    assert [i.id for i in store.incidents()] == [gas.id, so2.id, nox.id]
    assert [i.id for i in store.incidents(mba_ids=frozenset({"avi-rozenburg"}))] == [
        so2.id,
        nox.id,
    ]
    assert [i.id for i in store.incidents(limit=1, offset=1)] == [so2.id]
    assert store.incident("no-such-incident") is None


# --- the outbox --------------------------------------------------------------------------


def test_a_new_incident_is_queued_once_for_every_new_target_its_members_not(
    forwarding: AlertStore,
) -> None:
    alert, member = alert_at(0), alert_at(0.25, substance="SO2")
    before = datetime.now(UTC)
    forwarding.upsert_many([alert, member])
    after = datetime.now(UTC)

    deliveries = forwarding.deliveries(alert.id)

    assert [(d.target, d.status, d.attempts) for d in deliveries] == [
        ("hook", "pending", 0),
        ("pager", "pending", 0),
    ]
    assert all(within(d.next_attempt_at, before, after) for d in deliveries)
    assert all(d.delivered_at is None and d.last_error is None for d in deliveries)
    assert forwarding.deliveries(member.id) == [], "the incident's first alert is forwarded"


def test_forwarding_queues_the_forward_targets_once_and_audits_them(
    forwarding: AlertStore,
) -> None:
    alert = build_alert()
    forwarding.upsert(alert)

    move(forwarding, alert, "forwarded", actor="j.devries")
    forwarded = forwarding.events(alert.id)[-1]
    with pytest.raises(WorkflowError):
        move(forwarding, alert, "forwarded")
    move(forwarding, alert, "in_inspection")

    assert [(d.target, d.status) for d in forwarding.deliveries(alert.id)] == [
        ("hook", "pending"),
        ("pager", "pending"),
        ("zaken", "pending"),
    ]
    assert (forwarded.action, forwarded.actor, forwarded.to_status) == (
        "status",
        "j.devries",
        "forwarded",
    )
    assert forwarded.detail == {"targets": ["zaken"]}


def test_closing_a_false_alarm_straight_away_forwards_nothing(
    sqlite_forwarding: AlertStore,
) -> None:
    alert = build_alert()
    sqlite_forwarding.upsert(alert)

    close(sqlite_forwarding, alert, "no_violation")

    assert [d.target for d in sqlite_forwarding.deliveries(alert.id)] == ["hook", "pager"]


def test_restoring_an_alert_never_queues_it_again(forwarding: AlertStore) -> None:
    alert = build_alert()
    forwarding.upsert(alert)
    for claim in forwarding.claim_deliveries(NO_WAIT, ["hook", "pager"]):
        forwarding.delivered(claim, {})
    delivered = forwarding.deliveries(alert.id)

    forwarding.upsert(build_alert(end=T0 + timedelta(hours=2), value=700.0))
    forwarding.upsert_many([alert, alert])

    assert forwarding.deliveries(alert.id) == delivered
    assert forwarding.claim_deliveries(NO_WAIT, ["hook", "pager", "zaken"]) == []


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_expires(
    forwarding: AlertStore,
) -> None:
    alert = build_alert()
    forwarding.upsert(alert)
    leased = RetryPolicy(lease_s=120)

    (claim,) = forwarding.claim_deliveries(leased, ["hook"])

    assert (claim.alert_id, claim.target, claim.attempts, claim.result) == (alert.id, "hook", 0, {})
    assert forwarding.claim_deliveries(leased, ["hook"]) == []
    (pending,) = [d for d in forwarding.deliveries(alert.id) if d.target == "hook"]
    assert pending.status == "pending" and pending.attempts == 0
    assert pending.next_attempt_at is not None
    assert pending.next_attempt_at > datetime.now(UTC) + timedelta(seconds=100)

    expired = RetryPolicy(lease_s=0)
    (mine,) = forwarding.claim_deliveries(expired, ["pager"])
    (again,) = forwarding.claim_deliveries(expired, ["pager"])
    assert again.row_id == mine.row_id, "a forwarder that died leaves the row to another"


def test_claims_take_only_the_given_targets_and_at_most_the_limit(
    forwarding: AlertStore,
) -> None:
    alerts = [alert_at(3 * n) for n in range(3)]
    forwarding.upsert_many(alerts)

    first = forwarding.claim_deliveries(RetryPolicy(), ["hook"], limit=2)
    rest = forwarding.claim_deliveries(RetryPolicy(), ["hook"], limit=2)

    assert {c.target for c in first + rest} == {"hook"}
    assert (len(first), len(rest)) == (2, 1)
    assert {c.alert_id for c in first + rest} == {a.id for a in alerts}
    assert forwarding.claim_deliveries(RetryPolicy(), ["zaken"]) == []


def test_two_stores_on_one_sqlite_file_never_claim_the_same_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vth.db'}"
    policy = WorkflowPolicy(quiet_period_s=0, targets={"hook": "new"})
    alerts = [alert_at(n) for n in range(30)]
    with AlertStore(url, policy) as one, AlertStore(url, policy) as two:
        one.upsert_many(alerts)
        claimed: dict[str, list[Claim]] = {"one": [], "two": []}
        failures: list[BaseException] = []
        start = threading.Barrier(2)

        def forward(name: str, store: AlertStore) -> None:
            try:
                start.wait()
                while batch := store.claim_deliveries(RetryPolicy(), ["hook"], limit=3):
                    claimed[name].extend(batch)
            except BaseException as exc:  # reported below, in the test's thread
                failures.append(exc)

        workers = [
            threading.Thread(target=forward, args=("one", one)),
            threading.Thread(target=forward, args=("two", two)),
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)

    assert failures == []
    ids_one = {c.row_id for c in claimed["one"]}
    ids_two = {c.row_id for c in claimed["two"]}
    assert ids_one.isdisjoint(ids_two)
    assert len(claimed["one"]) + len(claimed["two"]) == 30
    assert {c.alert_id for c in claimed["one"] + claimed["two"]} == {a.id for a in alerts}


def test_a_delivered_alert_records_what_the_target_returned(forwarding: AlertStore) -> None:
    alert = build_alert()
    forwarding.upsert(alert)
    (claim,) = forwarding.claim_deliveries(NO_WAIT, ["hook"])

    before = datetime.now(UTC)
    forwarding.delivered(claim, {"status_code": 202})
    after = datetime.now(UTC)

    hook = {d.target: d for d in forwarding.deliveries(alert.id)}["hook"]
    assert (hook.status, hook.attempts, hook.result) == ("delivered", 1, {"status_code": 202})
    assert hook.next_attempt_at is None and hook.last_error is None
    assert within(hook.delivered_at, before, after)
    assert forwarding.claim_deliveries(NO_WAIT, ["hook"]) == []
    last = forwarding.events(alert.id)[-1]
    assert (last.action, last.actor) == ("delivery", "forwarder")
    assert last.detail == {"target": "hook", "status": "delivered", "status_code": 202}


def test_a_failed_attempt_is_tried_again_after_a_wait(forwarding: AlertStore) -> None:
    alert = build_alert()
    forwarding.upsert(alert)
    policy = RetryPolicy(base_s=60, jitter=0.5)
    (claim,) = forwarding.claim_deliveries(policy, ["hook"])
    events = forwarding.events(alert.id)

    before = datetime.now(UTC)
    assert forwarding.delivery_failed(claim, "503 from the hook", policy, permanent=False)
    after = datetime.now(UTC)

    hook = {d.target: d for d in forwarding.deliveries(alert.id)}["hook"]
    assert (hook.status, hook.attempts, hook.last_error) == ("pending", 1, "503 from the hook")
    assert hook.next_attempt_at is not None
    assert before + timedelta(seconds=30) <= hook.next_attempt_at <= after + timedelta(seconds=60)
    assert forwarding.claim_deliveries(policy, ["hook"]) == [], "not before the wait is over"
    assert forwarding.events(alert.id) == events, "a retried attempt is no event yet"


def test_a_delivery_fails_for_good_after_max_attempts_or_a_permanent_error(
    forwarding: AlertStore,
) -> None:
    alert = build_alert()
    forwarding.upsert(alert)
    twice = RetryPolicy(base_s=0, jitter=0, lease_s=0, max_attempts=2)

    (hook,) = forwarding.claim_deliveries(twice, ["hook"])
    assert forwarding.delivery_failed(hook, "timeout", twice, permanent=False) is True
    (hook_again,) = forwarding.claim_deliveries(twice, ["hook"])
    assert hook_again.attempts == 1
    assert forwarding.delivery_failed(hook_again, "timeout", twice, permanent=False) is False
    (pager,) = forwarding.claim_deliveries(twice, ["pager"])
    assert forwarding.delivery_failed(pager, "401 bad token", twice, permanent=True) is False

    states = {
        d.target: (d.status, d.attempts, d.next_attempt_at) for d in forwarding.deliveries(alert.id)
    }
    assert states == {"hook": ("failed", 2, None), "pager": ("failed", 1, None)}
    assert forwarding.claim_deliveries(twice, ["hook", "pager"]) == []
    failed = [e.detail for e in forwarding.events(alert.id) if e.action == "delivery"]
    assert failed == [
        {"target": "hook", "status": "failed", "error": "timeout"},
        {"target": "pager", "status": "failed", "error": "401 bad token"},
    ]


def test_a_failed_delivery_is_retried_on_request_and_only_then(forwarding: AlertStore) -> None:
    alert = build_alert()
    forwarding.upsert(alert)
    (claim,) = forwarding.claim_deliveries(NO_WAIT, ["hook"])
    assert forwarding.retry_delivery(alert.id, "hook") is False, "pending, not failed"
    forwarding.delivery_failed(claim, "gone", NO_WAIT, permanent=True)

    before = datetime.now(UTC)
    assert forwarding.retry_delivery(alert.id, "hook") is True
    after = datetime.now(UTC)

    hook = {d.target: d for d in forwarding.deliveries(alert.id)}["hook"]
    assert (hook.status, hook.attempts, hook.last_error) == ("pending", 1, "gone")
    assert within(hook.next_attempt_at, before, after)
    assert forwarding.retry_delivery(alert.id, "hook") is False, "already back in the queue"
    assert forwarding.retry_delivery(alert.id, "zaken") is False, "never queued there"
    assert forwarding.retry_delivery("no-such-alert", "hook") is False
    (again,) = forwarding.claim_deliveries(NO_WAIT, ["hook"])
    assert again.attempts == 1
    forwarding.delivered(again, {})
    assert forwarding.retry_delivery(alert.id, "hook") is False, "delivered, not failed"


def test_a_failed_attempt_keeps_what_the_target_did_so_far(forwarding: AlertStore) -> None:
    alert = build_alert()
    forwarding.upsert(alert)
    move(forwarding, alert, "forwarded")
    zaak = {"zaak": "https://zaken.example/zaken/api/v1/zaken/123"}

    (first,) = forwarding.claim_deliveries(NO_WAIT, ["zaken"])
    forwarding.delivery_failed(first, "documents: 500", NO_WAIT, permanent=False, result=zaak)
    (second,) = forwarding.claim_deliveries(NO_WAIT, ["zaken"])
    forwarding.delivery_failed(second, "documents: 500 again", NO_WAIT, permanent=False)
    (third,) = forwarding.claim_deliveries(NO_WAIT, ["zaken"])

    assert (second.result, third.result) == (zaak, zaak)
    assert third.attempts == 2
    zaken = {d.target: d for d in forwarding.deliveries(alert.id)}["zaken"]
    assert zaken.result == zaak
    forwarding.delivered(third, {**zaak, "documents": 2})
    zaken = {d.target: d for d in forwarding.deliveries(alert.id)}["zaken"]
    assert zaken.result == {**zaak, "documents": 2}


# --- the LHSO suggestion and decision ----------------------------------------------------


def confirmed_before(store: AlertStore, days: float, *, n: int = 1, **overrides: Any) -> None:
    """``n`` earlier alerts, ``days`` before T0, closed as confirmed violations."""
    for i in range(n):
        earlier = alert_at(-24 * days + 3 * i, **overrides)
        store.upsert(earlier)
        close(store, earlier, "confirmed_violation")


def suggestion_of(store: AlertStore, alert: Alert) -> LhsoSuggestion:
    store.upsert(alert)
    stored = store.get(alert.id)
    assert stored is not None
    return stored.lhso


def test_the_store_suggests_again_whatever_the_sender_suggested(sqlite_store: AlertStore) -> None:
    sent = build_alert(value=900.0).model_copy(
        update={"lhso": LhsoSuggestion(consequence=1, behaviour="D", reason="made up")}
    )

    suggestion = suggestion_of(sqlite_store, sent)

    assert suggestion == LhsoRules().suggest(900 / 400, 1800, "NOx")
    assert (suggestion.consequence, suggestion.behaviour) == (3, "unknown")


def test_each_confirmed_violation_of_the_mba_counts_towards_its_behaviour(
    store: AlertStore,
) -> None:
    behaviours = []
    for day in range(4):  # each day a new alert, closed as a violation after it is stored
        alert = alert_at(24 * day)
        behaviours.append(suggestion_of(store, alert).behaviour)
        close(store, alert, "confirmed_violation")

    assert behaviours == ["unknown", "B", "B", "C"]
    fourth = store.get(alert_at(72).id)
    assert fourth is not None
    assert fourth.lhso == LhsoRules().suggest(452 / 400, 1800, "NOx", confirmed_violations=3)


def test_what_is_not_a_recent_confirmed_violation_of_the_mba_does_not_count(
    store: AlertStore,
) -> None:
    confirmed_before(store, 30, mba_id="chemie-botlek")  # another MBA
    confirmed_before(store, 400)  # longer ago than a year
    for outcome in ("no_violation", "sensor_fault"):
        earlier = alert_at(-24 * 10, substance=outcome)
        store.upsert(earlier)
        close(store, earlier, outcome)
    in_inspection = alert_at(-24 * 5)
    store.upsert(in_inspection)
    move(store, in_inspection, "in_inspection")

    assert suggestion_of(store, build_alert()).behaviour == "unknown"


def test_a_confirmed_violation_that_started_later_does_not_count(store: AlertStore) -> None:
    later = alert_at(24)
    store.upsert(later)
    close(store, later)

    assert suggestion_of(store, build_alert()).behaviour == "unknown"


def test_an_agency_suggests_by_its_own_rules(open_sqlite_store: OpenStore) -> None:
    rules = LhsoRules(behaviour=[BehaviourRule(min_confirmed=1, behaviour="D")], history_days=30)
    store = open_sqlite_store(WorkflowPolicy(lhso_rules=rules))
    confirmed_before(store, 20)
    confirmed_before(store, 40, substance="SO2")  # beyond this agency's 30 days

    suggestion = suggestion_of(store, build_alert())

    assert suggestion == rules.suggest(452 / 400, 1800, "NOx", confirmed_violations=1)
    assert suggestion.behaviour == "D"
    assert "in 30 days" in suggestion.reason


def test_a_grown_alert_keeps_the_suggestion_by_the_agencys_rules(store: AlertStore) -> None:
    confirmed_before(store, 30)
    alert = build_alert()
    assert suggestion_of(store, alert).behaviour == "B"

    grown = build_alert(end=T0 + timedelta(hours=3), value=900.0)
    suggestion = suggestion_of(store, grown)

    assert suggestion == LhsoRules().suggest(900 / 400, 3 * 3600, "NOx", confirmed_violations=1)
    assert suggestion.behaviour == "B"


def test_an_inspectors_lhso_decision_is_stored_with_who_and_when(store: AlertStore) -> None:
    alert = build_alert()
    store.upsert(alert)
    decision = LhsoDecision(consequence=3, behaviour="B", note="second time this year")

    before = datetime.now(UTC)
    decided = store.decide_lhso(alert.id, decision, "j.devries")
    after = datetime.now(UTC)

    assert decided is not None and decided.lhso_decision is not None
    assert decided.lhso_decision.decided_by == "j.devries"
    assert within(decided.lhso_decision.decided_at, before, after)
    assert decided.lhso_decision.model_dump(exclude={"decided_by", "decided_at"}) == {
        "consequence": 3,
        "behaviour": "B",
        "note": "second time this year",
    }
    assert decided.lhso == build_alert().lhso, "the suggestion stays beside the decision"
    assert decided.status == "new", "deciding moves nothing on"
    last = store.events(alert.id)[-1]
    assert (last.action, last.actor, last.from_status, last.to_status) == (
        "lhso",
        "j.devries",
        None,
        None,
    )
    assert last.detail == {"consequence": 3, "behaviour": "B", "note": "second time this year"}


def test_a_later_lhso_decision_replaces_the_earlier(sqlite_store: AlertStore) -> None:
    alert = build_alert()
    sqlite_store.upsert(alert)
    sqlite_store.decide_lhso(alert.id, LhsoDecision(consequence=3, behaviour="B"), "j.devries")
    claimed = LhsoDecision(consequence=2, behaviour="A", decided_by="someone else")

    sqlite_store.decide_lhso(alert.id, claimed, "a.bakker")

    stored = sqlite_store.get(alert.id)
    assert stored is not None and stored.lhso_decision is not None
    assert (stored.lhso_decision.consequence, stored.lhso_decision.behaviour) == (2, "A")
    assert stored.lhso_decision.decided_by == "a.bakker"
    assert stored.lhso_decision.note is None
    assert [(e.action, e.actor) for e in sqlite_store.events(alert.id)] == [
        ("stored", "detector"),
        ("lhso", "j.devries"),
        ("lhso", "a.bakker"),
    ]

    sqlite_store.upsert(build_alert(end=T0 + timedelta(hours=2)))
    close(sqlite_store, alert)
    kept = sqlite_store.get(alert.id)
    assert kept is not None and kept.lhso_decision == stored.lhso_decision, (
        "growing and closing keep the decision"
    )
