"""``/health``: is the service well? Read by load balancers and the control room."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from vth import __version__
from vth.api.deps import HealthChecksDep, ProfilesDep, StoreDep
from vth.api.errors import StoreError

router = APIRouter(tags=["health"])


class HealthReport(BaseModel):
    """The state of the service and of each registered component."""

    status: Literal["ok", "degraded"] = Field(
        description="'degraded' when the store does not answer or a component reports ok false."
    )
    version: str
    store: bool = Field(description="The alert store answers.")
    profiles: int = Field(description="Number of loaded MBA profiles.")
    alerts: int | None = Field(description="Number of stored alerts; null when the store is down.")
    components: dict[str, dict[str, Any]] = Field(
        description="Per registered component (gateway, detection loop, ...) its own report."
    )


@router.get("/health", summary="Health of the service")
def health(store: StoreDep, profiles: ProfilesDep, checks: HealthChecksDep) -> HealthReport:
    """Report the service's health; always 200, ``status`` says ok or degraded.

    A component check that raises is reported as ``{"ok": false, "error": ...}``.
    """
    store_ok = store.ping()
    alerts: int | None = None
    if store_ok:
        try:
            alerts = store.count()
        except StoreError:
            store_ok = False
    components = {name: _run(check) for name, check in checks.items()}
    healthy = store_ok and all(
        report.get("ok", True) is not False for report in components.values()
    )
    return HealthReport(
        status="ok" if healthy else "degraded",
        version=__version__,
        store=store_ok,
        profiles=len(profiles),
        alerts=alerts,
        components=components,
    )


def _run(check: Callable[[], object]) -> dict[str, Any]:
    """Call one health check; a failure becomes a report with ``ok`` false."""
    try:
        report = check()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    if not isinstance(report, dict):
        return {"ok": False, "error": f"health check returned {type(report).__name__}, not a dict"}
    return report
