"""``/inventory``: the technology x task matrix and the coverage per MBA, scoped by agency."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_access_control import OTHER_MBA, OURS, THEIRS, Holder, bearer
from tests.inventory.test_matrix import LidarDetector, Register, register_detector
from vth.api.app import create_app
from vth.api.auth import AccessControl
from vth.api.store import AlertStore
from vth.detectors import names
from vth.inventory.capabilities import capabilities
from vth.inventory.catalogue import load_catalogue
from vth.inventory.coverage import coverage
from vth.models import MbaProfile

__all__ = ["register_detector"]  # the fixture, imported for the test that registers

INSPECTOR = Holder("ina", "inspector", OURS)
THEIR_INSPECTOR = Holder("olga", "inspector", THEIRS)
SCIENTIST = Holder("dirk", "data_scientist", None)
GATEWAY = Holder("gw", "gateway", None)
ADMIN = Holder("root", "admin", None)


def as_json(rows: list[Any]) -> list[dict[str, Any]]:
    return [{**asdict(r), "detectors": list(r.detectors)} for r in rows]


# --- GET /inventory ----------------------------------------------------------------------------


def test_the_inventory_has_a_matrix_row_per_technology(client: TestClient):
    response = client.get("/inventory")

    assert response.status_code == 200, response.text
    body = response.json()
    catalogue = load_catalogue()
    assert [t["id"] for t in body["tasks"]] == [t.id for t in catalogue.tasks]
    assert [t["id"] for t in body["technologies"]] == [t.id for t in catalogue.technologies]
    assert body["matrix_tasks"] == [t.id for t in catalogue.tasks]
    assert [line["technology"] for line in body["matrix"]] == [t.id for t in catalogue.technologies]
    assert all(line["in_catalogue"] for line in body["matrix"])
    assert all(set(line["cells"]) == set(body["matrix_tasks"]) for line in body["matrix"])


def test_the_inventory_lists_every_registered_detector_and_both_gateways(client: TestClient):
    body = client.get("/inventory").json()

    listed = [(c["name"], c["component"]) for c in body["capabilities"]]
    assert listed == [(n, "detector") for n in names()] + [
        ("mqtt-rasters", "gateway"),
        ("mqtt-senml", "gateway"),
    ]
    assert body["capabilities"] == [c.model_dump(mode="json") for c in capabilities()]
    in_cells = {
        component
        for line in body["matrix"]
        for cell in line["cells"].values()
        for component in cell["components"]
    }
    assert in_cells == {*names(), "mqtt-rasters", "mqtt-senml"}
    sensors = next(line for line in body["matrix"] if line["technology"] == "sensors")
    assert sensors["cells"]["supervision"] == {
        "catalogue": True,
        "components": ["compliance", "deviation", "peak", "quality", "mqtt-senml"],
    }
    assert sensors["cells"]["enforcement"] == {
        "catalogue": False,
        "components": ["compliance", "mqtt-senml"],
    }
    xrf = next(line for line in body["matrix"] if line["technology"] == "xrf")
    assert xrf["cells"]["supervision"] == {"catalogue": True, "components": []}


def test_a_detector_registered_later_shows_up_in_the_inventory(
    client: TestClient, register_detector: Register
):
    register_detector(LidarDetector)

    body = client.get("/inventory").json()

    assert "test-lidar" in [c["name"] for c in body["capabilities"]]
    assert body["matrix_tasks"][-1] == "odour_mapping"
    lidar = body["matrix"][-1]
    assert (lidar["technology"], lidar["in_catalogue"]) == ("lidar", False)
    assert lidar["cells"]["supervision"] == {"catalogue": False, "components": ["test-lidar"]}


# --- GET /inventory/coverage -------------------------------------------------------------------


def test_the_coverage_of_one_mba(client: TestClient, profiles: dict[str, MbaProfile]):
    response = client.get("/inventory/coverage", params={"mba": "chemie-botlek"})

    assert response.status_code == 200, response.text
    rows = response.json()
    expected = coverage([profiles["chemie-botlek"]], load_catalogue(), capabilities())
    assert rows == as_json(expected)
    assert {r["mba_id"] for r in rows} == {"chemie-botlek"}
    # the app of the fixture has no public network: chemie-botlek's own four e-noses
    [gas] = [r for r in rows if r["obligation"] == "gas_release"]
    assert gas["status"] == "covered"
    assert gas["reason"].startswith("4 e-nose(s) within 2 km")


def test_status_gap_gives_the_methane_gap(client: TestClient):
    response = client.get("/inventory/coverage", params={"mba": "chemie-botlek", "status": "gap"})

    assert response.status_code == 200, response.text
    assert response.json() == [
        {
            "mba_id": "chemie-botlek",
            "agency": "DCMR",
            "obligation": "methane",
            "subject": "methane (permitted 5 kg/h)",
            "technology": "satellite-images",
            "detectors": ["methane"],
            "status": "gap",
            "reason": (
                "detection limit 1000 kg/h is above the permitted 5 kg/h: exceedances below "
                "it are not seen"
            ),
        }
    ]


def test_the_coverage_of_every_mba_in_id_order(client: TestClient, profiles: dict[str, MbaProfile]):
    rows = client.get("/inventory/coverage").json()

    expected = coverage([profiles[m] for m in sorted(profiles)], load_catalogue(), capabilities())
    assert rows == as_json(expected)
    partial = client.get("/inventory/coverage", params={"status": "partial"}).json()
    assert [(r["mba_id"], r["obligation"]) for r in partial] == [
        ("tankopslag-europoort", "methane"),
        ("tankopslag-europoort", "gas_release"),
    ]


def test_an_unknown_mba_is_404(client: TestClient):
    response = client.get("/inventory/coverage", params={"mba": "nope"})

    assert response.status_code == 404
    assert response.json()["detail"] == "profile nope not found"


def test_an_unknown_status_is_422(client: TestClient):
    response = client.get("/inventory/coverage", params={"status": "fine"})

    assert response.status_code == 422


# --- access control ----------------------------------------------------------------------------


@pytest.fixture
def keyed(profiles: dict[str, MbaProfile]) -> Iterator[TestClient]:
    """An app with keys; chemie-botlek is supervised by another agency."""
    mixed = dict(profiles)
    mixed[OTHER_MBA] = profiles[OTHER_MBA].model_copy(update={"agency": THEIRS})
    holders = [INSPECTOR, THEIR_INSPECTOR, SCIENTIST, GATEWAY, ADMIN]
    access = AccessControl([h.api_key() for h in holders])
    with (
        AlertStore("sqlite://") as store,
        TestClient(create_app(store=store, profiles=mixed, access=access)) as client,
    ):
        yield client


def test_an_inspector_gets_403_for_an_mba_of_another_agency(keyed: TestClient):
    response = keyed.get(
        "/inventory/coverage", params={"mba": OTHER_MBA}, headers=bearer(INSPECTOR)
    )

    assert response.status_code == 403
    assert response.json()["detail"] == (
        f"MBA {OTHER_MBA} is supervised by another agency than {OURS}"
    )
    theirs = keyed.get(
        "/inventory/coverage", params={"mba": OTHER_MBA}, headers=bearer(THEIR_INSPECTOR)
    )
    assert theirs.status_code == 200
    assert {r["agency"] for r in theirs.json()} == {THEIRS}


def test_an_inspector_sees_the_coverage_of_their_agency_only(keyed: TestClient):
    response = keyed.get("/inventory/coverage", headers=bearer(INSPECTOR))

    assert response.status_code == 200, response.text
    rows = response.json()
    assert {r["agency"] for r in rows} == {OURS}
    assert sorted({r["mba_id"] for r in rows}) == [
        "avi-rozenburg",
        "gasturbine-maasvlakte",
        "tankopslag-europoort",
    ]
    gaps = keyed.get("/inventory/coverage", params={"status": "gap"}, headers=bearer(INSPECTOR))
    assert [(r["mba_id"], r["obligation"]) for r in gaps.json()] == [
        # no public network in this app: avi-rozenburg has no e-noses of its own
        ("avi-rozenburg", "gas_release"),
        ("gasturbine-maasvlakte", "gas_release"),
    ]


@pytest.mark.parametrize("holder", [SCIENTIST, ADMIN], ids=lambda h: h.role)
def test_keys_without_an_agency_see_every_mba(keyed: TestClient, holder: Holder):
    rows = keyed.get("/inventory/coverage", headers=bearer(holder)).json()

    assert len({r["mba_id"] for r in rows}) == 4


@pytest.mark.parametrize("path", ["/inventory", "/inventory/coverage"])
def test_an_inspector_reads_the_inventory(keyed: TestClient, path: str):
    assert keyed.get(path, headers=bearer(INSPECTOR)).status_code == 200


@pytest.mark.parametrize(
    "path", ["/inventory", "/inventory/coverage", f"/inventory/coverage?mba={OTHER_MBA}"]
)
def test_no_key_is_401(keyed: TestClient, path: str):
    response = keyed.get(path)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["/inventory", "/inventory/coverage?mba=avi-rozenburg"])
def test_the_gateway_role_is_403(keyed: TestClient, path: str):
    response = keyed.get(path, headers=bearer(GATEWAY))

    assert response.status_code == 403
    assert "role gateway may not do this" in response.json()["detail"]
