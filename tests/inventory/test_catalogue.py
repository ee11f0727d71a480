"""The technology catalogue: the shipped one, an agency's own file, and its validation."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from vth.gateways import mqtt, raster_ingest
from vth.inventory.capabilities import GATEWAYS, capabilities
from vth.inventory.catalogue import SHIPPED, load_catalogue
from vth.models.errors import SettingsFileError
from vth.models.inventory import Catalogue, DetectionLimit, ObligationKind, Technology

#: What the 2025 national inventory (DESIGN.md section 3) says each technology serves.
DESIGN_TASKS = {
    "satellite-images": [
        "permitting",
        "supervision",
        "enforcement",
        "spatial_planning",
        "environmental_monitoring",
    ],
    "sensors": ["supervision"],
    "drones": ["data_collection"],
    "ai": ["reporting", "data_analysis"],
    "rpa": ["business_processes"],
    "e-noses": ["supervision"],
    "xrf": ["supervision"],
}


@pytest.fixture(scope="module")
def shipped() -> Catalogue:
    return load_catalogue()


def write(tmp_path: Path, text: str, name: str = "catalogue.yaml") -> Path:
    path = tmp_path / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


def problem_of(path: Path) -> SettingsFileError:
    with pytest.raises(SettingsFileError) as exc:
        load_catalogue(path)
    assert len(exc.value.problems) == 1, exc.value.problems
    assert exc.value.problems[0].file == str(path)
    return exc.value


# --- the shipped catalogue ---------------------------------------------------------------------


def test_the_shipped_catalogue_loads_and_is_the_default(shipped: Catalogue):
    assert SHIPPED.is_file()
    assert load_catalogue(SHIPPED) == shipped
    assert sorted(t.id for t in shipped.technologies) == sorted(DESIGN_TASKS)
    assert len(shipped.tasks) == 9


def test_every_task_a_technology_names_is_listed(shipped: Catalogue):
    task_ids = {t.id for t in shipped.tasks}
    for technology in shipped.technologies:
        assert technology.tasks, technology.id
        assert set(technology.tasks) <= task_ids, technology.id


@pytest.mark.parametrize(("technology", "tasks"), DESIGN_TASKS.items())
def test_the_catalogue_holds_the_tasks_of_the_national_inventory(
    shipped: Catalogue, technology: str, tasks: list[str]
):
    found = shipped.technology(technology)

    assert found is not None
    assert found.tasks == tasks


def test_satellites_see_methane_from_1000_kg_per_hour(shipped: Catalogue):
    satellite = shipped.technology("satellite-images")
    assert satellite is not None

    limit = satellite.limit_for("methane", "CH4")

    assert limit is not None
    assert (limit.value, limit.unit) == (1000, "kg/h")
    assert satellite.limit_for("methane") == limit


def test_an_unknown_technology_is_none(shipped: Catalogue):
    assert shipped.technology("lidar") is None


# --- the catalogue stays true to the toolkit -----------------------------------------------------


def test_every_technology_and_task_of_the_toolkit_is_in_the_shipped_catalogue(shipped: Catalogue):
    technologies = {t.id for t in shipped.technologies}
    tasks = {t.id for t in shipped.tasks}
    found = capabilities()
    assert {c.component for c in found} == {"detector", "gateway"}
    assert mqtt.CAPABILITY in found
    assert raster_ingest.CAPABILITY in found

    for capability in found:
        assert set(capability.technologies) <= technologies, capability.name
        assert set(capability.tasks) <= tasks, capability.name
        assert capability.technologies, capability.name
        assert capability.tasks, capability.name


def test_both_gateways_declare_a_capability():
    assert {c.name for c in GATEWAYS} == {"mqtt-senml", "mqtt-rasters"}
    assert all(c.component == "gateway" for c in GATEWAYS)


# --- an agency's own catalogue -------------------------------------------------------------------


def test_an_agency_file_replaces_the_shipped_catalogue(tmp_path: Path):
    path = write(
        tmp_path,
        """
        tasks:
          - {id: supervision, name: Supervision}
          - {id: odour_mapping, name: Odour mapping, name_nl: Geurkartering}
        technologies:
          - id: lidar
            name: Lidar
            category: remote sensing
            maturity: pilot
            tasks: [supervision, odour_mapping]
            detection_limits:
              - {obligation: gas_release, value: 1, unit: count}
            costs: "about 100 k EUR"
        """,
    )

    catalogue = load_catalogue(path)

    assert [t.id for t in catalogue.tasks] == ["supervision", "odour_mapping"]
    assert [t.id for t in catalogue.technologies] == ["lidar"]
    assert catalogue.technology("satellite-images") is None
    lidar = catalogue.technology("lidar")
    assert lidar is not None and lidar.costs == "about 100 k EUR"
    assert lidar.limit_for("gas_release") == DetectionLimit(
        obligation="gas_release", value=1, unit="count"
    )


def test_a_bad_category_names_its_field_path(tmp_path: Path):
    path = write(
        tmp_path,
        """
        tasks: [{id: supervision, name: Supervision}]
        technologies:
          - {id: lidar, name: Lidar, category: sensing, maturity: pilot, tasks: [supervision]}
          - {id: magic, name: Magic, category: wizardry, maturity: pilot}
        """,
    )

    error = problem_of(path)

    assert error.problems[0].path == "technologies.1.category"
    assert "technologies.1.category" in str(error)
    assert "'remote sensing'" in error.problems[0].reason


def test_a_technology_naming_an_unknown_task_is_refused(tmp_path: Path):
    path = write(
        tmp_path,
        """
        tasks: [{id: supervision, name: Supervision}]
        technologies:
          - {id: lidar, name: Lidar, category: sensing, maturity: pilot, tasks: [odour]}
        """,
    )

    error = problem_of(path)

    assert "technologies.0.tasks (lidar) names unknown tasks ['odour']" in str(error)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (
            "task",
            """
            tasks:
              - {id: supervision, name: Supervision}
              - {id: supervision, name: Toezicht}
            technologies: []
            """,
        ),
        (
            "technology",
            """
            tasks: [{id: supervision, name: Supervision}]
            technologies:
              - {id: lidar, name: Lidar, category: sensing, maturity: pilot}
              - {id: lidar, name: Lidar 2, category: sensing, maturity: pilot}
            """,
        ),
    ],
)
def test_duplicate_ids_are_refused(tmp_path: Path, kind: str, text: str):
    error = problem_of(write(tmp_path, text))

    expected = "supervision" if kind == "task" else "lidar"
    assert f"{kind} ids used twice: ['{expected}']" in str(error)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (
            """
            tasks: [{id: supervision, name: Supervision}]
            technologies:
              - {id: lidar, name: Lidar, category: sensing, maturity: pilot, tasks: [odour]}
            """,
            "technologies",
        ),
        (
            """
            tasks:
              - {id: supervision, name: Supervision}
              - {id: supervision, name: Toezicht}
            technologies: []
            """,
            "tasks",
        ),
        (
            """
            tasks: [{id: supervision, name: Supervision}]
            technologies:
              - {id: lidar, name: Lidar, category: sensing, maturity: pilot}
              - {id: lidar, name: Lidar 2, category: sensing, maturity: pilot}
            """,
            "technologies",
        ),
    ],
    ids=["unknown-task", "duplicate-task", "duplicate-technology"],
)
def test_reference_problems_name_their_field_path(tmp_path: Path, text: str, path: str):
    error = problem_of(write(tmp_path, text))

    assert error.problems[0].path.startswith(path), error.problems


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("tasks: [{id: Supervision, name: S}]\ntechnologies: []\n", "tasks.0.id"),
        ("tasks: []\ntechnologies: []\nextra: 1\n", "extra"),
        (
            "tasks: []\ntechnologies:\n  - {id: x, name: X, category: sensing, maturity: old}\n",
            "technologies.0.maturity",
        ),
        (
            "tasks: []\ntechnologies:\n  - {id: x, name: X, category: sensing, maturity: pilot,\n"
            "     detection_limits: [{obligation: noise, value: 1, unit: dB}]}\n",
            "technologies.0.detection_limits.0.obligation",
        ),
    ],
)
def test_other_invalid_fields_name_their_path(tmp_path: Path, text: str, field: str):
    error = problem_of(write(tmp_path, text))

    assert error.problems[0].path == field


def test_an_unreadable_file_is_a_settings_file_error(tmp_path: Path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SettingsFileError, match="cannot read the technology catalogue"):
        load_catalogue(missing)
    with pytest.raises(SettingsFileError, match="cannot read the technology catalogue"):
        load_catalogue(write(tmp_path, "tasks: [unclosed\n"))


# --- limit_for ---------------------------------------------------------------------------------


def limit(
    obligation: ObligationKind, value: float, quantity: str | None = None, unit: str = "mg/m3"
) -> DetectionLimit:
    return DetectionLimit(obligation=obligation, quantity=quantity, value=value, unit=unit)


@pytest.fixture
def analyser() -> Technology:
    return Technology(
        id="analyser",
        name="Analyser",
        category="sensing",
        maturity="in use",
        detection_limits=[
            limit("emission_limit", 2, "NOx"),
            limit("emission_limit", 10),  # general: any other substance
            limit("emission_limit", 1, "CO"),
            limit("heat_source", 30, "pixel", unit="m"),
        ],
    )


def test_limit_for_picks_the_quantitys_limit(analyser: Technology):
    assert analyser.limit_for("emission_limit", "NOx") == limit("emission_limit", 2, "NOx")
    assert analyser.limit_for("emission_limit", "CO") == limit("emission_limit", 1, "CO")


def test_limit_for_falls_back_to_a_general_limit(analyser: Technology):
    assert analyser.limit_for("emission_limit", "SO2") == limit("emission_limit", 10)


def test_limit_for_without_a_quantity_gives_the_first_of_the_obligation(analyser: Technology):
    assert analyser.limit_for("emission_limit") == limit("emission_limit", 2, "NOx")
    assert analyser.limit_for("heat_source") == limit("heat_source", 30, "pixel", unit="m")


def test_limit_for_gives_none_without_a_fitting_limit(analyser: Technology):
    assert analyser.limit_for("methane") is None
    assert analyser.limit_for("methane", "CH4") is None
    assert analyser.limit_for("heat_source", "size") is None  # no general heat limit
