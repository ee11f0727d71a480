"""No endpoint writes without a role: every write route of the app, found by enumerating it.

The matrix of :mod:`tests.api.test_access_control` lists the endpoints by hand; these
tests walk ``app.routes`` instead, so a new write route without a role check, or one
the matrix forgets, fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.routing import BaseRoute, Mount

from tests.api import test_access_control as access
from tests.api.test_access_control import BY_ROLE, ENDPOINTS, ROLES, TARGET, World, bearer

#: The alerts and app with keys of the access-control tests (fixtures, used by name).
mixed_profiles = access.mixed_profiles
world = access.world

READ_METHODS = {"GET", "HEAD", "OPTIONS"}

#: Who may use each write route: must mirror the matrix of test_access_control.
WRITERS: dict[tuple[str, str], set[str]] = {
    ("POST", "/alerts"): {"gateway", "admin"},
    ("POST", "/alerts/{}/status"): {"inspector", "admin"},
    ("POST", "/alerts/{}/lhso"): {"inspector", "admin"},
    ("POST", "/alerts/{}/review"): {"inspector", "admin"},
    ("POST", "/alerts/{}/deliveries/{}/retry"): {"admin"},
}


def shape(path: str) -> str:
    """The path with every parameter as ``{}``: ``/alerts/{alert_id}`` -> ``/alerts/{}``."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def routes(app: FastAPI) -> list[tuple[BaseRoute, set[str], str]]:
    """Every route of the app with its methods and full path, included routers resolved."""
    # FastAPI >= 0.16x keeps included routers as one entry of app.routes each
    iterate = getattr(fastapi_routing, "iter_route_contexts", None)
    found = []
    for context in iterate(app.routes) if iterate is not None else app.routes:
        original = getattr(context, "original_route", context)
        methods = getattr(context, "methods", None) or set()
        found.append((original, set(methods), str(getattr(context, "path", ""))))
    return found


def write_routes(world: World) -> list[tuple[str, str]]:
    """(method, path template) of every route that is not a read, sorted."""
    app: FastAPI = world.client.app  # type: ignore[assignment]
    return sorted(
        (method, path) for _, methods, path in routes(app) for method in methods - READ_METHODS
    )


def fill(path: str, world: World) -> str:
    """The path with its parameters set to things that exist in the world."""
    values = {
        "alert_id": world.ours.id,
        "incident_id": world.ours.id,
        "mba_id": world.ours.mba_id,
        "target": TARGET,
    }

    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        assert name in values, f"add a value for path parameter {name!r} to fill()"
        return values[name]

    return re.sub(r"\{([^}]*)\}", value, path)


def state(world: World) -> dict[str, Any]:
    """What a write could change: the alerts, their workflow and audit trail, deliveries."""
    alerts = world.store.list(limit=1000)
    return {
        "alerts": [a.model_dump() for a in alerts],
        "events": {a.id: [e.model_dump() for e in world.store.events(a.id)] for a in alerts},
        "deliveries": {
            a.id: [d.model_dump() for d in world.store.deliveries(a.id)] for a in alerts
        },
    }


def test_every_write_route_is_in_the_access_matrix(world: World):
    writes = {(method, shape(path)) for method, path in write_routes(world)}
    matrix = {
        (e.method, shape(e.path)): e.allowed for e in ENDPOINTS if e.method not in READ_METHODS
    }

    assert writes, "no write routes found: the enumeration is broken"
    assert writes == set(matrix), "a write route is missing from the matrix, or gone"
    assert writes == set(WRITERS)
    assert {k: set(v) for k, v in matrix.items()} == WRITERS
    app: FastAPI = world.client.app  # type: ignore[assignment]
    for route, methods, path in routes(app):
        if methods - READ_METHODS:
            assert isinstance(route, APIRoute), f"{path}: a write route without dependencies"
        if isinstance(route, Mount):  # whatever is mounted must not take writes either
            assert isinstance(route.app, StaticFiles), f"{path}: mounted {route.app!r}"


def test_no_write_route_answers_without_a_key(world: World):
    before = state(world)
    for method, path in write_routes(world):
        for headers in ({}, {"X-API-Key": "vth_not-a-known-key"}):
            response = world.client.request(method, fill(path, world), headers=headers)

            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["WWW-Authenticate"] == "Bearer"
    assert state(world) == before


@pytest.mark.parametrize("role", ROLES)
def test_a_role_may_write_only_where_the_matrix_lets_it(world: World, role: str):
    before = state(world)
    refused = 0
    for method, path in write_routes(world):
        if role in WRITERS[(method, shape(path))]:
            continue
        # no body: the role is checked before the request is validated
        response = world.client.request(method, fill(path, world), headers=bearer(BY_ROLE[role]))

        assert response.status_code == 403, (role, method, path, response.text)
        assert f"role {role} may not do this" in response.json()["detail"]
        refused += 1
    assert state(world) == before
    expected = sum(role not in allowed for allowed in WRITERS.values())
    assert refused == expected
    if role == "data_scientist":
        assert refused == len(WRITERS), "a data scientist writes nothing"
