"""The app factory of the alert API: store, profiles and routers wired into FastAPI.

The caller owns what it passes in (the store, the profiles); ``lifespan_hooks`` start
and stop the rest (the runtime's gateway and detection loop) with the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, asynccontextmanager, contextmanager

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from vth import __version__
from vth.api.auth import AccessControl, load_keys
from vth.api.errors import StoreError
from vth.api.forwarding.forwarder import Forwarder
from vth.api.routers.alerts import router as alerts_router
from vth.api.routers.health import router as health_router
from vth.api.routers.incidents import router as incidents_router
from vth.api.routers.inventory import router as inventory_router
from vth.api.routers.profiles import router as profiles_router
from vth.api.routers.web import STATIC
from vth.api.routers.web import router as web_router
from vth.api.store import AlertStore
from vth.api.workflow import WorkflowError
from vth.api.workflow_config import load_workflow_config
from vth.errors import VthError
from vth.inventory.catalogue import load_catalogue
from vth.models import MbaProfile, SensorNetwork, load_profiles
from vth.models.inventory import Catalogue
from vth.models.loading import load_deployment_networks
from vth.settings import Settings

#: Called at start-up; its context manager is entered then and exited at shut-down.
LifespanHook = Callable[[], AbstractContextManager[None]]

DESCRIPTION = """\
Alerts from sensor streams and images about permitted activities (MBA), for inspectors
of Dutch environmental agencies.

* **alerts**: list, read and submit alerts (idempotent by alert id); move them through
  the inspection workflow (acknowledge, forward, inspect, close with an outcome); the
  LHSO assessment; the audit trail and where forwarding stands.
* **incidents**: alerts of one MBA and kind overlapping in time, as one event.
* **profiles**: the MBA profiles (permits: sources, limits, sensors) the service knows.
* **inventory**: which technologies serve which agency tasks, what the toolkit's
  detectors and gateways do with them, and per MBA which obligations each can check.
* **health**: the state of the store and of the gateway, detection loop and forwarder.

Requests carry an API key (`Authorization: Bearer <key>` or `X-API-Key: <key>`) whose
role decides what they may do: inspectors act on their agency's alerts, data
scientists read, gateways submit alerts, admins do everything.
"""


def create_app(
    *,
    store: AlertStore,
    profiles: dict[str, MbaProfile],
    lifespan_hooks: Sequence[LifespanHook] = (),
    access: AccessControl | None = None,
    catalogue: Catalogue | None = None,
    networks: dict[str, SensorNetwork] | None = None,
    tile_url: str | None = None,
) -> FastAPI:
    """Build the API around an alert store and the MBA profiles.

    Parameters
    ----------
    store
        Where alerts are kept. The caller owns it: the app never closes it.
    profiles
        MBA profiles keyed by MBA id; submitted alerts must name one of them.
    lifespan_hooks
        Called in order at start-up, each returning a context manager that is entered
        then and exited, in reverse order, at shut-down (e.g. to start and stop the
        gateway and the detection loop). If one fails to start, those already
        started are stopped.
    access
        The API keys and their roles; None leaves the API open (every request acts
        as admin), for local use and tests.
    catalogue
        The technology catalogue of the inventory; the shipped one when None.
    networks
        Public sensor networks (their e-noses count in the inventory's coverage and
        are drawn on the page's map).
    tile_url
        Tile URL template of the page's base map (``https://.../{z}/{x}/{y}.png``);
        None: no base map, so the page needs no network.

    Returns
    -------
    FastAPI
        The app, with ``app.state.store``, ``app.state.profiles`` and
        ``app.state.health_checks`` (an empty dict to which components add a
        ``name -> callable`` returning their health report).
    """
    hooks = tuple(lifespan_hooks)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with ExitStack() as started:
            for hook in hooks:
                started.enter_context(hook())
            yield

    app = FastAPI(
        title="vth-sensing",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.profiles = profiles
    app.state.health_checks = {}
    app.state.access = access if access is not None else AccessControl.open()
    app.state.catalogue = catalogue if catalogue is not None else load_catalogue()
    app.state.networks = networks or {}
    app.state.tile_url = tile_url
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.add_exception_handler(StoreError, _store_unavailable)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(WorkflowError, _conflict)
    app.add_exception_handler(VthError, _vth_error)
    for router in (
        alerts_router,
        incidents_router,
        profiles_router,
        inventory_router,
        health_router,
        web_router,
    ):
        app.include_router(router)
    return app


def create_app_from_settings(
    settings: Settings, *, lifespan_hooks: Sequence[LifespanHook] = ()
) -> FastAPI:
    """Build the API from deployment settings.

    The store is opened on ``settings.database_url`` with the workflow of
    ``settings.workflow_file`` and closed at shut-down, after every hook in
    ``lifespan_hooks`` and the forwarder have stopped; profiles are read from
    ``settings.profiles_dir``, API keys from ``settings.api_keys_file``.

    Raises
    ------
    ProfileError
        When a profile is invalid (every problem is listed).
    SettingsFileError
        When the workflow or keys file is invalid.
    StoreError
        When the store cannot be opened.
    """
    mba_profiles = load_profiles(settings.profiles_dir)
    networks = load_deployment_networks(settings.profiles_dir, settings.networks_dir)
    catalogue = load_catalogue(settings.inventory_file)
    workflow = load_workflow_config(settings.workflow_file)
    access = access_control(settings)
    store = AlertStore(settings.database_url, workflow.policy())
    forwarder = Forwarder(store, workflow.targets(), mba_profiles, retry=workflow.retry_policy())

    @contextmanager
    def close_store() -> Iterator[None]:
        try:
            yield
        finally:
            store.close()

    app = create_app(
        store=store,
        profiles=mba_profiles,
        lifespan_hooks=(close_store, forwarder.running, *lifespan_hooks),
        access=access,
        catalogue=catalogue,
        networks=networks,
        tile_url=settings.map_tile_url,
    )
    app.state.health_checks["forwarder"] = forwarder.health
    return app


def access_control(settings: Settings) -> AccessControl:
    """The API keys of ``settings.api_keys_file``; open access when it is unset."""
    if settings.api_keys_file is None:
        return AccessControl.open()
    return AccessControl(load_keys(settings.api_keys_file))


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503: the store cannot be reached; a client may retry later."""
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": str(exc), "error": type(exc).__name__},
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """503 for a database failure that got past the store (which raises StoreError).

    The detail is the driver's message ("database is locked", "database or disk is
    full"), never the SQL statement or its parameters.
    """
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    reason = str(orig) if orig is not None else type(exc).__name__
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": f"alert store unavailable: {reason}", "error": "StoreError"},
    )


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    """409: the workflow step clashes with where the alert is (e.g. it is closed)."""
    return JSONResponse(
        status_code=status.HTTP_409_CONFLICT,
        content={"detail": str(exc), "error": type(exc).__name__},
    )


async def _vth_error(request: Request, exc: Exception) -> JSONResponse:
    """400: a vth-sensing error caused by what the request asked for."""
    return JSONResponse(
        status_code=status.HTTP_400_BAD_REQUEST,
        content={"detail": str(exc), "error": type(exc).__name__},
    )
