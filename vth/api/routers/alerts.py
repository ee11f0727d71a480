"""``/alerts``: list, read and submit alerts; move them through the inspection workflow."""

from __future__ import annotations

import base64
import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import AwareDatetime

from vth.api.auth import Admin, Inspector, Principal, Reader, Submitter, check_scope
from vth.api.deps import MAX_OFFSET, ProfilesDep, StoreDep
from vth.api.store import AlertFilter, AlertStore
from vth.models import Alert, AlertKind, AlertReview, MbaProfile
from vth.models.timeutil import as_utc
from vth.models.workflow import AlertEvent, AlertStatus, Delivery, LhsoDecision, StatusChange

router = APIRouter(prefix="/alerts", tags=["alerts"])


def alert_filter(
    mba_id: str | None = None,
    kind: AlertKind | None = None,
    source_id: str | None = None,
    substance: str | None = None,
    since: Annotated[
        AwareDatetime | None,
        Query(description="Alerts still going at or after this ISO-8601 time (end >= since)."),
    ] = None,
    until: Annotated[
        AwareDatetime | None,
        Query(description="Alerts started at or before this ISO-8601 time (start <= until)."),
    ] = None,
    reviewed: Annotated[
        bool | None,
        Query(description="true: only alerts closed with a verdict; false: only open ones."),
    ] = None,
    alert_status: Annotated[
        AlertStatus | None, Query(alias="status", description="Only alerts in this status.")
    ] = None,
    incident_id: Annotated[
        str | None, Query(description="Only the alerts of this incident.")
    ] = None,
    incident_lead: Annotated[
        bool | None,
        Query(
            description=(
                "true: only alerts that opened an incident (one per event, what inspectors "
                "act on); false: only repeats that joined one."
            )
        ),
    ] = None,
) -> AlertFilter:
    """The alert filter from the query string; 422 for times beyond the calendar in UTC."""
    try:
        since, until = (None if t is None else as_utc(t) for t in (since, until))
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    return AlertFilter(
        mba_id=mba_id,
        kind=kind,
        source_id=source_id,
        substance=substance,
        since=since,
        until=until,
        reviewed=reviewed,
        status=alert_status,
        incident_id=incident_id,
        incident_lead=incident_lead,
    )


_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"description": "No alert with this id."}
}
_FORBIDDEN: dict[int | str, dict[str, Any]] = {
    status.HTTP_403_FORBIDDEN: {"description": "Not this role, or another agency."}
}


def visible_alert(
    alert_id: str, store: AlertStore, principal: Principal, profiles: dict[str, MbaProfile]
) -> Alert:
    """The stored alert, 404 when there is none, 403 when the principal may not see it."""
    alert = found(store.get(alert_id), alert_id)
    check_scope(principal, alert.mba_id, profiles)
    return alert


def found(alert: Alert | None, alert_id: str) -> Alert:
    """The alert, or 404 when it is None."""
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"alert {alert_id} not found")
    return alert


