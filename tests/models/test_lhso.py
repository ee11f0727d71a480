"""A sensor suggests an LHSO consequence category; the inspector decides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from vth.models import Detection, LhsoRules, severity_for, suggest_lhso
from vth.models.errors import SettingsFileError
from vth.models.lhso import (
    HAZARDOUS_SUBSTANCES,
    BehaviourRule,
    Condition,
    ConsequenceLevel,
    load_lhso_rules,
)

HOUR = 3600.0


@pytest.mark.parametrize(
    ("factor", "hours", "consequence"),
    [
        (1.0, 0.5, 1),
        (1.19, 3.99, 1),
        (1.2, 0.5, 2),  # factor boundary 1.2
        (1.0, 4.0, 2),  # duration boundary 4 h
        (1.99, 23.99, 2),
        (2.0, 0.5, 3),  # factor boundary 2
        (1.0, 24.0, 3),  # duration boundary 24 h
        (4.99, 23.99, 3),
        (2.0, 24.0, 4),  # twice the limit for a day
        (5.0, 0.5, 4),  # factor boundary 5
        (50.0, 100.0, 4),
    ],
)
def test_consequence_grows_with_size_and_duration(factor: float, hours: float, consequence: int):
    suggestion = suggest_lhso(factor, hours * HOUR, "NOx")

    assert suggestion.consequence == consequence
    assert suggestion.behaviour == "unknown"
    assert f"{factor:.2f}x the limit for {hours:.1f} h" in suggestion.reason
    assert "advisory" in suggestion.reason
    assert "hazardous" not in suggestion.reason


@pytest.mark.parametrize(
    ("substance", "factor", "hours", "consequence"),
    [
        ("HF", 1.0, 0.5, 2),
        ("HCl", 1.2, 0.5, 3),
        ("benzene", 2.0, 0.5, 4),
        ("Hg", 5.0, 0.5, 4),  # already at the top: stays 4
    ],
)
def test_a_hazardous_substance_moves_one_category_up(
    substance: str, factor: float, hours: float, consequence: int
):
    suggestion = suggest_lhso(factor, hours * HOUR, substance)

    assert suggestion.consequence == consequence
    if consequence > suggest_lhso(factor, hours * HOUR, "NOx").consequence:
        assert f"{substance} is hazardous" in suggestion.reason


def test_without_a_limit_the_consequence_is_unclear_and_limited():
    suggestion = suggest_lhso(None, 10 * HOUR, "HF")

    assert suggestion.consequence == 2
    assert "no limit" in suggestion.reason


@pytest.mark.parametrize(
    ("factor", "severity"),
    [
        (None, "medium"),
        (1.0, "low"),
        (1.0999, "low"),
        (1.1, "medium"),
        (1.4999, "medium"),
        (1.5, "high"),
        (2.999, "high"),
        (3.0, "critical"),
    ],
)
def test_severity_follows_the_exceedance_factor(factor: float | None, severity: str):
    assert severity_for(factor) == severity


def test_detection_exceedance_factor_and_duration():
    detection = Detection(
        detector="exceedance",
        kind="exceedance",
        mba_id="m",
        start="2026-01-05T10:00:00Z",
        end="2026-01-05T11:30:00Z",
        value=500.0,
        limit=400.0,
    )

    assert detection.duration_s == 5400
    assert detection.exceedance_factor == 1.25
    assert detection.model_copy(update={"limit": None}).exceedance_factor is None


# --- the rules as data (LhsoRules) -------------------------------------------------------


def old_consequence(factor: float, hours: float, substance: str | None) -> int:
    """The categories the toolkit suggested before the rules became data."""
    if factor >= 5 or (factor >= 2 and hours >= 24):
        consequence = 4
    elif factor >= 2 or hours >= 24:
        consequence = 3
    elif factor >= 1.2 or hours >= 4:
        consequence = 2
    else:
        consequence = 1
    if substance in HAZARDOUS_SUBSTANCES:
        consequence = min(4, consequence + 1)
    return consequence


@pytest.mark.parametrize("substance", ["NOx", "HF", None])
@pytest.mark.parametrize(
    ("factor", "hours"),
    [
        (1.0, 0.5),
        (1.19, 3.99),
        (1.2, 0.0),
        (1.0, 4.0),
        (1.99, 23.99),
        (2.0, 0.0),
        (0.5, 24.0),
        (4.99, 23.99),
        (2.0, 24.0),
        (5.0, 0.0),
        (1.5, 48.0),
        (50.0, 100.0),
    ],
)
def test_the_default_rules_reproduce_the_old_categories(
    factor: float, hours: float, substance: str | None
) -> None:
    suggestion = LhsoRules().suggest(factor, hours * HOUR, substance)

    assert suggestion.consequence == old_consequence(factor, hours, substance)
    assert suggestion == suggest_lhso(factor, hours * HOUR, substance)


def test_the_default_rules_suggest_two_without_a_limit_even_for_a_hazardous_substance() -> None:
    assert LhsoRules().suggest(None, 100 * HOUR, "HF").consequence == 2
    assert LhsoRules(no_limit_consequence=3).suggest(None, 0, "NOx").consequence == 3


def test_the_default_hazardous_substances_are_the_toolkits() -> None:
    assert set(LhsoRules().hazardous_substances) == HAZARDOUS_SUBSTANCES


def test_an_agency_sets_its_own_levels() -> None:
    rules = LhsoRules(
        levels=[
            ConsequenceLevel(consequence=4, when=[Condition(min_factor=3)]),
            ConsequenceLevel(consequence=2, when=[Condition(min_factor=1.1, min_hours=1)]),
        ],
        hazardous_substances=["NOx"],
        hazard_step=2,
    )

    assert rules.suggest(1.5, 0.5 * HOUR, "SO2").consequence == 1, "1.1x needs an hour too"
    assert rules.suggest(1.5, 1 * HOUR, "SO2").consequence == 2
    assert rules.suggest(2.9, 10 * HOUR, "SO2").consequence == 2, "no level 3 here"
    assert rules.suggest(3.0, 0, "SO2").consequence == 4
    assert rules.suggest(1.0, 0, "NOx").consequence == 3, "NOx is hazardous: two steps up"
    assert rules.suggest(1.5, 1 * HOUR, "NOx").consequence == 4
    assert rules.suggest(1.0, 0, "HF").consequence == 1, "HF is not on this agency's list"


def test_an_agency_may_weigh_hazardous_substances_no_heavier() -> None:
    assert LhsoRules(hazard_step=0).suggest(1.0, 0, "HF").consequence == 1


def test_the_levels_are_checked_from_the_highest_down_whatever_their_order() -> None:
    rules = LhsoRules(
        levels=[
            ConsequenceLevel(consequence=2, when=[Condition(min_factor=1.1)]),
            ConsequenceLevel(consequence=4, when=[Condition(min_factor=2)]),
        ]
    )

    assert rules.suggest(2.5, 0, "SO2").consequence == 4


@pytest.mark.parametrize(
    ("confirmed", "behaviour"), [(0, "unknown"), (1, "B"), (2, "B"), (3, "C"), (10, "C")]
)
def test_the_behaviour_follows_the_confirmed_violations_before(
    confirmed: int, behaviour: str
) -> None:
    suggestion = LhsoRules().suggest(1.5, HOUR, "NOx", confirmed_violations=confirmed)

    assert suggestion.behaviour == behaviour
    assert suggestion.consequence == 2, "the history does not change the consequence"
    if confirmed:
        assert f"{confirmed} confirmed violation(s) in 365 days" in suggestion.reason
    else:
        assert "no confirmed violations" in suggestion.reason


def test_the_behaviour_is_suggested_without_a_limit_too() -> None:
    suggestion = LhsoRules().suggest(None, HOUR, "NOx", confirmed_violations=3)

    assert (suggestion.consequence, suggestion.behaviour) == (2, "C")


def test_an_agency_sets_its_own_behaviour_rules() -> None:
    rules = LhsoRules(
        behaviour=[
            BehaviourRule(min_confirmed=2, behaviour="C"),
            BehaviourRule(min_confirmed=5, behaviour="D"),
        ],
        history_days=730,
    )

    def behaviour(confirmed: int) -> str:
        return rules.suggest(1.5, HOUR, "NOx", confirmed_violations=confirmed).behaviour

    assert [behaviour(n) for n in (0, 1, 2, 4, 5, 9)] == ["unknown", "unknown", "C", "C", "D", "D"]
    reason = rules.suggest(1.5, HOUR, "NOx", confirmed_violations=1).reason
    assert "no behaviour rule met" in reason
    assert "in 730 days" in rules.suggest(1.5, HOUR, "NOx", confirmed_violations=2).reason


def test_without_behaviour_rules_the_behaviour_stays_unknown() -> None:
    rules = LhsoRules(behaviour=[])

    assert rules.suggest(1.5, HOUR, "NOx", confirmed_violations=7).behaviour == "unknown"


@pytest.mark.parametrize(
    "fields",
    [
        {"levels": [{"consequence": 5, "when": [{"min_factor": 2}]}]},
        {"levels": [{"consequence": 1, "when": [{"min_factor": 2}]}]},
        {"levels": [{"consequence": 3, "when": []}]},
        {"levels": [{"consequence": 3, "when": [{}]}]},
        {"levels": [{"consequence": 3, "when": [{"min_factor": 0}]}]},
        {"behaviour": [{"min_confirmed": 0, "behaviour": "B"}]},
        {"behaviour": [{"min_confirmed": 1, "behaviour": "unknown"}]},
        {"hazard_step": 4},
        {"history_days": 0},
        {"no_limit_consequence": 0},
        {"colour": "red"},
    ],
    ids=[
        "consequence-5",
        "consequence-1",
        "no-condition",
        "empty-condition",
        "zero-factor",
        "zero-confirmed",
        "unknown-behaviour",
        "hazard-step",
        "history-days",
        "no-limit",
        "unknown-field",
    ],
)
def test_invalid_rules_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        LhsoRules.model_validate(fields)


# --- rules from a YAML file --------------------------------------------------------------

RULES_YAML = """\
levels:
  - consequence: 4
    when:
      - {min_factor: 3}
  - consequence: 3
    when:
      - {min_factor: 1.5, min_hours: 2}
