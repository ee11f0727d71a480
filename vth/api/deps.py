"""FastAPI dependencies: the store, the profiles and the health checks of the app.

The app factory puts them on ``app.state``; endpoints ask for them by type, e.g.
``def list_alerts(store: StoreDep) -> ...``. Tests swap them by building another app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, cast

from fastapi import Depends, Request

from vth.api.store import AlertStore
from vth.models import MbaProfile, SensorNetwork
from vth.models.inventory import Catalogue

#: Pages start at most this far on (larger offsets are a client error, not a database one).
MAX_OFFSET = 1_000_000_000

#: A named component's health check: returns a dict, with ``"ok": False`` when unhealthy.
HealthCheck = Callable[[], dict[str, Any]]


def get_store(request: Request) -> AlertStore:
    """Return the alert store of the app (``app.state.store``)."""
    return cast(AlertStore, request.app.state.store)


def get_profiles(request: Request) -> dict[str, MbaProfile]:
    """Return the MBA profiles of the app keyed by MBA id (``app.state.profiles``)."""
    return cast(dict[str, MbaProfile], request.app.state.profiles)


def get_networks(request: Request) -> dict[str, SensorNetwork]:
    """Return the public sensor networks of the app keyed by id (``app.state.networks``)."""
    return cast(dict[str, SensorNetwork], request.app.state.networks)


def get_catalogue(request: Request) -> Catalogue:
    """Return the technology catalogue of the inventory (``app.state.catalogue``)."""
    return cast(Catalogue, request.app.state.catalogue)


def get_health_checks(request: Request) -> dict[str, HealthCheck]:
    """Return the registered component health checks (``app.state.health_checks``)."""
    return cast(dict[str, HealthCheck], request.app.state.health_checks)


StoreDep = Annotated[AlertStore, Depends(get_store)]
ProfilesDep = Annotated[dict[str, MbaProfile], Depends(get_profiles)]
HealthChecksDep = Annotated[dict[str, HealthCheck], Depends(get_health_checks)]
NetworksDep = Annotated[dict[str, SensorNetwork], Depends(get_networks)]
CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
