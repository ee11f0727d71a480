"""``/incidents``: alerts of one MBA and kind that overlap in time, as one event."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status

from vth.api.auth import Reader, check_scope
from vth.api.deps import MAX_OFFSET, ProfilesDep, StoreDep
from vth.api.store import AlertFilter
from vth.models import Alert
from vth.models.workflow import Incident

router = APIRouter(prefix="/incidents", tags=["incidents"])


@router.get("", summary="List incidents, newest first")
def list_incidents(
    store: StoreDep,
    profiles: ProfilesDep,
    principal: Reader,
    incident_status: Annotated[Literal["open", "closed"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> list[Incident]:
    """Incidents (an inspector's agency's only); an incident closes with its first alert."""
    return store.incidents(
        mba_ids=principal.scope(profiles), status=incident_status, limit=limit, offset=offset
    )


@router.get(
    "/{incident_id}/alerts",
    summary="The alerts of one incident",
    responses={status.HTTP_404_NOT_FOUND: {"description": "No incident with this id."}},
)
def incident_alerts(
    incident_id: str, store: StoreDep, profiles: ProfilesDep, principal: Reader
) -> list[Alert]:
    """The alerts grouped into the incident, newest first (at most 1000)."""
    incident = store.incident(incident_id)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"incident {incident_id} not found")
    check_scope(principal, incident.mba_id, profiles)
    return store.list(AlertFilter(incident_id=incident_id), limit=1000)