@router.get(
    "",
    response_model=list[Alert],
    summary="List alerts, newest first",
    response_description="One page of alerts; X-Total-Count gives the number of all matches.",
)
def list_alerts(
    store: StoreDep,
    profiles: ProfilesDep,
    principal: Reader,
    response: Response,
    where: Annotated[AlertFilter, Depends(alert_filter)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[Alert]:
    """List stored alerts matching every given filter, ordered by start (newest first).

    An inspector sees the alerts of their agency's MBAs only. The ``X-Total-Count``
    header holds how many alerts match in all, for paging.
    """
    scope = principal.scope(profiles)
    if scope is not None:
        where = dataclasses.replace(where, mba_ids=scope)
    response.headers["X-Total-Count"] = str(store.count(where))
    return store.list(where, limit=limit, offset=offset)


@router.get("/{alert_id}", summary="Read one alert", responses={**_NOT_FOUND, **_FORBIDDEN})
def get_alert(alert_id: str, store: StoreDep, profiles: ProfilesDep, principal: Reader) -> Alert:
    """Return the alert with this id, or 404."""
    return visible_alert(alert_id, store, principal, profiles)


_CONFLICT: dict[int | str, dict[str, Any]] = {
    status.HTTP_409_CONFLICT: {"description": "The change goes back, or the alert is closed."}
}


@router.post(
    "/{alert_id}/status",
    summary="Move an alert on: acknowledge, forward, start the inspection, close",
    responses={**_NOT_FOUND, **_FORBIDDEN, **_CONFLICT},
)
def change_status(
    alert_id: str,
    change: StatusChange,
    store: StoreDep,
    profiles: ProfilesDep,
    principal: Inspector,
) -> Alert:
    """Move the alert forward in ``new -> acknowledged -> forwarded -> in_inspection -> closed``.

    Steps may be skipped, never undone. Forwarding queues the alert for the targets
    that forward on an inspector's decision (e.g. a ZGW case); closing needs the
    outcome, which becomes a label for tuning detectors (``vth labels export``).
    Every change is audited (``GET /alerts/{id}/events``).
    """
    visible_alert(alert_id, store, principal, profiles)
    return found(store.change_status(alert_id, change, principal.name), alert_id)


@router.post(
    "/{alert_id}/lhso",
    summary="Confirm or change the LHSO suggestion",
    responses={**_NOT_FOUND, **_FORBIDDEN},
)
def decide_lhso(
    alert_id: str,
    decision: LhsoDecision,
    store: StoreDep,
    profiles: ProfilesDep,
    principal: Inspector,
) -> Alert:
    """Record the inspector's LHSO consequence and behaviour (a later one replaces it)."""
    visible_alert(alert_id, store, principal, profiles)
    return found(store.decide_lhso(alert_id, decision, principal.name), alert_id)


@router.post(
    "/{alert_id}/review",
    summary="Close an alert with a verdict (true or false alarm)",
    deprecated=True,
    responses={**_NOT_FOUND, **_FORBIDDEN, **_CONFLICT},
)
def review_alert(
    alert_id: str,
    review: AlertReview,
    store: StoreDep,
    profiles: ProfilesDep,
    principal: Inspector,
) -> Alert:
    """Close the alert as a true alarm (confirmed violation) or a false alarm (none).

    Use ``POST /alerts/{id}/status`` with ``status: closed`` and an ``outcome`` instead.
    """
    outcome = review.outcome or (
        "confirmed_violation" if review.verdict == "true_alarm" else "no_violation"
    )
    change = StatusChange(status="closed", outcome=outcome, note=review.note)
    return change_status(alert_id, change, store, profiles, principal)


@router.get(
    "/{alert_id}/events",
    summary="The audit trail of an alert",
    responses={**_NOT_FOUND, **_FORBIDDEN},
)
def list_events(
    alert_id: str, store: StoreDep, profiles: ProfilesDep, principal: Reader
) -> list[AlertEvent]:
    """Every change of the alert, oldest first: who, when, from which status to which."""
    visible_alert(alert_id, store, principal, profiles)
    return store.events(alert_id)


@router.get(
    "/{alert_id}/deliveries",
    summary="Where forwarding the alert stands",
    responses={**_NOT_FOUND, **_FORBIDDEN},
)
def list_deliveries(
    alert_id: str, store: StoreDep, profiles: ProfilesDep, principal: Reader
) -> list[Delivery]:
    """Per target: pending (with the next attempt), delivered or failed (with the error).

    An alert that joined an incident has none: its incident's first alert is forwarded.
    """
    visible_alert(alert_id, store, principal, profiles)
    return store.deliveries(alert_id)


@router.post(
    "/{alert_id}/deliveries/{target}/retry",
    summary="Try a failed delivery again",
    responses={
        status.HTTP_404_NOT_FOUND: {"description": "No failed delivery of this alert there."},
        **_FORBIDDEN,
    },
)
def retry_delivery(
    alert_id: str, target: str, store: StoreDep, profiles: ProfilesDep, principal: Admin
) -> list[Delivery]:
    """Queue a delivery that failed for good again, due now."""
    visible_alert(alert_id, store, principal, profiles)
    if not store.retry_delivery(alert_id, target):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"alert {alert_id} has no failed delivery to {target}",
        )
    return store.deliveries(alert_id)


@router.get(
    "/{alert_id}/quicklook.png",
    summary="Quicklook of an image alert",
    response_class=Response,
    responses={
        status.HTTP_200_OK: {"content": {"image/png": {}}, "description": "PNG picture."},
        status.HTTP_404_NOT_FOUND: {"description": "No such alert, or it has no quicklook."},
    },
)
def get_quicklook(
    alert_id: str, store: StoreDep, profiles: ProfilesDep, principal: Reader
) -> Response:
    """The PNG quicklook of the scene around a heat or methane detection."""
    alert = visible_alert(alert_id, store, principal, profiles)
    encoded = alert.evidence.get("quicklook_png")
    if not isinstance(encoded, str):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"alert {alert_id} has no quicklook")
    try:
        png = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"alert {alert_id} has an unreadable quicklook"
        ) from None
    return Response(png, media_type="image/png")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Submit an alert (idempotent by id)",
    responses={
        status.HTTP_200_OK: {
            "model": Alert,
            "description": "An alert with this id existed and has been updated.",
        },
        status.HTTP_422_UNPROCESSABLE_CONTENT: {
            "description": "Invalid alert, or its mba_id is not a known MBA profile.",
        },
        status.HTTP_409_CONFLICT: {"description": "The alert id belongs to another MBA."},
        **_FORBIDDEN,
    },
)
def post_alert(
    alert: Alert,
    store: StoreDep,
    profiles: ProfilesDep,
    principal: Submitter,
    request: Request,
    response: Response,
) -> Alert:
    """Store an alert: 201 when it is new, 200 when its id existed (it is updated).

    Submitting the same alert again is safe: the store keeps one alert per id, and
    the time it was first stored (``created_at``) does not change. The workflow
    fields in the body (``status``, ``review``, ``incident_id``, ``lhso_decision``) are
    ignored: the service sets them; a stored alert keeps its own.
    """
    if alert.mba_id not in profiles:
        known = ", ".join(sorted(profiles)) or "(no profiles loaded)"
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"unknown mba_id {alert.mba_id!r}; known: {known}",
        )
    check_scope(principal, alert.mba_id, profiles)
    # the store takes what was measured; the workflow fields are its own
    submitted = store.submit(alert, actor=principal.name)
    if submitted.other_mba is not None:
        check_scope(principal, submitted.other_mba, profiles)
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"alert {alert.id} is an alert of MBA {submitted.other_mba}, not {alert.mba_id}",
        )
    response.headers["Location"] = str(request.url_for("get_alert", alert_id=alert.id))
    if not submitted.new:
        response.status_code = status.HTTP_200_OK
    return found(submitted.alert, alert.id)