hazardous_substances: [NH3]
behaviour:
  - {min_confirmed: 2, behaviour: D}
history_days: 90
"""


def test_an_agencys_rules_are_read_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "lhso.yaml"
    path.write_text(RULES_YAML, encoding="utf-8")

    rules = load_lhso_rules(path)

    assert [level.consequence for level in rules.levels] == [4, 3]
    assert rules.levels[1].when == [Condition(min_factor=1.5, min_hours=2)]
    assert rules.hazardous_substances == ["NH3"]
    assert rules.history_days == 90
    assert rules.suggest(1.5, 2 * HOUR, "SO2").consequence == 3
    assert rules.suggest(1.5, 1 * HOUR, "SO2").consequence == 1
    assert rules.suggest(1.0, 0, "NH3").consequence == 2
    assert rules.suggest(1.0, 0, "NH3", confirmed_violations=2).behaviour == "D"
    assert rules.no_limit_consequence == 2, "what the file leaves out keeps its default"


def test_an_empty_rules_file_gives_the_default_rules(tmp_path: Path) -> None:
    path = tmp_path / "lhso.yaml"
    path.write_text("", encoding="utf-8")

    assert load_lhso_rules(path) == LhsoRules()


def test_an_invalid_rule_is_reported_with_its_field_path(tmp_path: Path) -> None:
    path = tmp_path / "lhso.yaml"
    path.write_text(
        RULES_YAML.replace("{min_factor: 3}", "{min_factor: -1}").replace(
            "behaviour: D", "behaviour: Z"
        ),
        encoding="utf-8",
    )

    with pytest.raises(SettingsFileError) as raised:
        load_lhso_rules(path)

    paths = {problem.path for problem in raised.value.problems}
    assert paths == {"levels.0.when.0.min_factor", "behaviour.0.behaviour"}
    assert all(problem.file == str(path) for problem in raised.value.problems)
    assert "levels.0.when.0.min_factor" in str(raised.value)
    assert "2 problem(s)" in str(raised.value)


def test_a_rules_file_that_is_not_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "lhso.yaml"
    path.write_text("levels: [unclosed\n", encoding="utf-8")

    with pytest.raises(SettingsFileError, match="cannot read the LHSO rules"):
        load_lhso_rules(path)


def test_a_missing_rules_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "lhso.yaml"

    with pytest.raises(SettingsFileError) as raised:
        load_lhso_rules(path)

    (problem,) = raised.value.problems
    assert problem.file == str(path)
    assert "cannot read the LHSO rules" in problem.reason


# --- properties --------------------------------------------------------------------------

factors = st.floats(min_value=0.0, max_value=1000.0, allow_nan=False)
durations = st.floats(min_value=0.0, max_value=1e7, allow_nan=False)
substances = st.sampled_from(["NOx", "SO2", "HF", "benzene", None])


@given(factors, factors, durations, substances)
def test_a_larger_exceedance_never_lowers_the_consequence(
    a: float, b: float, duration_s: float, substance: str | None
) -> None:
    low, high = sorted((a, b))
    rules = LhsoRules()

    smaller = rules.suggest(low, duration_s, substance).consequence
    larger = rules.suggest(high, duration_s, substance).consequence

    assert 1 <= smaller <= larger <= 4


@given(factors, durations, durations, substances)
def test_a_longer_exceedance_never_lowers_the_consequence(
    factor: float, a: float, b: float, substance: str | None
) -> None:
    short, long = sorted((a, b))
    rules = LhsoRules()

    shorter = rules.suggest(factor, short, substance).consequence
    longer = rules.suggest(factor, long, substance).consequence

    assert 1 <= shorter <= longer <= 4


conditions = st.builds(
    Condition,
    min_factor=st.one_of(st.none(), st.floats(min_value=0.1, max_value=20)),
    min_hours=st.floats(min_value=0, max_value=100),
)
agency_rules = st.builds(
    LhsoRules,
    levels=st.lists(
        st.builds(
            ConsequenceLevel,
            consequence=st.integers(2, 4),
            when=st.lists(conditions, min_size=1, max_size=3),
        ),
        max_size=4,
    ),
    hazard_step=st.integers(0, 3),
)


@given(agency_rules, factors, factors, durations, durations, substances)
def test_any_agencys_rules_are_monotone_and_stay_within_one_to_four(
    rules: LhsoRules,
    factor_a: float,
    factor_b: float,
    duration_a: float,
    duration_b: float,
    substance: str | None,
) -> None:
    low, high = sorted((factor_a, factor_b))
    short, long = sorted((duration_a, duration_b))

    least = rules.suggest(low, short, substance).consequence
    more_factor = rules.suggest(high, short, substance).consequence
    more_time = rules.suggest(low, long, substance).consequence
    most = rules.suggest(high, long, substance).consequence

    assert 1 <= least <= min(more_factor, more_time)
    assert max(more_factor, more_time) <= most <= 4
