"""Fuzzing the profile loader: whatever the YAML holds, a profile or a ProfileError.

An inspector edits profiles by hand, so the loader meets anything YAML can express.
Three properties: arbitrary JSON-like data gives a valid profile or a
:class:`ProfileError` (never another exception); a mutated example profile gives a
valid profile or an error naming the mutated field; a valid profile round-trips.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vth.models import MbaProfile, ProfileError, parse_profile
from vth.models.loading import field_path

EXAMPLE_PROFILES = Path(__file__).resolve().parents[2] / "examples" / "profiles"
EXAMPLES: dict[str, dict[str, Any]] = {
    path.stem: yaml.safe_load(path.read_text(encoding="utf-8"))
    for path in sorted(EXAMPLE_PROFILES.glob("*.yaml"))
}
PROFILE_FIELDS = sorted(MbaProfile.model_fields)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

Loc = tuple[str | int, ...]

# --- strategies ---------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
#: Values that break a field in the ways hand-edited permits do.
bad_values = st.sampled_from(
    [
        -1,
        0,
        -0.5,
        math.nan,
        math.inf,
        -math.inf,
        10**30,
        "",
        "nan",
        "NOx",
        "unobtainium",  # unknown substance
        "furlongs/fortnight",  # unknown unit
        "ppm ",
        "15min",  # not an averaging period
        "30 min",
        "1H",
        "half-hour",
        "25:00-26:00",  # operating hours out of range
        "08:00-07:00",
        "00:00-24:01",
        "24:00-24:00",
        "8:00-17:00",
        "America",  # a folder of the time zone database, not a zone
        "Europe/Atlantis",
        "x" * 300,
        "../etc/passwd",
        [],
        {},
        [[]],
        True,
    ]
)
hhmm_spans = st.builds(
    lambda h1, m1, h2, m2: f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}",
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
)
#: Dicts with the profile's own field names, so validation goes deeper than "missing".
profile_like = st.dictionaries(
    st.sampled_from(PROFILE_FIELDS) | st.text(max_size=8), json_values, max_size=len(PROFILE_FIELDS)
)


def locations(data: Any, prefix: Loc = ()) -> list[Loc]:
    """The location of every value inside ``data`` (not the root)."""
    found: list[Loc] = []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, value in items:
        loc = (*prefix, key)
        found.append(loc)
        found.extend(locations(value, loc))
    return found


def parent_of(data: Any, loc: Loc) -> Any:
    for key in loc[:-1]:
        data = data[key]
    return data


# --- checks -------------------------------------------------------------------------------------


def parse(data: Any) -> MbaProfile | ProfileError:
    """The profile, or the ProfileError; any other exception fails the test."""
    try:
        return parse_profile(data, "fuzz.yaml")
    except ProfileError as exc:
        assert exc.problems, "a ProfileError must list its problems"
        for problem in exc.problems:
            assert problem.file == "fuzz.yaml"
            assert problem.reason.strip(), f"no reason given for {problem.path!r}"
        assert str(exc).startswith(f"{len(exc.problems)} problem(s) in MBA profiles")
        return exc


def assert_sound(profile: MbaProfile) -> None:
    """What the detectors rely on in a valid profile, and that it round-trips."""
    if profile.footprint is not None:
        for ring in profile.footprint["coordinates"]:  # type: ignore[attr-defined]
            for lon, lat in ring:
                assert not isinstance(lon, bool) and not isinstance(lat, bool)
                assert -180 <= lon <= 180 and -90 <= lat <= 90, (lon, lat)
    assert parse_profile(profile.model_dump(), "again.yaml") == profile
    assert parse_profile(profile.model_dump(mode="json"), "again.yaml") == profile


#: Segments pydantic adds for the members of a union (``rule: 'all' | PercentileRule``).
_UNION_TAG = re.compile(r"\.(literal\[[^\]]*\]|[A-Z]\w*)")


#: Where :func:`vth.models.profile.reference_problems` reports broken references.
_REFERENCE = re.compile(r"^((sources|sensors|heat_sources)\[\d+\]\.id|sensors\[\d+\]\.source_id)$")


def _normal(path: str) -> str:
    return _UNION_TAG.sub("", path)


def _within(path: str, other: str) -> bool:
    return path == other or path.startswith((other + ".", other + "["))


def names_the_field(error: ProfileError, loc: Loc) -> bool:
    """A problem is at the mutated field, inside it, or at the object holding it.

    Changing the sources, sensors or heat sources can also break what refers to them
    (a sensor's ``source_id`` naming a source no longer there, a duplicate id), which is
    reported at the referring field.
    """
    target = field_path(loc)
    for problem in error.problems:
        path = _normal(problem.path)
        if _within(path, target) or (path and _within(target, path)):
            return True
        if loc[0] in ("sources", "sensors", "heat_sources") and _REFERENCE.match(path):
            return True
    return False


# --- (a) arbitrary data -------------------------------------------------------------------------


@FUZZ
@given(json_values | profile_like)
@example({"id": "x", "operating_hours": {"timezone": "America", "weekly": {}}})
@example({"operating_hours": {"weekly": {"mon": ["00:00-24:00"]}, "timezone": "x" * 300}})
@example({"footprint": {"type": "Polygon", "coordinates": [[["a", "b"]] * 4]}})
@example({"footprint": {"type": "Polygon", "coordinates": [[[True, 1]] * 4]}})
@example({"footprint": {"type": "Polygon", "coordinates": [[[200, 95]] * 4]}})
def test_any_data_gives_a_profile_or_a_profile_error(data: Any):
    outcome = parse(data)
    if isinstance(outcome, MbaProfile):
        assert_sound(outcome)


# --- (b) mutations of the example profiles ------------------------------------------------------


@FUZZ
@given(st.data())
def test_a_mutated_example_is_valid_or_its_error_names_the_mutated_field(data: st.DataObject):
    mba_id = data.draw(st.sampled_from(sorted(EXAMPLES)), label="example")
    profile = copy.deepcopy(EXAMPLES[mba_id])
    loc = data.draw(st.sampled_from(locations(profile)), label="field")
    parent = parent_of(profile, loc)
    key = loc[-1]
    drop = isinstance(parent, dict) and data.draw(st.booleans(), label="drop")
    if drop:
        del parent[key]
    else:
        parent[key] = data.draw(bad_values | json_values, label="value")

    outcome = parse(profile)

    if isinstance(outcome, MbaProfile):
        assert_sound(outcome)
    else:
        assert names_the_field(outcome, loc), (field_path(loc), [str(p) for p in outcome.problems])


@FUZZ
@given(
    st.sampled_from(sorted(EXAMPLES)),
    st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
    st.lists(hhmm_spans, max_size=3),
    st.sampled_from(["Europe/Amsterdam", "UTC", "America", "Europe/Atlantis", "", "x" * 300]),
)
def test_operating_hours_out_of_range_name_the_day_or_the_time_zone(
    mba_id: str, day: str, spans: list[str], timezone: str
):
    profile = copy.deepcopy(EXAMPLES[mba_id])
    profile["operating_hours"] = {"timezone": timezone, "weekly": {day: spans}}

    outcome = parse(profile)

    if isinstance(outcome, MbaProfile):
        assert outcome.operating_hours is not None
        assert outcome.operating_hours.minute_table().shape == (7, 1440)
        assert_sound(outcome)
    else:
        paths = {p.path for p in outcome.problems}
        assert paths <= {"operating_hours.timezone", "operating_hours.weekly"}, paths
        for problem in outcome.problems:
            if problem.path == "operating_hours.weekly":
                assert problem.reason.startswith(f"{day}: "), problem.reason


# --- (c) round trip -----------------------------------------------------------------------------


def test_every_example_profile_round_trips():
    for mba_id, data in EXAMPLES.items():
        profile = parse_profile(copy.deepcopy(data), f"{mba_id}.yaml")
        assert_sound(profile)
        dumped = yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False)
        assert parse_profile(yaml.safe_load(dumped)) == profile
