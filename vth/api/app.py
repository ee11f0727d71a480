"""The app factory of the alert API: store, profiles and routers wired into FastAPI.

The caller owns what it passes in (the store, the profiles); ``lifespan_hooks`` start
and stop the rest (the runtime's gateway and detection loop) with the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, asynccontextmanager, contextmanager

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from vth import __version__
from vth.api.errors import StoreError
from vth.api.routers.alerts import router as alerts_router
from vth.api.routers.health import router as health_router
from vth.api.routers.profiles import router as profiles_router
from vth.api.store import AlertStore
from vth.errors import VthError
from vth.models import MbaProfile, load_profiles
from vth.settings import Settings

#: Called at start-up; its context manager is entered then and exited at shut-down.
LifespanHook = Callable[[], AbstractContextManager[None]]

DESCRIPTION = """\
Alerts from sensor streams and images about permitted activities (MBA), for inspectors
of Dutch environmental agencies.

* **alerts**: list, read and submit alerts (idempotent by alert id).
* **profiles**: the MBA profiles (permits: sources, limits, sensors) the service knows.
* **health**: the state of the store and of the gateway and detection loop.
"""


def create_app(
    *,
    store: AlertStore,
    profiles: dict[str, MbaProfile],
    lifespan_hooks: Sequence[LifespanHook] = (),
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
    app.add_exception_handler(StoreError, _store_unavailable)
    app.add_exception_handler(VthError, _vth_error)
    for router in (alerts_router, profiles_router, health_router):
        app.include_router(router)
    return app


def create_app_from_settings(
    settings: Settings, *, lifespan_hooks: Sequence[LifespanHook] = ()
) -> FastAPI:
    """Build the API from deployment settings.

    The store is opened on ``settings.database_url`` and closed at shut-down, after
    every hook in ``lifespan_hooks`` has stopped; profiles are read from
    ``settings.profiles_dir``.

    Raises
    ------
    ProfileError
        When a profile is invalid (every problem is listed).
    StoreError
        When the store cannot be opened.
    """
    mba_profiles = load_profiles(settings.profiles_dir)
    store = AlertStore(settings.database_url)

    @contextmanager
    def close_store() -> Iterator[None]:
        try:
            yield
        finally:
            store.close()

    return create_app(
        store=store, profiles=mba_profiles, lifespan_hooks=(close_store, *lifespan_hooks)
    )


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503: the store cannot be reached; a client may retry later."""
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": str(exc), "error": type(exc).__name__},
    )


async def _vth_error(request: Request, exc: Exception) -> JSONResponse:
    """400: a vth-sensing error caused by what the request asked for."""
    return JSONResponse(
        status_code=status.HTTP_400_BAD_REQUEST,
        content={"detail": str(exc), "error": type(exc).__name__},
    )
