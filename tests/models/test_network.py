"""Sensor network files: public e-noses and weather stations, and the candidate sources."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import EXAMPLE_PROFILES
from vth.cli import app
from vth.models import (
    MbaProfile,
    ProfileError,
    emission_points,
    load_networks,
    network_of,
)


def test_the_example_network_loads_with_located_enoses_and_a_weather_station():
    networks = load_networks(EXAMPLE_PROFILES / "networks")

    network = networks["dcmr-enose-rijnmond"]
    kinds = [s.kind for s in network.sensors]
    assert kinds.count("enose") >= 10 and kinds.count("weather") == 1
    assert all(s.location is not None for s in network.sensors)
    assert network.sensor("en-pernis") is not None and network.source("x") is None


def test_an_invalid_network_file_names_every_field(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text(
        "id: net\nname: n\noperator: o\nsensors:\n"
        "  - {id: en-1, kind: enose}\n"
        "  - {id: en-2, kind: smellometer, location: {lat: 95, lon: 4}}\n"
    )
    (tmp_path / "twice.yaml").write_text(
        "id: net\nname: n\noperator: o\nsensors:\n"
        "  - {id: en-1, kind: enose, location: {lat: 51.9, lon: 4.3}}\n"
    )

    with pytest.raises(ProfileError) as caught:
        load_networks(tmp_path)

    text = str(caught.value)
    assert "sensors[1].kind" in text and "sensors[1].location.lat" in text
    assert "bad.yaml" in text


def test_a_network_id_used_twice_is_reported(tmp_path: Path):
    body = "name: n\noperator: o\nsensors:\n  - {id: e, kind: enose, location: {lat: 51, lon: 4}}\n"
    (tmp_path / "a.yaml").write_text("id: net\n" + body)
    (tmp_path / "b.yaml").write_text("id: net\n" + body)

    with pytest.raises(ProfileError, match="network id 'net' is also used by"):
        load_networks(tmp_path)


def test_a_network_sensor_needs_a_location(tmp_path: Path):
    (tmp_path / "n.yaml").write_text(
        "id: net\nname: n\noperator: o\nsensors:\n  - {id: en-1, kind: enose}\n"
    )
    with pytest.raises(ProfileError, match="needs a location"):
        load_networks(tmp_path)


def test_every_source_of_every_mba_is_a_candidate_emission_point(
    example_profiles: dict[str, MbaProfile],
):
    points = emission_points(example_profiles.values())

    labels = {p.label for p in points}
    assert "chemie-botlek/flare-1" in labels and "avi-rozenburg/line-1" in labels
    n_sources = sum(len(p.sources) for p in example_profiles.values())
    assert len(points) == n_sources
    network = network_of(example_profiles, load_networks(EXAMPLE_PROFILES / "networks"))
    assert network.id == "dcmr-enose-rijnmond"
    assert network_of(example_profiles).id == "network"


def test_profiles_validate_also_checks_the_network_files():
    result = CliRunner().invoke(app, ["profiles", "validate", str(EXAMPLE_PROFILES)])

    assert result.exit_code == 0, result.output
    assert "network dcmr-enose-rijnmond:" in result.output


def test_a_sensor_id_used_twice_in_a_network_names_the_field(tmp_path: Path):
    sensor = "{id: en-1, kind: enose, location: {lat: 51.9, lon: 4.3}}"
    (tmp_path / "n.yaml").write_text(
        f"id: net\nname: n\noperator: o\nsensors:\n  - {sensor}\n  - {sensor}\n"
    )
    with pytest.raises(ProfileError, match=r"sensors\[1\]\.id: duplicate sensor id\(s\): en-1"):
        load_networks(tmp_path)
