"""``/alerts``: list, read and submit alerts."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import AwareDatetime

from vth.api.deps import ProfilesDep, StoreDep
from vth.api.store import AlertFilter
from vth.models import Alert, AlertKind, AlertReview

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
) -> AlertFilter:
    """The alert filter from the query string."""
    return AlertFilter(mba_id, kind, source_id, substance, since, until, reviewed)


@router.get(
    "",
    response_model=list[Alert],
    summary="List alerts, newest first",
    response_description="One page of alerts; X-Total-Count gives the number of all matches.",
)
def list_alerts(
    store: StoreDep,
    response: Response,
    where: Annotated[AlertFilter, Depends(alert_filter)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[Alert]:
    """List stored alerts matching every given filter, ordered by start (newest first).

    The ``X-Total-Count`` header holds how many alerts match in all, for paging.
    """
    response.headers["X-Total-Count"] = str(store.count(where))
    return store.list(where, limit=limit, offset=offset)


@router.get(
    "/{alert_id}",
    summary="Read one alert",
    responses={status.HTTP_404_NOT_FOUND: {"description": "No alert with this id."}},
)
def get_alert(alert_id: str, store: StoreDep) -> Alert:
    """Return the alert with this id, or 404."""
    alert = store.get(alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"alert {alert_id} not found")
    return alert


@router.post(
    "/{alert_id}/review",
    summary="Close an alert with a verdict (true or false alarm)",
    responses={status.HTTP_404_NOT_FOUND: {"description": "No alert with this id."}},
)
def review_alert(alert_id: str, review: AlertReview, store: StoreDep) -> Alert:
    """Record the inspector's verdict on an alert; a later review replaces an earlier one.

    Reviewed alerts become labels for tuning detectors (``vth labels export``).
    """
    alert = store.review(alert_id, review)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"alert {alert_id} not found")
    return alert


@router.get(
    "/{alert_id}/quicklook.png",
    summary="Quicklook of an image alert",
    response_class=Response,
    responses={
        status.HTTP_200_OK: {"content": {"image/png": {}}, "description": "PNG picture."},
        status.HTTP_404_NOT_FOUND: {"description": "No such alert, or it has no quicklook."},
    },
)
def get_quicklook(alert_id: str, store: StoreDep) -> Response:
    """The PNG quicklook of the scene around a heat or methane detection."""
    alert = store.get(alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"alert {alert_id} not found")
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
    },
)
def post_alert(
    alert: Alert,
    store: StoreDep,
    profiles: ProfilesDep,
    request: Request,
    response: Response,
) -> Alert:
    """Store an alert: 201 when it is new, 200 when its id existed (it is updated).

    Submitting the same alert again is safe: the store keeps one alert per id, and
    the time it was first stored (``created_at``) does not change. A ``review`` in the
    body is ignored (verdicts come from ``POST /alerts/{id}/review``) and a stored one
    is kept.
    """
    if alert.mba_id not in profiles:
        known = ", ".join(sorted(profiles)) or "(no profiles loaded)"
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"unknown mba_id {alert.mba_id!r}; known: {known}",
        )
    response.headers["Location"] = str(request.url_for("get_alert", alert_id=alert.id))
    # only inspectors give verdicts (POST /alerts/{id}/review); a sender cannot set one
    alert = alert.model_copy(update={"review": None})
    if store.upsert(alert):
        return alert
    response.status_code = status.HTTP_200_OK
    stored = store.get(alert.id)
    return stored if stored is not None else alert
