"""Inspectors look up which MBAs the service watches and what their permits say."""

from __future__ import annotations

from fastapi.testclient import TestClient

from vth.models import MbaProfile


def test_profiles_lists_the_four_example_mbas(client: TestClient) -> None:
    response = client.get("/profiles")

    assert response.status_code == 200
    summaries = response.json()
    assert [p["id"] for p in summaries] == [
        "avi-rozenburg",
        "chemie-botlek",
        "gasturbine-maasvlakte",
        "tankopslag-europoort",
    ]
    avi = summaries[0]
    assert avi == {
        "id": "avi-rozenburg",
        "name": "Afvalverbranding Rozenburg, lijn 1 en 2",
        "operator": "Voorbeeld Afvalverwerking Rijnmond B.V.",
        "agency": "DCMR",
        "activity": "afvalverbrandingsinstallatie",
        "location": {"lat": 51.9053, "lon": 4.2458},
        "n_sources": 2,
        "n_sensors": 3,
    }


def test_one_profile_reads_back_in_full(
    client: TestClient, profiles: dict[str, MbaProfile]
) -> None:
    response = client.get("/profiles/avi-rozenburg")

    assert response.status_code == 200
    assert MbaProfile.model_validate(response.json()) == profiles["avi-rozenburg"]


def test_unknown_profile_is_404(client: TestClient) -> None:
    response = client.get("/profiles/nowhere")

    assert response.status_code == 404
    assert response.json() == {"detail": "profile nowhere not found"}
