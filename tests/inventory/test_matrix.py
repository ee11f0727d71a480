"""The technology x task matrix: the catalogue beside what the toolkit's components do."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import pytest
import xarray as xr

from vth.detectors import Detector, names, register
from vth.detectors import registry as detector_registry
from vth.detectors.base import BaseDetector
from vth.inventory.capabilities import capabilities
from vth.inventory.catalogue import load_catalogue
from vth.inventory.matrix import MatrixRow, technology_task_matrix
from vth.inventory.tables import matrix_table, to_csv, to_markdown
from vth.models import Detection, MbaProfile
from vth.models.inventory import Capability, Catalogue

Register = Callable[[type[BaseDetector]], type[BaseDetector]]


class LidarDetector(Detector):
    """Odours seen by a lidar (a technology the shipped catalogue does not list)."""

    name = "test-lidar"
    kind = "gas_incident"
    technologies = ("lidar",)
    tasks = ("supervision", "odour_mapping")
    inputs = ("stream:backscatter",)
    detection_limit = "a plume of 10 m"

    def _detect(self, dataset: xr.Dataset, profile: MbaProfile) -> list[Detection]:
        return []


class StackProbeDetector(Detector):
    """A second detector on stack sensors."""

    name = "test-stack-probe"
    kind = "exceedance"
    technologies = ("sensors",)
    tasks = ("supervision",)
    obligations = ("emission_limit",)
    inputs = ("stream:NOx",)
    detection_limit = "as the CEMS"

    def _detect(self, dataset: xr.Dataset, profile: MbaProfile) -> list[Detection]:
        return []


@pytest.fixture
def register_detector() -> Iterator[Register]:
    """Register detectors for one test; they are unregistered afterwards."""
    names()  # discover the toolkit's own detectors first
    added: list[str] = []

    def add(cls: type[BaseDetector]) -> type[BaseDetector]:
        assert cls.name not in names()
        register(cls)
        added.append(cls.name)
        return cls

    yield add
    for name in added:
        detector_registry._REGISTRY.pop(name)
    assert not set(added) & set(names())


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def row_of(rows: list[MatrixRow], technology: str) -> MatrixRow:
    [row] = [r for r in rows if r.technology == technology]
    return row


def test_the_shipped_matrix_has_a_row_per_technology_and_a_column_per_task(catalogue: Catalogue):
    tasks, rows = technology_task_matrix(catalogue, capabilities())

    assert tasks == [t.id for t in catalogue.tasks]
    assert [r.technology for r in rows] == [t.id for t in catalogue.technologies]
    assert all(r.in_catalogue for r in rows)
    satellite = row_of(rows, "satellite-images")
    assert satellite.cell("permitting") == "x"
    assert satellite.cell("supervision") == "x (heat, methane, mqtt-rasters)"
    assert satellite.cell("data_collection") == "(mqtt-rasters)"
    assert satellite.cell("reporting") == ""
    assert row_of(rows, "xrf").components == {}


def test_a_registered_detector_shows_up_in_capabilities_and_the_matrix(
    catalogue: Catalogue, register_detector: Register
):
    register_detector(LidarDetector)

    found = capabilities()
    assert LidarDetector.capability() in found
    assert found[[c.name for c in found].index("test-lidar")].component == "detector"
    tasks, rows = technology_task_matrix(catalogue, found)

    assert tasks == [*(t.id for t in catalogue.tasks), "odour_mapping"]
    lidar = rows[-1]
    assert (lidar.technology, lidar.name, lidar.in_catalogue) == ("lidar", "lidar", False)
    assert lidar.catalogue_tasks == frozenset()
    assert lidar.components == {
        "supervision": ("test-lidar",),
        "odour_mapping": ("test-lidar",),
    }
    header, body = matrix_table(tasks, rows)
    assert header == ["technology", *tasks]
    assert body[-1][0] == "lidar (not in catalogue)"
    assert body[-1][header.index("supervision")] == "(test-lidar)"
    assert body[-1][header.index("odour_mapping")] == "(test-lidar)"
    assert body[-1][header.index("permitting")] == ""
    # no catalogue technology serves the new task
    assert all(line[header.index("odour_mapping")] == "" for line in body[:-1])


def test_the_registered_detector_is_gone_after_the_test(catalogue: Catalogue):
    assert "test-lidar" not in names()
    tasks, rows = technology_task_matrix(catalogue, capabilities())
    assert "odour_mapping" not in tasks
    assert "lidar" not in {r.technology for r in rows}


def test_a_detector_of_a_catalogue_technology_joins_its_row(
    catalogue: Catalogue, register_detector: Register
):
    register_detector(StackProbeDetector)

    tasks, rows = technology_task_matrix(catalogue, capabilities())

    assert tasks == [t.id for t in catalogue.tasks]  # no new column
    sensors = row_of(rows, "sensors")
    assert sensors.in_catalogue
    assert "test-stack-probe" in sensors.components["supervision"]
    assert sensors.cell("supervision") == (
        "x (compliance, deviation, peak, quality, test-stack-probe, mqtt-senml)"
    )
    assert "test-stack-probe" not in sensors.components.get("enforcement", ())
    assert all("test-stack-probe" not in r.cell("supervision") for r in rows if r is not sensors)


def test_capabilities_list_detectors_by_name_then_the_gateways(register_detector: Register):
    register_detector(LidarDetector)

    found = capabilities()

    detectors = [c.name for c in found if c.component == "detector"]
    assert detectors == sorted(names())
    assert [c.component for c in found[-2:]] == ["gateway", "gateway"]
    assert [c.name for c in found[-2:]] == ["mqtt-rasters", "mqtt-senml"]


def test_a_technology_declared_by_two_components_is_one_row():
    catalogue = Catalogue(tasks=[], technologies=[])
    first = Capability(name="a", component="detector", technologies=("lidar",), tasks=("t1",))
    second = Capability(
        name="b", component="gateway", technologies=("lidar", "radar"), tasks=("t1", "t2")
    )

    tasks, rows = technology_task_matrix(catalogue, [first, second])

    assert tasks == ["t1", "t2"]
    assert [r.technology for r in rows] == ["lidar", "radar"]
    assert rows[0].components == {"t1": ("a", "b"), "t2": ("b",)}
    assert rows[1].cell("t1") == "(b)"


# --- tables ------------------------------------------------------------------------------------


def test_the_matrix_round_trips_through_csv(catalogue: Catalogue, register_detector: Register):
    register_detector(LidarDetector)
    table = matrix_table(*technology_task_matrix(catalogue, capabilities()))

    parsed = list(csv.reader(io.StringIO(to_csv(table))))

    header, body = table
    assert parsed == [header, *body]
    assert any("," in cell for line in body for cell in line)  # quoted cells survive


def test_the_matrix_as_markdown_has_one_line_per_row(catalogue: Catalogue):
    header, body = matrix_table(*technology_task_matrix(catalogue, capabilities()))

    text = to_markdown((header, body))

    lines = text.splitlines()
    assert text.endswith("\n")
    assert len(lines) == 2 + len(body)
    assert lines[0] == "| " + " | ".join(header) + " |"
    assert lines[1] == "| " + " | ".join(["---"] * len(header)) + " |"
    assert lines[2].startswith("| Satellite images | x | x (heat, methane, mqtt-rasters) |")
    cells = [line[2:-2].split(" | ") for line in lines[2:]]
    assert cells == body


def test_markdown_escapes_pipes_and_csv_keeps_them():
    table = (["technology", "a|b"], [["lidar | radar", "x (p|q)"]])

    markdown = to_markdown(table)
    comma_separated = to_csv(table)

    assert markdown.splitlines() == [
        "| technology | a\\|b |",
        "| --- | --- |",
        "| lidar \\| radar | x (p\\|q) |",
    ]
    assert list(csv.reader(io.StringIO(comma_separated))) == [
        ["technology", "a|b"],
        ["lidar | radar", "x (p|q)"],
    ]


def test_csv_quotes_commas_quotes_and_newlines():
    table = (["technology", "t"], [['say "hi", then', "two\nlines"], ["", ""]])

    parsed = list(csv.reader(io.StringIO(to_csv(table))))

    assert parsed == [["technology", "t"], ['say "hi", then', "two\nlines"], ["", ""]]
