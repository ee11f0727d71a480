"""Coverage per MBA: which permit obligations which technology can check, and the gaps.

The expectations for the four example profiles are worked out by hand from
``examples/profiles/*.yaml``, ``examples/profiles/networks/dcmr-enose-rijnmond.yaml`` and
the shipped catalogue (``vth/inventory/catalogue.yaml``), with the rules of
:mod:`vth.inventory.coverage`:

* emission (and peak) limits: a sensor with the source's ``source_id`` is needed (else
  gap); the catalogue's detection limit of the substance, in the limit's unit, must be
  below the limit (else gap) and at most 10 % of it for ``covered`` (else partial);
* heat sources: ``2 * radius_m`` at least one pixel (satellite 30 m, drones 0.5 m) is
  covered, smaller is partial;
* methane (permitted flow > 0, or a tank, flare or vent): permitted >= 1000 kg/h is
  covered, below it a gap, none permitted partial;
* gas releases: e-noses (own and the public network's) within 2 km; 0 gap, fewer than
  the catalogue's 3 partial, 3 or more covered.

The detectors checking each obligation (from their ``obligations``): emission_limit
compliance (sensors); peak_limit peak (sensors); heat_source heat (satellite-images,
drones); methane methane (satellite-images); gas_release enose (e-noses).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from pyproj import Geod

from tests.conftest import EXAMPLE_PROFILES
from vth.inventory.capabilities import capabilities
from vth.inventory.catalogue import load_catalogue
from vth.inventory.coverage import ENOSE_RADIUS_M, MARGIN, CoverageRow, coverage, gaps
from vth.models import MbaProfile, SensorNetwork, load_profiles, parse_profile
from vth.models.inventory import Capability, Catalogue
from vth.models.loading import load_deployment_networks

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def found() -> list[Capability]:
    return capabilities()


@pytest.fixture(scope="module")
def examples() -> dict[str, MbaProfile]:
    return load_profiles(EXAMPLE_PROFILES)


@pytest.fixture(scope="module")
def networks() -> dict[str, SensorNetwork]:
    return load_deployment_networks(EXAMPLE_PROFILES)


@pytest.fixture(scope="module")
def example_rows(
    examples: dict[str, MbaProfile],
    catalogue: Catalogue,
    found: list[Capability],
    networks: dict[str, SensorNetwork],
) -> list[CoverageRow]:
    return coverage([examples[m] for m in sorted(examples)], catalogue, found, networks)


def brief(rows: Sequence[CoverageRow]) -> list[tuple[str, str, str, str, tuple[str, ...], str]]:
    return [(r.mba_id, r.obligation, r.subject, r.technology, r.detectors, r.status) for r in rows]


# --- the example profiles, by hand -------------------------------------------------------------

# avi-rozenburg: both lines have a CEMS (cems-l1 at line-1, cems-l2 at line-2). CEMS
# detection limits (mg/m3) against 10 % of each limit:
#   NOx 2: 1d 200 (20), line-1 30min 400 (40), line-2 30min 200 (20)  -> covered
#   SO2 2: 1d 50 (5), line-1 30min 200 (20), line-2 30min 50 (5)      -> covered
#   dust 0.5: 1d 10 (1), line-1 30min 30 (3), line-2 30min 10 (1)     -> covered
#   HCl 0.5: 1d 10 (1), 30min 60 (6)                                  -> covered
#   HF 0.1: 1d 1 (0.1: exactly 10 %, not more, so covered), 30min 4   -> covered
#   TOC 0.5: 1d 10 (1), 30min 20 (2)                                  -> covered
#   CO 1: 1d 50 (5), 10min 150 (15)                                   -> covered
# e.g. line-1 NOx 30min 400 mg/m3: cems-l1 at line-1, 2 mg/m3 <= 40 -> covered.
AVI_LIMITS = [
    ("NOx 1d 200", 2),
    ("SO2 1d 50", 2),
    ("dust 1d 10", 0.5),
    ("HCl 1d 10", 0.5),
    ("HF 1d 1", 0.1),
    ("TOC 1d 10", 0.5),
    ("CO 1d P97/year 50", 1),
    ("CO 10min P95/any_24h 150", 1),
]
AVI_LINE_1_HALF_HOURS = [
    ("NOx 30min 400", 2),
    ("SO2 30min 200", 2),
    ("dust 30min 30", 0.5),
    ("HCl 30min 60", 0.5),
    ("HF 30min 4", 0.1),
    ("TOC 30min 20", 0.5),
]
# line 2 has column B (P97/year) for NOx, SO2 and dust
AVI_LINE_2_HALF_HOURS = [
    ("NOx 30min P97/year 200", 2),
    ("SO2 30min P97/year 50", 2),
    ("dust 30min P97/year 10", 0.5),
    ("HCl 30min 60", 0.5),
    ("HF 30min 4", 0.1),
    ("TOC 30min 20", 0.5),
]


def avi_emission_rows() -> list[tuple[str, str, str, str, tuple[str, ...], str]]:
    return [
        (
            "avi-rozenburg",
            "emission_limit",
            f"{line} {limit} mg/m3",
            "sensors",
            ("compliance",),
            "covered",
        )
        for line, limits in (
            ("line-1", AVI_LIMITS + AVI_LINE_1_HALF_HOURS),
            ("line-2", AVI_LIMITS + AVI_LINE_2_HALF_HOURS),
        )
        for limit, _ in limits
    ]


EXPECTED = [
    *avi_emission_rows(),
    # boiler-house radius 60 m -> 120 m across: >= 0.5 m drone pixel and >= 30 m Landsat pixel
    (
        "avi-rozenburg",
        "heat_source",
        "heat source boiler-house (<= 420 K, 120 m)",
        "drones",
        ("heat",),
        "covered",
    ),
    (
        "avi-rozenburg",
        "heat_source",
        "heat source boiler-house (<= 420 K, 120 m)",
        "satellite-images",
        ("heat",),
        "covered",
    ),
    # no methane row: permitted 0 and only stacks.
    # e-noses within 2 km of (51.9053, 4.2458), none of its own: en-rozenburg-n (~1.1 km),
    # en-rozenburg-e (~1.3 km), en-rozenburg-w (~1.2 km); en-blankenburg is ~2.5 km away
    # -> 3, the catalogue's count for attribution -> covered
    ("avi-rozenburg", "gas_release", "gas releases", "e-noses", ("enose",), "covered"),
    # chemie-botlek furnace-1 (cems-f101): NOx 2 <= 7 (10 % of 70); CO 1 <= 10 -> covered
    (
        "chemie-botlek",
        "emission_limit",
        "furnace-1 NOx 1h 70 mg/m3",
        "sensors",
        ("compliance",),
        "covered",
    ),
    (
        "chemie-botlek",
        "emission_limit",
        "furnace-1 CO 1h 100 mg/m3",
        "sensors",
        ("compliance",),
        "covered",
    ),
    # fenceline-east (fl-east) benzene 50 ug/m3: 0.005 mg/m3 = 5 ug/m3 <= 10 % of 50 -> covered;
    # its peak limit (factor 4: peaks > 200 ug/m3) is judged against the peak level, by the
    # peak detector: 5 ug/m3 <= 10 % of 200 -> covered
    (
        "chemie-botlek",
        "emission_limit",
        "fenceline-east benzene 10min 50 ug/m3",
        "sensors",
        ("compliance",),
        "covered",
    ),
    (
        "chemie-botlek",
        "peak_limit",
        "fenceline-east benzene peaks > 200 ug/m3",
        "sensors",
        ("peak",),
        "covered",
    ),
    # flare-1 radius 40 -> 80 m, furnace-1 radius 25 -> 50 m: both >= 30 m -> covered
    (
        "chemie-botlek",
        "heat_source",
        "heat source flare-1 (<= 1800 K, 80 m)",
        "drones",
        ("heat",),
        "covered",
    ),
    (
        "chemie-botlek",
        "heat_source",
        "heat source flare-1 (<= 1800 K, 80 m)",
        "satellite-images",
        ("heat",),
        "covered",
    ),
    (
        "chemie-botlek",
        "heat_source",
        "heat source furnace-1 (<= 600 K, 50 m)",
        "drones",
        ("heat",),
        "covered",
    ),
    (
        "chemie-botlek",
        "heat_source",
        "heat source furnace-1 (<= 600 K, 50 m)",
        "satellite-images",
        ("heat",),
        "covered",
    ),
    # methane permitted 5 kg/h < 1000 kg/h satellite detection limit -> gap
    (
        "chemie-botlek",
        "methane",
        "methane (permitted 5 kg/h)",
        "satellite-images",
        ("methane",),
        "gap",
    ),
    # own enose-101..104 (~0.4-0.5 km) and from the network en-botlek-ne1 (~1.1 km), -n1
    # (~1.6), -e1 (~1.6), -se (~1.4), -s (~1.3), -w (~1.9); -ne2 (~2.1), -n2 (~2.1) and the
    # rest are further -> 10 -> covered
    ("chemie-botlek", "gas_release", "gas releases", "e-noses", ("enose",), "covered"),
    # gasturbine-maasvlakte gt-1 (cems-gt1): NOx 2 <= 10 (of 100) and <= 8 (of 80); CO 1 <= 2
    (
        "gasturbine-maasvlakte",
        "emission_limit",
        "gt-1 NOx 1h 100 mg/m3",
        "sensors",
        ("compliance",),
        "covered",
    ),
    (
        "gasturbine-maasvlakte",
        "emission_limit",
        "gt-1 CO 1h 20 mg/m3",
        "sensors",
        ("compliance",),
        "covered",
    ),
    (
        "gasturbine-maasvlakte",
        "emission_limit",
        "gt-1 NOx 1d 80 mg/m3",
        "sensors",
        ("compliance",),
        "covered",
    ),
    # no heat sources; methane: permitted 0 (default) and a stack only -> no row;
    # no e-noses of its own, and the network lies ~14 km east -> gap
    ("gasturbine-maasvlakte", "gas_release", "gas releases", "e-noses", ("enose",), "gap"),
    # tankopslag-europoort vru-1 (cems-vru1): TOC 10 g/m3 vs 0.5 mg/m3 = 0.0005 g/m3 -> covered;
    # benzene 1 mg/m3 vs 0.005 mg/m3 <= 0.1 -> covered
    (
        "tankopslag-europoort",
        "emission_limit",
        "vru-1 TOC 1h 10 g/m3",
        "sensors",
        ("compliance",),
        "covered",
    ),
    (
        "tankopslag-europoort",
        "emission_limit",
        "vru-1 benzene 1h 1 mg/m3",
        "sensors",
        ("compliance",),
        "covered",
    ),
    # tank-t12 and tank-t14 have no limits (no rows); no heat sources.
    # methane permitted 0 with tanks: any emission breaches, only >= 1000 kg/h seen -> partial
    (
        "tankopslag-europoort",
        "methane",
        "methane (permitted 0 kg/h)",
        "satellite-images",
        ("methane",),
        "partial",
    ),
    # enose-201 (~0.3 km), enose-202 (~0.35 km); the network is ~7 km east -> 2 < 3 -> partial
    ("tankopslag-europoort", "gas_release", "gas releases", "e-noses", ("enose",), "partial"),
]

#: The gap list of the examples: gaps (by MBA), then partial coverage (by MBA).
EXPECTED_GAPS = [
    ("chemie-botlek", "methane", "gap"),
    ("gasturbine-maasvlakte", "gas_release", "gap"),
    ("tankopslag-europoort", "methane", "partial"),
    ("tankopslag-europoort", "gas_release", "partial"),
]


def test_the_example_coverage_matches_the_hand_check(example_rows: list[CoverageRow]):
    assert len(avi_emission_rows()) == 28
    assert brief(example_rows) == EXPECTED
    assert {r.agency for r in example_rows} == {"DCMR"}


@pytest.mark.parametrize(
    ("mba", "subject", "reason"),
    [
        (
            "avi-rozenburg",
            "line-1 NOx 30min 400 mg/m3",
            "measured by cems-l1; detection limit 2 mg/m3",
        ),
        ("avi-rozenburg", "line-2 HF 1d 1 mg/m3", "measured by cems-l2; detection limit 0.1 mg/m3"),
        (
            "chemie-botlek",
            "fenceline-east benzene 10min 50 ug/m3",
            "measured by fl-east; detection limit 5 ug/m3",
        ),
        (
            "tankopslag-europoort",
            "vru-1 TOC 1h 10 g/m3",
            "measured by cems-vru1; detection limit 0.0005 g/m3",
        ),
        (
            "chemie-botlek",
            "methane (permitted 5 kg/h)",
            "detection limit 1000 kg/h is above the permitted 5 kg/h: exceedances below it are "
            "not seen",
        ),
        (
            "tankopslag-europoort",
            "methane (permitted 0 kg/h)",
            "no methane is permitted, but only plumes from about 1000 kg/h are seen",
        ),
    ],
)
def test_example_reasons(example_rows: list[CoverageRow], mba: str, subject: str, reason: str):
    [row] = [r for r in example_rows if r.mba_id == mba and r.subject == subject]
    assert row.reason == reason


def test_avi_rozenburg_emission_reasons_name_the_cems_and_its_detection_limit(
    example_rows: list[CoverageRow],
):
    expected = [
        f"measured by cems-l{n}; detection limit {detection:g} mg/m3"
        for n, limits in (
            (1, AVI_LIMITS + AVI_LINE_1_HALF_HOURS),
            (2, AVI_LIMITS + AVI_LINE_2_HALF_HOURS),
        )
        for _, detection in limits
    ]

    reasons = [
        r.reason
        for r in example_rows
        if r.mba_id == "avi-rozenburg" and r.obligation == "emission_limit"
    ]
    assert reasons == expected


def test_example_gas_release_reasons(example_rows: list[CoverageRow]):
    reasons = {r.mba_id: r.reason for r in example_rows if r.obligation == "gas_release"}

    assert reasons == {
        "avi-rozenburg": (
            "3 e-nose(s) within 2 km (en-rozenburg-e, en-rozenburg-n, en-rozenburg-w)"
        ),
        # the first five of the ten, by id
        "chemie-botlek": (
            "10 e-nose(s) within 2 km (en-botlek-e1, en-botlek-n1, en-botlek-ne1, en-botlek-s, "
            "en-botlek-se)"
        ),
        "gasturbine-maasvlakte": "0 e-nose(s) within 2 km: place e-noses around the site",
        "tankopslag-europoort": (
            "2 e-nose(s) within 2 km; attribution needs 3 (enose-201, enose-202)"
        ),
    }


def test_without_the_public_network_avi_rozenburg_has_no_e_noses(
    examples: dict[str, MbaProfile], catalogue: Catalogue, found: list[Capability]
):
    rows = coverage([examples["avi-rozenburg"], examples["chemie-botlek"]], catalogue, found)

    by_mba = {r.mba_id: r for r in rows if r.obligation == "gas_release"}
    assert by_mba["avi-rozenburg"].status == "gap"
    assert by_mba["chemie-botlek"].status == "covered"  # its own four e-noses
    assert by_mba["chemie-botlek"].reason.startswith("4 e-nose(s) within 2 km")


def test_the_gap_list_of_the_examples(example_rows: list[CoverageRow]):
    found = gaps(example_rows)

    assert [(r.mba_id, r.obligation, r.status) for r in found] == EXPECTED_GAPS
    assert gaps(example_rows, agency="DCMR") == found
    assert gaps(example_rows, agency="NOPE") == []


# --- synthetic profiles for each rule's edges --------------------------------------------------

HERE = {"lat": 51.96, "lon": 4.03}


def profile(**changes: Any) -> MbaProfile:
    """A gas turbine like gasturbine-maasvlakte; keyword arguments replace its fields."""
    data: dict[str, Any] = {
        "id": "synthetic",
        "name": "Synthetische gasturbine",
        "operator": "Test B.V.",
        "agency": "ODX",
        "activity": "stookinstallatie (gasturbine)",
        "location": HERE,
        "sources": [
            {
                "id": "gt-1",
                "kind": "stack",
                "location": HERE,
                "limits": [{"substance": "NOx", "unit": "mg/m3", "value": 100, "average": "1h"}],
            }
        ],
        "sensors": [{"id": "cems-gt1", "kind": "cems", "source_id": "gt-1", "location": HERE}],
    }
    data.update(changes)
    return parse_profile(data)


def nox(value: float, unit: str = "mg/m3", **extra: Any) -> list[dict[str, Any]]:
    """One stack gt-1 with one NOx limit."""
    limit = {"substance": "NOx", "unit": unit, "value": value, "average": "1h", **extra}
    return [{"id": "gt-1", "kind": "stack", "location": HERE, "limits": [limit]}]


def rows_of(
    mba: MbaProfile,
    catalogue: Catalogue,
    obligation: str,
    networks: dict[str, SensorNetwork] | None = None,
) -> list[CoverageRow]:
    return [
        r
        for r in coverage([mba], catalogue, capabilities(), networks)
        if r.obligation == obligation
    ]


def test_the_synthetic_profile_is_covered(catalogue: Catalogue):
    rows = coverage([profile()], catalogue, capabilities())

    assert brief(rows) == [
        (
            "synthetic",
            "emission_limit",
            "gt-1 NOx 1h 100 mg/m3",
            "sensors",
            ("compliance",),
            "covered",
        ),
        ("synthetic", "gas_release", "gas releases", "e-noses", ("enose",), "gap"),
    ]
    assert rows[0].agency == "ODX"


def test_a_source_without_a_sensor_is_a_gap(catalogue: Catalogue):
    # the CEMS measures another source; the weather station none
    sensors = [
        {"id": "cems-gt2", "kind": "cems", "source_id": "gt-2"},
        {"id": "meteo", "kind": "weather", "location": HERE},
    ]
    sources = [*nox(100), {"id": "gt-2", "kind": "stack", "location": HERE}]

    [row] = rows_of(profile(sources=sources, sensors=sensors), catalogue, "emission_limit")

    assert (row.subject, row.status) == ("gt-1 NOx 1h 100 mg/m3", "gap")
    assert row.reason == "no sensor measures this source (add a CEMS or fence-line sensor)"


def test_a_fenceline_sensor_at_the_source_counts(catalogue: Catalogue):
    sensors = [{"id": "fl-1", "kind": "fenceline", "source_id": "gt-1"}]

    [row] = rows_of(profile(sensors=sensors), catalogue, "emission_limit")

    assert row.status == "covered"
    assert row.reason == "measured by fl-1; detection limit 2 mg/m3"


@pytest.mark.parametrize(
    ("value", "unit", "status", "reason"),
    [
        # CEMS NOx detection limit 2 mg/m3
        (2, "mg/m3", "gap", "but the detection limit 2 mg/m3 is not below 2 mg/m3"),
        (1, "mg/m3", "gap", "but the detection limit 2 mg/m3 is not below 1 mg/m3"),
        (2.5, "mg/m3", "partial", "detection limit 2 mg/m3 is more than 10% of 2.5 mg/m3"),
        (19.9, "mg/m3", "partial", "detection limit 2 mg/m3 is more than 10% of 19.9 mg/m3"),
        (20, "mg/m3", "covered", "detection limit 2 mg/m3"),  # exactly 10 %: covered
        (2000, "ug/m3", "gap", "but the detection limit 2000 ug/m3 is not below 2000 ug/m3"),
        (10000, "ug/m3", "partial", "detection limit 2000 ug/m3 is more than 10% of 10000"),
        (0.02, "g/m3", "covered", "detection limit 0.002 g/m3"),
        # a volume fraction cannot be compared with a mass concentration
        (50, "ppm", "partial", "detection limit 2 mg/m3 cannot be compared with a limit in ppm"),
    ],
)
def test_the_detection_limit_against_the_emission_limit(
    catalogue: Catalogue, value: float, unit: str, status: str, reason: str
):
    [row] = rows_of(profile(sources=nox(value, unit)), catalogue, "emission_limit")

    assert row.status == status, row.reason
    assert reason in row.reason
    assert row.reason.startswith("measured by cems-gt1")
    assert MARGIN == 0.1


def test_a_peak_limit_is_judged_against_its_peak_level(catalogue: Catalogue):
    # NOx 10 mg/m3 with the CEMS limit of 2 mg/m3: 20 % of the limit -> partial; the peaks
    # above 3 x 10 = 30 mg/m3: 2 is 6.7 % of 30 -> covered
    sources = nox(10, peak={"factor": 3})

    rows = [
        r
        for r in coverage([profile(sources=sources)], catalogue, capabilities())
        if r.obligation in ("emission_limit", "peak_limit")
    ]

    assert [(r.obligation, r.subject, r.detectors, r.status) for r in rows] == [
        ("emission_limit", "gt-1 NOx 1h 10 mg/m3", ("compliance",), "partial"),
        ("peak_limit", "gt-1 NOx peaks > 30 mg/m3", ("peak",), "covered"),
    ]


@pytest.mark.parametrize(
    ("permitted", "kinds", "status"),
    [
        (1000, ("stack",), "covered"),  # exactly the detection limit
        (5000, ("stack",), "covered"),
        (999.9, ("stack",), "gap"),
        (5, ("stack",), "gap"),
        (0, ("flare",), "partial"),
        (0, ("vent",), "partial"),
        (0, ("tank",), "partial"),
        (0, ("stack", "other"), None),  # nothing permitted, nothing to leak: no row
    ],
)
def test_methane(
    catalogue: Catalogue, permitted: float, kinds: tuple[str, ...], status: str | None
):
    sources = [{"id": f"s-{i}", "kind": kind} for i, kind in enumerate(kinds)]
    mba = profile(sources=sources, sensors=[], permitted_ch4_kg_h=permitted)

    rows = rows_of(mba, catalogue, "methane")

    if status is None:
        assert rows == []
        return
    [row] = rows
    assert (row.subject, row.technology, row.detectors, row.status) == (
        f"methane (permitted {permitted:g} kg/h)",
        "satellite-images",
        ("methane",),
        status,
    )


@pytest.mark.parametrize(
    ("radius_m", "drones", "satellite"),
    [
        (15, "covered", "covered"),  # 30 m across: exactly one Landsat pixel
        (14.9, "covered", "partial"),  # 29.8 m
        (0.25, "covered", "partial"),  # 0.5 m: exactly one drone pixel
        (0.2, "partial", "partial"),  # 0.4 m
    ],
)
def test_heat_sources_against_the_pixel_size(
    catalogue: Catalogue, radius_m: float, drones: str, satellite: str
):
    heat = [{"id": "hs-1", "location": HERE, "radius_m": radius_m, "max_temperature_k": 900}]

    rows = rows_of(profile(heat_sources=heat), catalogue, "heat_source")

    size = 2 * radius_m
    assert [(r.subject, r.technology, r.detectors, r.status) for r in rows] == [
        (f"heat source hs-1 (<= 900 K, {size:g} m)", "drones", ("heat",), drones),
        (f"heat source hs-1 (<= 900 K, {size:g} m)", "satellite-images", ("heat",), satellite),
    ]
    for row in rows:
        if row.status == "partial":
            assert row.reason.endswith("seen only when hot enough to warm its pixel")
            assert row.reason.startswith(f"{size:g} m across is less than a ")
        else:
            assert row.reason.startswith(f"{size:g} m across, pixels of ")


def enose_at(sensor_id: str, distance_m: float, azimuth: float = 90.0) -> dict[str, Any]:
    """An e-nose ``distance_m`` from the synthetic MBA (geodesic, WGS84)."""
    lon, lat, _ = GEOD.fwd(HERE["lon"], HERE["lat"], azimuth, distance_m)
    return {"id": sensor_id, "kind": "enose", "location": {"lat": lat, "lon": lon}}


def test_e_noses_placed_where_the_test_says():
    sensor = enose_at("en", ENOSE_RADIUS_M)
    where = sensor["location"]
    distance = GEOD.inv(HERE["lon"], HERE["lat"], where["lon"], where["lat"])[2]
    assert distance == pytest.approx(2000, abs=1e-6)
    assert distance <= ENOSE_RADIUS_M  # on the boundary, by pyproj's own reckoning


@pytest.mark.parametrize(
    ("distances", "status", "counted"),
    [
        ((2000, 2000, 2000), "covered", 3),  # on the 2 km boundary: within
        ((2000, 2000, 2001), "partial", 2),  # 1 m beyond does not count
        ((1999.999, 2000.001, 2100), "partial", 1),
        ((2000.001, 2001, 2100), "gap", 0),
        ((10, 20, 30, 40), "covered", 4),
    ],
)
def test_e_noses_within_2_km(
    catalogue: Catalogue, distances: tuple[float, ...], status: str, counted: int
):
    azimuths = (90.0, 270.0, 90.0, 270.0)
    sensors = [enose_at(f"en-{i}", d, azimuths[i]) for i, d in enumerate(distances)]

    [row] = rows_of(profile(sensors=sensors), catalogue, "gas_release")

    assert row.status == status
    assert row.reason.startswith(f"{counted} e-nose(s) within 2 km")


def test_network_e_noses_count_and_own_ones_without_location_stand_on_site(catalogue: Catalogue):
    network = SensorNetwork(
        id="public",
        name="Public",
        operator="Agency",
        sensors=[
            enose_at("pub-near", 1500),
            enose_at("pub-far", 2500),
            {"id": "pub-meteo", "kind": "weather", "location": HERE},
        ],
    )
    sensors = [{"id": "own", "kind": "enose"}, {"id": "own-meteo", "kind": "weather"}]

    [row] = rows_of(profile(sensors=sensors), catalogue, "gas_release", {"public": network})

    assert row.status == "partial"
    assert row.reason == "2 e-nose(s) within 2 km; attribution needs 3 (own, pub-near)"


def test_gaps_of_one_agency_come_gaps_first(catalogue: Catalogue):
    # ODX "b": NOx of 10 mg/m3 against a 2 mg/m3 CEMS -> partial; e-noses: gap
    # ODX "c": no CEMS -> gap; e-noses: gap
    # ODY "a": no CEMS -> gap (another agency)
    # ODX "d": fully covered (three e-noses on site)
    site_enoses = [{"id": f"en-{i}", "kind": "enose"} for i in range(3)]
    profiles = [
        profile(id="b", sources=nox(10)),
        profile(id="c", sensors=[]),
        profile(id="a", agency="ODY", sensors=[]),
        profile(
            id="d",
            sensors=[{"id": "cems", "kind": "cems", "source_id": "gt-1"}, *site_enoses],
        ),
    ]
    rows = coverage(profiles, catalogue, capabilities())

    found = gaps(rows, agency="ODX")

    assert [(r.mba_id, r.obligation, r.status) for r in found] == [
        ("b", "gas_release", "gap"),
        ("c", "emission_limit", "gap"),
        ("c", "gas_release", "gap"),
        ("b", "emission_limit", "partial"),
    ]
    assert [(r.mba_id, r.status) for r in gaps(rows, agency="ODY")] == [("a", "gap"), ("a", "gap")]
    assert [r.mba_id for r in gaps(rows)] == ["a", "a", "b", "c", "c", "b"]
    assert all(r.status == "covered" for r in rows if r.mba_id == "d")


# --- a catalogue without the technologies' limits ----------------------------------------------

BARE = Catalogue(
    tasks=[],
    technologies=[
        {"id": t, "name": t, "category": "sensing", "maturity": "in use"}
        for t in ("sensors", "satellite-images", "drones", "e-noses")
    ],
)


@pytest.mark.parametrize(
    "known", [BARE, Catalogue(tasks=[], technologies=[])], ids=["bare", "empty"]
)
def test_without_detection_limits_the_fallbacks_apply(known: Catalogue):
    heat = [{"id": "hs-1", "location": HERE, "radius_m": 0.1, "max_temperature_k": 900}]
    mba = profile(
        sources=[*nox(1), {"id": "flare-1", "kind": "flare"}],
        sensors=[
            {"id": "cems-gt1", "kind": "cems", "source_id": "gt-1"},
            {"id": "en", "kind": "enose"},
        ],
        heat_sources=heat,
        permitted_ch4_kg_h=5,
    )

    rows = coverage([mba], known, capabilities())

    assert [(r.obligation, r.technology, r.status, r.reason) for r in rows] == [
        # emission limits: measured, and nothing known against them -> covered
        (
            "emission_limit",
            "sensors",
            "covered",
            "measured by cems-gt1; the catalogue gives no detection limit for NOx",
        ),
        # heat sources: no pixel size -> partial
        ("heat_source", "drones", "partial", "the catalogue gives no pixel size for drones"),
        (
            "heat_source",
            "satellite-images",
            "partial",
            "the catalogue gives no pixel size for satellite-images",
        ),
        # methane: no detection limit -> partial
        (
            "methane",
            "satellite-images",
            "partial",
            "the catalogue gives no methane detection limit for satellite-images",
        ),
        # gas releases: one e-nose is enough without the catalogue's count
        ("gas_release", "e-noses", "covered", "1 e-nose(s) within 2 km (en)"),
    ]


def test_a_general_detection_limit_applies_to_every_substance(found: list[Capability]):
    known = Catalogue(
        tasks=[],
        technologies=[
            {
                "id": "sensors",
                "name": "Low-cost sensors",
                "category": "sensing",
                "maturity": "pilot",
                "detection_limits": [
                    {"obligation": "emission_limit", "value": 50, "unit": "mg/m3"}
                ],
            }
        ],
    )

    [row] = [
        r
        for r in coverage([profile(sources=nox(20))], known, found)
        if r.obligation == "emission_limit"
    ]

    assert row.status == "gap"
