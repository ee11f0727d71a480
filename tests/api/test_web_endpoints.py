"""The endpoints of the inspector's web page: where the sensors stand, for its map."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from vth.api.app import create_app
from vth.api.auth import AccessControl, ApiKey, digest
from vth.api.store import AlertStore
from vth.models import MbaProfile
from vth.models.loading import load_deployment_networks

EXAMPLE_PROFILES = Path(__file__).parents[2] / "examples" / "profiles"


def test_sensor_places_lists_located_sensors_of_profiles_and_networks(
    store: AlertStore, profiles: dict[str, MbaProfile]
):
    networks = load_deployment_networks(EXAMPLE_PROFILES, None)
    assert networks, "the example profiles come with a public e-nose network"
    app = create_app(store=store, profiles=profiles, networks=networks)
    with TestClient(app) as client:
        response = client.get("/ui/sensors")
    assert response.status_code == 200
    places = {(p["mba_id"], p["id"]): p for p in response.json()}
    network = next(iter(networks.values()))
    first = network.sensors[0]
    assert first.location is not None
    assert places[(network.id, first.id)]["lat"] == first.location.lat
    assert places[(network.id, first.id)]["kind"] == first.kind
    located = {(p.id, s.id) for p in profiles.values() for s in p.sensors if s.location is not None}
    assert located <= set(places)
    assert all({"mba_id", "id", "kind", "lat", "lon"} == set(p) for p in places.values())


def test_sensor_places_follow_the_readers_agency(
    store: AlertStore, profiles: dict[str, MbaProfile]
):
    moved = "chemie-botlek"
    mixed = dict(profiles)
    mixed[moved] = profiles[moved].model_copy(update={"agency": "ODNZKG"})
    keys = [
        ApiKey(name="ina", role="inspector", agency="DCMR", key_sha256=digest("k-ina")),
        ApiKey(name="gw", role="gateway", key_sha256=digest("k-gw")),
    ]
    app = create_app(store=store, profiles=mixed, access=AccessControl(keys))
    with TestClient(app) as client:
        assert client.get("/ui/sensors").status_code == 401
        assert client.get("/ui/sensors", headers={"X-API-Key": "k-gw"}).status_code == 403
        response = client.get("/ui/sensors", headers={"X-API-Key": "k-ina"})
    assert response.status_code == 200
    owners = {p["mba_id"] for p in response.json()}
    assert moved not in owners
    assert owners, "the inspector sees the sensors of their own agency's MBAs"
