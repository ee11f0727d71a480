"""The inspector's web page: a map, the alert list and the alert detail, served as files.

The page (``vth/api/static``) is plain HTML, CSS and JavaScript with Leaflet bundled, so
it needs no build step and no network at run time; it talks to the same API as any
client, with the API key the inspector enters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from vth import __version__
from vth.api.auth import Principal, Reader, current_principal
from vth.api.deps import NetworksDep, ProfilesDep
from vth.models import MbaProfile, SensorNetwork

#: The page's files.
STATIC = Path(__file__).parents[1] / "static"

router = APIRouter(tags=["web"])


class Me(BaseModel):
    """Who the API key belongs to, so the page shows only what its role may do."""

    model_config = ConfigDict(frozen=True)

    name: str
    role: str
    agency: str | None


class UiConfig(BaseModel):
    """Settings of the page."""

    model_config = ConfigDict(frozen=True)

    version: str
    tile_url: str | None


@router.get("/me", summary="Who the API key belongs to")
def me(principal: Annotated[Principal, Depends(current_principal)]) -> Me:
    """The name, role and agency of the caller (anonymous admin when the API is open)."""
    return Me(name=principal.name, role=principal.role, agency=principal.agency)


@router.get("/ui/config", summary="Settings of the inspector's page")
def ui_config(request: Request) -> UiConfig:
    """The map's tile URL (none: no base map, as the page needs no network) and version."""
    return UiConfig(version=__version__, tile_url=cast(str | None, request.app.state.tile_url))


class SensorPlace(BaseModel):
    """Where one located sensor stands (e.g. the e-noses of a gas incident, on the map)."""

    model_config = ConfigDict(frozen=True)

    mba_id: str = Field(description="The MBA or public sensor network it belongs to.")
    id: str
    kind: str
    lat: float
    lon: float


@router.get("/ui/sensors", summary="Where the sensors stand, for the page's map")
def sensor_places(
    profiles: ProfilesDep, networks: NetworksDep, principal: Reader
) -> list[SensorPlace]:
    """The located sensors of the visible MBAs and of the public sensor networks."""
    scope = principal.scope(profiles)
    owners: list[MbaProfile | SensorNetwork] = [
        *(profiles[m] for m in sorted(profiles) if scope is None or m in scope),
        *(networks[n] for n in sorted(networks)),
    ]
    return [
        SensorPlace(
            mba_id=owner.id,
            id=sensor.id,
            kind=sensor.kind,
            lat=sensor.location.lat,
            lon=sensor.location.lon,
        )
        for owner in owners
        for sensor in owner.sensors
        if sensor.location is not None
    ]


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    """The page is the service's front door."""
    return RedirectResponse("/ui/")


@router.get("/ui/", include_in_schema=False)
def page() -> FileResponse:
    """The inspector's page."""
    return FileResponse(STATIC / "index.html", media_type="text/html")
