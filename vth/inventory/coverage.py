"""Coverage per MBA: which permit obligations which technology and detector can check.

For each obligation of an MBA profile, and each technology whose detector checks that
kind of obligation, one :class:`CoverageRow` says ``covered``, ``partial`` or ``gap``
and why:

* **emission limits** (and peak limits) need a sensor at the source (a CEMS or
  fence-line sensor with that ``source_id``); the catalogue's detection limit for the
  substance must lie well below the limit (at most 10 % of it for ``covered``);
* **heat sources** are checked in thermal images: a source at least a pixel across is
  ``covered``, a smaller one only ``partial`` (seen when hot enough to warm its pixel);
* **methane** (MBAs with a permitted flow, or with tanks, flares or vents): the
  permitted flow must be at or above the detection limit (satellites: about 1000 kg/h);
  with none permitted, any emission is a breach and only those above the limit are seen;
* **gas releases**: e-noses within 2 km of the MBA (its own and the public network's);
  the catalogue's count for attribution makes it ``covered``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pyproj import Geod

from vth.models import Location, MbaProfile, SensorNetwork
from vth.models.inventory import Capability, Catalogue, DetectionLimit, ObligationKind
from vth.sensing.errors import UnitError
from vth.sensing.units import convert

Status = Literal["covered", "partial", "gap"]

#: E-noses further away than this do not count for an MBA's gas releases.
ENOSE_RADIUS_M = 2000.0
#: A detection limit above this fraction of a limit value makes the check only partial.
MARGIN = 0.1
_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class CoverageRow:
    """Whether one obligation of one MBA can be checked with one technology."""

    mba_id: str
    agency: str | None
    obligation: ObligationKind
    subject: str
    technology: str
    detectors: tuple[str, ...]
    status: Status
    reason: str


def coverage(
    profiles: Iterable[MbaProfile],
    catalogue: Catalogue,
    capabilities: Sequence[Capability],
    networks: Mapping[str, SensorNetwork] | None = None,
) -> list[CoverageRow]:
    """The coverage rows of every MBA, in profile order.

    Parameters
    ----------
    profiles
        The MBA profiles.
    catalogue
        Technologies with their detection limits.
    capabilities
        What the toolkit's detectors can check (:func:`vth.inventory.capabilities`).
    networks
        Public sensor networks whose e-noses count for gas releases.
    """
    checkers = _checkers(capabilities)
    rows: list[CoverageRow] = []
    for profile in profiles:
        rows += _emission_limits(profile, catalogue, checkers)
        rows += _heat_sources(profile, catalogue, checkers)
        rows += _methane(profile, catalogue, checkers)
        rows += _gas_releases(profile, catalogue, checkers, networks or {})
    return rows


def gaps(rows: Iterable[CoverageRow], agency: str | None = None) -> list[CoverageRow]:
    """The rows that are not ``covered`` (of one agency's MBAs when given), gaps first."""
    chosen = [r for r in rows if r.status != "covered" and (agency is None or r.agency == agency)]
    return sorted(chosen, key=lambda r: (r.status != "gap", r.mba_id))


#: Technology -> detectors, per obligation kind.
Checkers = dict[ObligationKind, dict[str, tuple[str, ...]]]


def _checkers(capabilities: Sequence[Capability]) -> Checkers:
    found: Checkers = {}
    for capability in capabilities:
        if capability.component != "detector":
            continue
        for obligation in capability.obligations:
            by_technology = found.setdefault(obligation, {})
            for tech in capability.technologies:
                by_technology[tech] = (*by_technology.get(tech, ()), capability.name)
    return found


def _row(
    profile: MbaProfile,
    obligation: ObligationKind,
    subject: str,
    technology: str,
    detectors: tuple[str, ...],
    status: Status,
    reason: str,
) -> CoverageRow:
    return CoverageRow(
        profile.id, profile.agency, obligation, subject, technology, detectors, status, reason
    )


def _limit(
    catalogue: Catalogue, technology: str, obligation: str, quantity: str | None = None
) -> DetectionLimit | None:
    tech = catalogue.technology(technology)
    return None if tech is None else tech.limit_for(obligation, quantity)


def _emission_limits(
    profile: MbaProfile, catalogue: Catalogue, checkers: Checkers
) -> list[CoverageRow]:
    rows = []
    for source in profile.sources:
        measuring = [s.id for s in profile.sensors if s.source_id == source.id]
        for limit in source.limits:
            wanted: list[tuple[ObligationKind, str, float]] = [
                (
                    "emission_limit",
                    f"{source.id} {limit.label} {limit.value:g} {limit.unit}",
                    limit.value,
                )
            ]
            if limit.peak is not None:
                peak = limit.peak.factor * limit.value
                subject = f"{source.id} {limit.substance} peaks > {peak:g} {limit.unit}"
                wanted.append(("peak_limit", subject, peak))
            for obligation, subject, level in wanted:
                for tech, detectors in sorted(checkers.get(obligation, {}).items()):
                    status, reason = _judge_limit(
                        catalogue, tech, limit.substance, level, limit.unit, measuring
                    )
                    rows.append(_row(profile, obligation, subject, tech, detectors, status, reason))
    return rows


def _judge_limit(
    catalogue: Catalogue,
    tech: str,
    substance: str,
    value: float,
    unit: str,
    measuring: list[str],
) -> tuple[Status, str]:
    if not measuring:
        return "gap", "no sensor measures this source (add a CEMS or fence-line sensor)"
    by = f"measured by {', '.join(measuring)}"
    detection = _limit(catalogue, tech, "emission_limit", substance)
    if detection is None:
        return "covered", f"{by}; the catalogue gives no detection limit for {substance}"
    try:
        least = float(convert(np.array(detection.value), detection.unit, unit))
    except UnitError:
        return "partial", (
            f"{by}; detection limit {detection.value:g} {detection.unit} cannot be compared "
            f"with a limit in {unit}"
        )
    shown = f"{least:g} {unit}"
    if least >= value:
        return "gap", f"{by}, but the detection limit {shown} is not below {value:g} {unit}"
    if least > MARGIN * value:
        return "partial", (
            f"{by}; detection limit {shown} is more than {MARGIN:.0%} of {value:g} {unit}"
        )
    return "covered", f"{by}; detection limit {shown}"


def _heat_sources(
    profile: MbaProfile, catalogue: Catalogue, checkers: Checkers
) -> list[CoverageRow]:
    rows = []
    for source in profile.heat_sources:
        size = 2 * source.radius_m
        subject = f"heat source {source.id} (<= {source.max_temperature_k:g} K, {size:g} m)"
        for tech, detectors in sorted(checkers.get("heat_source", {}).items()):
            pixel = _limit(catalogue, tech, "heat_source", "pixel")
            if pixel is None:
                status: Status = "partial"
                reason = f"the catalogue gives no pixel size for {tech}"
            elif size >= pixel.value:
                status, reason = "covered", f"{size:g} m across, pixels of {pixel.value:g} m"
            else:
                status, reason = (
                    "partial",
                    (
                        f"{size:g} m across is less than a {pixel.value:g} m pixel: seen only when "
                        "hot enough to warm its pixel"
                    ),
                )
            rows.append(_row(profile, "heat_source", subject, tech, detectors, status, reason))
    return rows


def _methane(profile: MbaProfile, catalogue: Catalogue, checkers: Checkers) -> list[CoverageRow]:
    permitted = profile.permitted_ch4_kg_h
    relevant = permitted > 0 or any(s.kind in ("tank", "flare", "vent") for s in profile.sources)
    if not relevant:
        return []
    subject = f"methane (permitted {permitted:g} kg/h)"
    rows = []
    for tech, detectors in sorted(checkers.get("methane", {}).items()):
        detection = _limit(catalogue, tech, "methane", "CH4")
        if detection is None:
            status: Status = "partial"
            reason = f"the catalogue gives no methane detection limit for {tech}"
        elif permitted == 0:
            status, reason = (
                "partial",
                (
                    f"no methane is permitted, but only plumes from about {detection.value:g} "
                    f"{detection.unit} are seen"
                ),
            )
        elif permitted >= detection.value:
            status = "covered"
            reason = f"detection limit {detection.value:g} {detection.unit} <= permitted flow"
        else:
            status, reason = (
                "gap",
                (
                    f"detection limit {detection.value:g} {detection.unit} is above the permitted "
                    f"{permitted:g} kg/h: exceedances below it are not seen"
                ),
            )
        rows.append(_row(profile, "methane", subject, tech, detectors, status, reason))
    return rows


def _gas_releases(
    profile: MbaProfile,
    catalogue: Catalogue,
    checkers: Checkers,
    networks: Mapping[str, SensorNetwork],
) -> list[CoverageRow]:
    enoses = [s for s in profile.sensors if s.kind == "enose"]
    enoses += [s for n in networks.values() for s in n.sensors if s.kind == "enose"]
    # an MBA's own e-nose without a location stands on the site
    near = sorted(
        {
            s.id
            for s in enoses
            if _distance_m(profile.location, s.location or profile.location) <= ENOSE_RADIUS_M
        }
    )
    rows = []
    for tech, detectors in sorted(checkers.get("gas_release", {}).items()):
        needed = _limit(catalogue, tech, "gas_release")
        wanted = needed.value if needed is not None else 1
        counted = f"{len(near)} e-nose(s) within {ENOSE_RADIUS_M / 1000:g} km"
        if not near:
            status: Status = "gap"
            reason = f"{counted}: place e-noses around the site"
        elif len(near) >= wanted:
            status, reason = "covered", f"{counted} ({', '.join(near[:5])})"
        else:
            status, reason = (
                "partial",
                (f"{counted}; attribution needs {wanted:g} ({', '.join(near)})"),
            )
        rows.append(_row(profile, "gas_release", "gas releases", tech, detectors, status, reason))
    return rows


def _distance_m(a: Location, b: Location) -> float:
    """Geodesic distance on WGS84 (pyproj)."""
    return float(_GEOD.inv(a.lon, a.lat, b.lon, b.lat)[2])
