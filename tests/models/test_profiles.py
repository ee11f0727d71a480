"""An inspector keeps one YAML profile per MBA; a broken profile names every bad field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vth.models import (
    EmissionLimit,
    FieldProblem,
    MbaProfile,
    ProfileError,
    load_profile,
    load_profiles,
    parse_profile,
)

EXAMPLE_PROFILES = Path(__file__).resolve().parents[2] / "examples" / "profiles"
ProfileData = Callable[[str], dict[str, Any]]
WriteProfile = Callable[[str, Any], Path]


def problems_of(exc: pytest.ExceptionInfo[ProfileError]) -> dict[str, str]:
    """Field path -> reason of every problem reported."""
    return {p.path: p.reason for p in exc.value.problems}


# --- the example profiles -------------------------------------------------------------


def test_all_four_example_profiles_load_keyed_by_mba_id():
    profiles = load_profiles(EXAMPLE_PROFILES)

    assert sorted(profiles) == [
        "avi-rozenburg",
        "chemie-botlek",
        "gasturbine-maasvlakte",
        "tankopslag-europoort",
    ]
    assert all(isinstance(p, MbaProfile) for p in profiles.values())


def test_each_example_profile_file_loads_on_its_own():
    for path in sorted(EXAMPLE_PROFILES.glob("*.yaml")):
        profile = load_profile(path)
        assert profile.id == path.stem


def test_waste_incinerator_subtracts_20_percent_of_the_daily_nox_limit_from_half_hours():
    avi = load_profile(EXAMPLE_PROFILES / "avi-rozenburg.yaml")

    line1 = avi.source("line-1")
    assert line1 is not None
    nox_half_hour = line1.limit_for("NOx", "30min")
    assert nox_half_hour is not None
    assert (nox_half_hour.value, nox_half_hour.reference_o2) == (400, 11)
    assert nox_half_hour.confidence_interval == 20
    assert nox_half_hour.confidence_interval_basis == "1d"
    assert line1.confidence_interval_value(nox_half_hour) == 40  # 20 % of the daily 200
    assert nox_half_hour.operating_time_only is True
    nox_daily = line1.limit_for("NOx", "1d")
    assert nox_daily is not None
    assert (nox_daily.from_average, nox_daily.max_discarded) == ("30min", 5)
    assert nox_daily.max_discarded_per_year == 10
    # line 2's permit uses column B: 97 % of the half-hours in a year within 200
    line2 = avi.source("line-2")
    assert line2 is not None
    column_b = line2.limit_for("NOx", "30min")
    assert column_b is not None
    assert (column_b.value, column_b.rule_label) == (200, "P97/year")


def test_sensors_map_to_their_sources():
    avi = load_profile(EXAMPLE_PROFILES / "avi-rozenburg.yaml")

    source = avi.source_of_sensor("cems-l2")
    assert source is not None
    assert source.id == "line-2"
    assert avi.source_of_sensor("meteo-rozenburg") is None
    assert avi.source_of_sensor("not-registered") is None


def test_tank_terminal_limit_in_grams_per_cubic_metre_is_accepted():
    tank = load_profile(EXAMPLE_PROFILES / "tankopslag-europoort.yaml")

    vru = tank.source("vru-1")
    assert vru is not None
    toc = next(lim for lim in vru.limits if lim.substance == "TOC")
    assert (toc.unit, toc.value) == ("g/m3", 10)


def test_emission_limit_defaults_are_rule_all_and_three_quarter_coverage():
    limit = EmissionLimit(substance="NOx", unit="mg/m3", value=200, average="1d")

    assert limit.rule == "all"
    assert limit.min_coverage == 0.75
    assert limit.confidence_interval == 0
    assert limit.reference_o2 is None
    assert limit.operating_time_only is False


# --- invalid profiles: every problem, with field path and reason -------------------------


def test_a_broken_profile_reports_every_bad_field_with_its_path_and_reason(
    example_profile_data: ProfileData,
):
    data = example_profile_data("chemie-botlek")
    data["sources"][0]["limits"][1]["value"] = -5
    data["sources"][0]["limits"][0]["average"] = "2h"
    data["sources"][1]["limtis"] = []  # misspelled
    data["operating_hours"] = {"timezone": "Mars/Olympus_Mons", "weekly": {"mon": ["25:00-26:00"]}}
    data["location"]["lat"] = 123

    with pytest.raises(ProfileError) as exc:
        parse_profile(data, "chemie-botlek.yaml")

    problems = problems_of(exc)
    assert set(problems) == {
        "sources[0].limits[1].value",
        "sources[0].limits[0].average",
        "sources[1].limtis",
        "operating_hours.timezone",
        "operating_hours.weekly",
        "location.lat",
    }
    assert "greater than 0" in problems["sources[0].limits[1].value"]
    assert "-5" in problems["sources[0].limits[1].value"]
    assert "'2h'" in problems["sources[0].limits[0].average"]
    assert "'30min'" in problems["sources[0].limits[0].average"]
    assert "Extra inputs are not permitted" in problems["sources[1].limtis"]
    assert "unknown time zone 'Mars/Olympus_Mons'" in problems["operating_hours.timezone"]
    assert "IANA" in problems["operating_hours.timezone"]
    assert "'25:00-26:00'" in problems["operating_hours.weekly"]
    assert "mon" in problems["operating_hours.weekly"]
    assert all(p.file == "chemie-botlek.yaml" for p in exc.value.problems)
    # the message lists them all, one per line
    assert str(exc.value).startswith("6 problem(s) in MBA profiles:")
    assert "chemie-botlek.yaml: sources[0].limits[1].value: " in str(exc.value)


@pytest.mark.parametrize(
    ("span", "why"),
    [
        ("25:00-26:00", "within one day"),
        ("22:00-06:00", "within one day"),
        ("08:00-08:00", "within one day"),
        ("23:00-24:30", "within one day"),
        ("8:00-17:00", "not 'HH:MM-HH:MM'"),
        ("08:00 - 17:00", "not 'HH:MM-HH:MM'"),
    ],
)
def test_an_operating_hours_span_outside_one_day_is_rejected(
    example_profile_data: ProfileData, span: str, why: str
):
    data = example_profile_data("tankopslag-europoort")
    data["operating_hours"]["weekly"]["wed"] = [span]

    with pytest.raises(ProfileError) as exc:
        parse_profile(data)

    [problem] = exc.value.problems
    assert problem.path == "operating_hours.weekly"
    assert f"wed: {span!r}" in problem.reason
    assert why in problem.reason


def test_a_span_ending_at_midnight_is_a_whole_day(example_profile_data: ProfileData):
    data = example_profile_data("tankopslag-europoort")
    data["operating_hours"]["weekly"]["sun"] = ["00:00-24:00"]

    profile = parse_profile(data)

    assert profile.operating_hours is not None
    assert profile.operating_hours.minute_table()[6].all()


def test_an_unknown_limit_unit_names_the_known_units(example_profile_data: ProfileData):
    data = example_profile_data("gasturbine-maasvlakte")
    data["sources"][0]["limits"][2]["unit"] = "ppb"

    with pytest.raises(ProfileError) as exc:
        parse_profile(data)

    [problem] = exc.value.problems
    assert problem.path == "sources[0].limits[2].unit"
    assert "unknown unit 'ppb'" in problem.reason
    assert "mg/m3" in problem.reason


def test_a_missing_required_field_is_named(example_profile_data: ProfileData):
    data = example_profile_data("gasturbine-maasvlakte")
    del data["operator"]
    del data["sources"][0]["limits"][0]["average"]

    with pytest.raises(ProfileError) as exc:
        parse_profile(data)

    assert problems_of(exc) == {
        "operator": "Field required",
        "sources[0].limits[0].average": "Field required",
    }


def test_two_limits_for_the_same_substance_and_period_are_rejected_on_the_source(
    example_profile_data: ProfileData,
):
    data = example_profile_data("gasturbine-maasvlakte")
    data["sources"][0]["limits"].append(dict(data["sources"][0]["limits"][0], value=120))

    with pytest.raises(ProfileError) as exc:
        parse_profile(data)

    assert problems_of(exc) == {"sources[0]": "two limits NOx 1h; keep one"}


def test_a_sensor_naming_a_source_that_does_not_exist_is_rejected_with_the_ids(
    example_profile_data: ProfileData,
):
    data = example_profile_data("chemie-botlek")
    data["sensors"][0]["source_id"] = "furnace-9"

    with pytest.raises(ProfileError) as exc:
        parse_profile(data)

    [problem] = exc.value.problems
    assert "sensor 'cems-f101'" in problem.reason
    assert "'furnace-9'" in problem.reason
    assert "fenceline-east, flare-1, furnace-1" in problem.reason


def test_a_dangling_sensor_source_id_is_reported_at_its_field_path(
    example_profile_data: ProfileData,
):
    data = example_profile_data("chemie-botlek")
    data["sensors"][0]["source_id"] = "furnace-9"

    with pytest.raises(ProfileError) as exc:
        parse_profile(data)

    assert [p.path for p in exc.value.problems] == ["sensors[0].source_id"]


def test_duplicate_source_ids_are_rejected_naming_the_id(example_profile_data: ProfileData):
    data = example_profile_data("chemie-botlek")
    data["sources"][1]["id"] = "furnace-1"

    with pytest.raises(ProfileError) as exc:
        parse_profile(data)

    [problem] = exc.value.problems
    assert problem.reason == "duplicate source id(s): furnace-1"


def test_duplicate_sensor_ids_are_rejected_naming_the_id(example_profile_data: ProfileData):
    data = example_profile_data("chemie-botlek")
    data["sensors"][3]["id"] = "enose-101"

    with pytest.raises(ProfileError) as exc:
        parse_profile(data)

    [problem] = exc.value.problems
    assert problem.reason == "duplicate sensor id(s): enose-101"


def test_every_inconsistent_id_is_reported_in_one_run(example_profile_data: ProfileData):
    data = example_profile_data("chemie-botlek")
    data["sources"][1]["id"] = "furnace-1"  # duplicate source id
    data["sensors"][3]["id"] = "enose-101"  # duplicate sensor id
    data["sensors"][1]["source_id"] = "nowhere"  # dangling reference

    with pytest.raises(ProfileError) as exc:
        parse_profile(data)

    reasons = " | ".join(p.reason for p in exc.value.problems)
    assert "duplicate source id(s): furnace-1" in reasons
    assert "duplicate sensor id(s): enose-101" in reasons
    assert "'nowhere'" in reasons


def test_field_errors_and_a_dangling_source_id_are_reported_together(
    example_profile_data: ProfileData,
):
    data = example_profile_data("chemie-botlek")
    data["sources"][0]["limits"][0]["value"] = -1
    data["sensors"][0]["source_id"] = "nowhere"

    with pytest.raises(ProfileError) as exc:
        parse_profile(data)

    reasons = " | ".join(p.reason for p in exc.value.problems)
    assert len(exc.value.problems) == 2
    assert "'nowhere'" in reasons


def test_an_identifier_with_a_slash_is_rejected_because_it_would_break_mqtt_topics(
    example_profile_data: ProfileData,
):
    data = example_profile_data("gasturbine-maasvlakte")
    data["id"] = "gas/turbine"

    with pytest.raises(ProfileError) as exc:
        parse_profile(data)

    assert list(problems_of(exc)) == ["id"]
    assert "pattern" in problems_of(exc)["id"]


def test_a_footprint_that_is_not_a_closed_polygon_is_rejected(example_profile_data: ProfileData):
    data = example_profile_data("avi-rozenburg")
    data["footprint"]["coordinates"][0].pop()  # ring no longer closed

    with pytest.raises(ProfileError) as exc:
        parse_profile(data)

    assert list(problems_of(exc)) == ["footprint"]
    assert "closed" in problems_of(exc)["footprint"]


# --- files and directories ------------------------------------------------------------------


def test_invalid_yaml_is_reported_with_line_and_column(write_profile: WriteProfile):
    path = write_profile("broken.yaml", "id: demo\nname: [unclosed\noperator: x\n")

    with pytest.raises(ProfileError) as exc:
        load_profile(path)

    [problem] = exc.value.problems
    assert problem.file == str(path)
    assert problem.path.startswith("line 3, column")
    assert problem.reason.startswith("not valid YAML: ")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a sentence\n", "", "42\n"])
def test_a_document_that_is_not_a_mapping_is_rejected(write_profile: WriteProfile, text: str):
    path = write_profile("odd.yaml", text)

    with pytest.raises(ProfileError) as exc:
        load_profile(path)

    assert exc.value.problems == [
        FieldProblem(str(path), "", "a profile must be a mapping of fields")
    ]


def test_a_missing_profile_file_is_a_profile_error(tmp_path: Path):
    with pytest.raises(ProfileError) as exc:
        load_profile(tmp_path / "nope.yaml")

    [problem] = exc.value.problems
    assert problem.reason.startswith("cannot read")


def test_two_files_with_the_same_mba_id_are_rejected_naming_both(
    example_profile_data: ProfileData, write_profile: WriteProfile
):
    data = example_profile_data("gasturbine-maasvlakte")
    first = write_profile("a.yaml", data)
    second = write_profile("b.yml", data)

    with pytest.raises(ProfileError) as exc:
        load_profiles(first.parent)

    [problem] = exc.value.problems
    assert problem.file == str(second)
    assert problem.path == "id"
    assert "'gasturbine-maasvlakte'" in problem.reason
    assert str(first) in problem.reason


def test_every_bad_file_in_a_directory_is_reported_in_one_run(
    example_profile_data: ProfileData, write_profile: WriteProfile
):
    good = write_profile("good.yaml", example_profile_data("gasturbine-maasvlakte"))
    bad = example_profile_data("chemie-botlek")
    bad["sources"][0]["limits"][1]["value"] = -5
    bad_path = write_profile("bad.yaml", bad)
    broken_path = write_profile("broken.yaml", "id: x\n  name: y\n")
    write_profile("notes.txt", "not a profile, ignored")

    with pytest.raises(ProfileError) as exc:
        load_profiles(good.parent)

    assert [(p.file, p.path) for p in exc.value.problems] == [
        (str(bad_path), "sources[0].limits[1].value"),
        (str(broken_path), "line 2, column 7"),
    ]


def test_an_empty_profile_directory_is_an_error(tmp_path: Path):
    with pytest.raises(ProfileError) as exc:
        load_profiles(tmp_path)

    [problem] = exc.value.problems
    assert problem.file == str(tmp_path)
    assert "no *.yaml or *.yml profiles found" in problem.reason


def test_a_missing_profile_directory_is_an_error(tmp_path: Path):
    with pytest.raises(ProfileError, match="no such profile file or directory"):
        load_profiles(tmp_path / "missing")


def test_load_profiles_accepts_a_single_file(write_profile: WriteProfile):
    path = write_profile("one.yaml", (EXAMPLE_PROFILES / "chemie-botlek.yaml").read_text())

    assert list(load_profiles(path)) == ["chemie-botlek"]


# --- the compliance rules as profile data -----------------------------------------------

NOX = {"substance": "NOx", "unit": "mg/m3", "value": 200}


def rules_profile(*limits: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "rules",
        "name": "Rules",
        "operator": "Test B.V.",
        "activity": "test",
        "location": {"lat": 52.0, "lon": 4.0},
        "sources": [{"id": "stack-1", "limits": list(limits)}],
    }


@pytest.mark.parametrize(
    ("limits", "path", "reason"),
    [
        (
            [dict(NOX, average="1h", from_average="1d")],
            "sources[0].limits[0]",
            "from_average 1d must be a shorter period that divides average 1h",
        ),
        (
            [dict(NOX, average="1h", max_discarded=5)],
            "sources[0].limits[0]",
            "max_discarded counts discarded shorter averages; set from_average",
        ),
        (
            [dict(NOX, average="1d", rule={"percentile": 95, "over": "any_24h"})],
            "sources[0].limits[0]",
            "rule over any_24h needs an average that divides a day, not 1d",
        ),
        (
            [dict(NOX, average="30min", confidence_interval=20, confidence_interval_basis="1d")],
            "sources[0]",
            "NOx 30min: confidence_interval_basis 1d names no NOx limit over 1d of source stack-1",
        ),
        (
            [
                dict(NOX, average="30min", confidence_interval=20, confidence_interval_basis="1d"),
                dict(NOX, average="1d", unit="g/m3", value=0.2),
            ],
            "sources[0]",
            "NOx 30min: its confidence_interval_basis limit is in g/m3, not mg/m3; "
            "give both in one unit",
        ),
        (
            [dict(NOX, average="30min"), dict(NOX, average="30min", value=300)],
            "sources[0]",
            "two limits NOx 30min; keep one",
        ),
        (
            [dict(NOX, average="10min", peak={"factor": 0.5})],
            "sources[0].limits[0].peak.factor",
            "Input should be greater than or equal to 1 (got 0.5)",
        ),
    ],
)
def test_inconsistent_compliance_rules_are_rejected_with_their_path(
    limits: list[dict[str, Any]], path: str, reason: str
):
    with pytest.raises(ProfileError) as exc:
        parse_profile(rules_profile(*limits))

    assert problems_of(exc) == {path: reason}


def test_column_a_and_column_b_limits_of_one_substance_may_stand_side_by_side():
    profile = parse_profile(
        rules_profile(
            dict(NOX, average="30min", value=400),
            dict(NOX, average="30min", rule={"percentile": 97, "over": "year"}),
        )
    )
    labels = [limit.label for limit in profile.sources[0].limits]
    assert labels == ["NOx 30min", "NOx 30min P97/year"]
    assert profile.sources[0].limit_for("NOx", "30min") == profile.sources[0].limits[0]


def test_a_peak_check_is_a_limit_of_factor_times_the_value_without_confidence_interval():
    profile = parse_profile(
        rules_profile(
            dict(
                NOX,
                average="10min",
                confidence_interval=20,
                operating_time_only=True,
                peak={"factor": 4},
            )
        )
    )
    peak = profile.sources[0].limits[0].peak_limit()
    assert peak is not None
    assert (peak.value, peak.average, peak.confidence_interval) == (800, "1min", 0)
    assert (peak.min_coverage, peak.operating_time_only) == (0.5, True)


def test_a_monthly_average_may_be_built_from_daily_averages():
    profile = parse_profile(rules_profile(dict(NOX, average="1mo", from_average="1d")))
    assert profile.sources[0].limits[0].from_average == "1d"
