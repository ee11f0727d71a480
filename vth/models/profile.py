"""MBA profiles: what a permit allows, as pydantic models read from YAML.

One YAML file describes one MBA (milieubelastende activiteit): its sources (stacks,
flares, tanks) with emission limits, its operating hours, its sensors, its permitted
heat sources and its permitted methane emission. See DESIGN.md section 2.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vth.sensing.errors import UnitError
from vth.sensing.units import dimension_of

Identifier = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="Letters, digits, '.', '_' and '-'; used in MQTT topics and URLs.",
    ),
]
AveragingPeriod = Literal["1min", "10min", "30min", "1h", "1d", "1mo"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
#: Validation context key: cross-field references were already checked on the raw data.
REFERENCES_CHECKED = "references_checked"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Location(_Model):
    """A WGS84 point."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


#: Calendar units and the sliding 24 hours a percentile rule can apply over.
PercentileSpan = Literal["year", "month", "day", "any_24h"]
#: Length of each averaging period in minutes (a month counts as 28 days, its shortest).
PERIOD_MINUTES: dict[str, int] = {
    "1min": 1,
    "10min": 10,
    "30min": 30,
    "1h": 60,
    "1d": 1440,
    "1mo": 28 * 1440,
}


class PercentileRule(_Model):
    """At least ``percentile`` % of the averages over ``over`` must be within the limit.

    ``over`` is a calendar year, month or day (UTC), or ``any_24h``: every 24 hours,
    sliding by one averaging period (IED Annex VI: CO, 95 % of the 10-minute averages
    in any 24 hours).
    """

    percentile: float = Field(gt=0, le=100)
    over: PercentileSpan = "year"

    @property
    def label(self) -> str:
        """Short readable form, e.g. ``P97/year`` or ``P95/any_24h``."""
        return f"P{self.percentile:g}/{self.over}"


class PeakLimit(_Model):
    """Short peaks above a multiple of the limit, for fence-line and process sensors.

    Averages over ``average`` (1-minute values by default) above ``factor`` times the
    limit value raise a ``peak`` alert. No confidence interval is subtracted from peaks.
    """

    factor: float = Field(ge=1, description="Multiple of the limit value a peak must exceed.")
    average: AveragingPeriod = "1min"
    min_coverage: float = Field(default=0.5, gt=0, le=1)


class EmissionLimit(_Model):
    """One emission limit of a source, as written in the permit."""

    substance: str = Field(min_length=1, description="Stream variable name, e.g. NOx, SO2, CO.")
    unit: str = Field(description="Unit of the limit value, e.g. mg/m3.")
    value: float = Field(gt=0)
    average: AveragingPeriod = Field(description="Averaging period, aligned to the UTC clock.")
    reference_o2: float | None = Field(
        default=None, ge=0, lt=21, description="Reference O2 (%, dry) the limit applies at."
    )
    confidence_interval: float = Field(
        default=0.0,
        ge=0,
        lt=100,
        description="Percentage of the limit subtracted from each average before comparing.",
    )
    min_coverage: float = Field(
        default=0.75, gt=0, le=1, description="Fraction of valid samples for a valid average."
    )
    confidence_interval_basis: AveragingPeriod | None = Field(
        default=None,
        description=(
            "The confidence interval is a percentage of this source's limit for the same "
            "substance over this averaging period (IED: 1d, the daily limit); default: "
            "this limit."
        ),
    )
    rule: Literal["all"] | PercentileRule = "all"
    operating_time_only: bool = Field(
        default=False,
        description="Average only samples within the MBA's operating hours.",
    )
    from_average: AveragingPeriod | None = Field(
        default=None,
        description=(
            "Compute this average from the validated averages of this shorter period "
            "instead of from samples (IED: daily averages from validated half-hours)."
        ),
    )
    max_discarded: int | None = Field(
        default=None,
        ge=0,
        description=(
            "With from_average: an average is valid only when at most this many of its "
            "shorter averages were discarded (IED: 5 half-hours a day)."
        ),
    )
    max_discarded_per_year: int | None = Field(
        default=None,
        ge=0,
        description="At most this many averages may be discarded per calendar year (IED: 10).",
    )
    peak: PeakLimit | None = Field(
        default=None, description="Also alert on short peaks above a multiple of the limit."
    )

    @model_validator(mode="after")
    def _consistent_rules(self) -> EmissionLimit:
        if self.from_average is not None:
            shorter, longer = PERIOD_MINUTES[self.from_average], PERIOD_MINUTES[self.average]
            if shorter >= longer or (self.average != "1mo" and longer % shorter):
                raise ValueError(
                    f"from_average {self.from_average} must be a shorter period that divides "
                    f"average {self.average}"
                )
        if self.max_discarded is not None and self.from_average is None:
            raise ValueError("max_discarded counts discarded shorter averages; set from_average")
        minutes = PERIOD_MINUTES[self.average]
        any_24h = isinstance(self.rule, PercentileRule) and self.rule.over == "any_24h"
        if any_24h and (minutes >= 1440 or 1440 % minutes):
            raise ValueError(
                f"rule over any_24h needs an average that divides a day, not {self.average}"
            )
        return self

    @property
    def rule_label(self) -> str:
        """``all``, or the percentile rule's label such as ``P97/year``."""
        return "all" if self.rule == "all" else self.rule.label

    @property
    def label(self) -> str:
        """Identification within a source: ``NOx 30min``, ``CO 10min P95/any_24h``."""
        rule = "" if self.rule == "all" else f" {self.rule_label}"
        return f"{self.substance} {self.average}{rule}"

    def peak_limit(self) -> EmissionLimit | None:
        """The peak check as a limit of its own: ``factor`` x the value, no confidence interval."""
        if self.peak is None:
            return None
        return EmissionLimit(
            substance=self.substance,
            unit=self.unit,
            value=self.value * self.peak.factor,
            average=self.peak.average,
            reference_o2=self.reference_o2,
            min_coverage=self.peak.min_coverage,
            operating_time_only=self.operating_time_only,
        )

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, unit: str) -> str:
        try:
            dimension_of(unit)
        except UnitError as exc:
            raise ValueError(str(exc)) from exc
        return unit


class Source(_Model):
    """An emission point: a stack, flare, tank or vent."""

    id: Identifier
    kind: Literal["stack", "flare", "tank", "vent", "other"] = "stack"
    name: str | None = None
    location: Location | None = None
    limits: list[EmissionLimit] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_limit_per_substance_period_and_rule(self) -> Source:
        seen: set[str] = set()
        for limit in self.limits:
            if limit.label in seen:
                raise ValueError(f"two limits {limit.label}; keep one")
            seen.add(limit.label)
        for limit in self.limits:
            if limit.confidence_interval_basis is not None:
                self.confidence_interval_basis_of(limit)
        return self

    def limit_for(self, substance: str, average: str) -> EmissionLimit | None:
        """The limit for ``substance`` over ``average`` (rule ``all`` first), if any."""
        found = [x for x in self.limits if x.substance == substance and x.average == average]
        found.sort(key=lambda x: x.rule != "all")
        return found[0] if found else None

    def confidence_interval_basis_of(self, limit: EmissionLimit) -> EmissionLimit:
        """The limit whose value ``limit.confidence_interval`` is a percentage of."""
        if limit.confidence_interval_basis is None:
            return limit
        basis = self.limit_for(limit.substance, limit.confidence_interval_basis)
        if basis is None:
            raise ValueError(
                f"{limit.label}: confidence_interval_basis {limit.confidence_interval_basis} "
                f"names no {limit.substance} limit over {limit.confidence_interval_basis} of "
                f"source {self.id}"
            )
        if basis.unit != limit.unit:
            raise ValueError(
                f"{limit.label}: its confidence_interval_basis limit is in {basis.unit}, "
                f"not {limit.unit}; give both in one unit"
            )
        return basis

    def confidence_interval_value(self, limit: EmissionLimit) -> float:
        """The confidence interval of ``limit`` in the limit's unit."""
        return limit.confidence_interval / 100 * self.confidence_interval_basis_of(limit).value


class HeatSource(_Model):
    """A permitted heat source (flare, furnace, hot process) seen in thermal images."""

    id: Identifier
    location: Location
    radius_m: float = Field(gt=0)
    max_temperature_k: float = Field(gt=0)


class Sensor(_Model):
    """A sensor registered for an MBA: CEMS analyser, e-nose, fence-line or weather station."""

    id: Identifier
    kind: Literal["cems", "enose", "fenceline", "weather", "other"]
    location: Location | None = None
    source_id: str | None = Field(
        default=None, description="For CEMS: the source whose flue gas it measures."
    )


class OperatingHours(_Model):
    """A weekly schedule in local time; time outside it is not operating time."""

    timezone: str = "Europe/Amsterdam"
    weekly: dict[Weekday, list[str]] = Field(
        description="Per weekday a list of 'HH:MM-HH:MM' spans; '24:00' ends a day."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        # OSError: a folder of the zone database ('America') or a name too long for a file
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown time zone {tz!r}; use an IANA name") from exc
        return tz

    @field_validator("weekly")
    @classmethod
    def _valid_spans(cls, weekly: dict[Weekday, list[str]]) -> dict[Weekday, list[str]]:
        for day, spans in weekly.items():
            for span in spans:
                _parse_span(span, day)
        return weekly

    def minute_table(self) -> np.ndarray:
        """Boolean (7, 1440) table: True where minute m of weekday d is operating time."""
        table = np.zeros((7, 24 * 60), dtype=bool)
        for day, spans in self.weekly.items():
            d = WEEKDAYS.index(day)
            for span in spans:
                start, end = _parse_span(span, day)
                table[d, start:end] = True
        return table

    def mask(self, times: np.ndarray) -> np.ndarray:
        """Vectorised: True for each UTC ``datetime64`` in ``times`` that is operating time."""
        local = pd.DatetimeIndex(times).tz_localize("UTC").tz_convert(self.timezone)
        minute = np.asarray(local.hour * 60 + local.minute)
        table: np.ndarray = self.minute_table()
        result: np.ndarray = table[np.asarray(local.day_of_week), minute]
        return result


def _parse_span(span: str, day: str) -> tuple[int, int]:
    match = _SPAN.match(span)
    if not match:
        raise ValueError(f"{day}: {span!r} is not 'HH:MM-HH:MM'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or end <= start:
        raise ValueError(f"{day}: {span!r} is not a span within one day (start < end <= 24:00)")
    return start, end


class MbaProfile(_Model):
    """The permitted profile of one MBA (milieubelastende activiteit)."""

    id: Identifier
    name: str = Field(min_length=1)
    operator: str = Field(min_length=1)
    agency: str | None = Field(
        default=None,
        description="The omgevingsdienst supervising the MBA (e.g. DCMR); its inspectors see it.",
    )
    activity: str = Field(
        min_length=1, description="Bal activity, e.g. afvalverbrandingsinstallatie"
    )
    location: Location
    footprint: dict[str, object] | None = Field(
        default=None, description="GeoJSON Polygon of the site, WGS84."
    )
    operating_hours: OperatingHours | None = Field(
        default=None, description="Absent: operating around the clock."
    )
    sources: list[Source] = Field(default_factory=list)
    sensors: list[Sensor] = Field(default_factory=list)
    heat_sources: list[HeatSource] = Field(default_factory=list)
    permitted_ch4_kg_h: float = Field(default=0.0, ge=0)

    @field_validator("footprint")
    @classmethod
    def _geojson_polygon(cls, footprint: dict[str, object] | None) -> dict[str, object] | None:
        if footprint is None:
            return None
        if footprint.get("type") != "Polygon":
            raise ValueError("footprint must be a GeoJSON object with type 'Polygon'")
        rings = footprint.get("coordinates")
        if not isinstance(rings, list) or not rings:
            raise ValueError("footprint.coordinates must be a list of linear rings")
        for ring in rings:
            if not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]:
                raise ValueError("each footprint ring needs >= 4 [lon, lat] points, closed")
            for point in ring:
                if not (isinstance(point, list) and len(point) == 2):
                    raise ValueError("footprint points must be [lon, lat] pairs")
                if not all(_is_number(x) for x in point):
                    raise ValueError(
                        f"footprint point {reprlib.repr(point)} is not two numbers [lon, lat]"
                    )
                lon, lat = point
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise ValueError(
                        f"footprint point {reprlib.repr(point)} is not [lon, lat] in WGS84 "
                        "(lon -180..180, lat -90..90)"
                    )
        return footprint

    @model_validator(mode="after")
    def _consistent_ids(self, info: ValidationInfo) -> MbaProfile:
        if info.context and info.context.get(REFERENCES_CHECKED):
            return self  # the loader has reported these with their field paths
        problems = reference_problems(self.model_dump())
        if problems:
            raise ValueError("; ".join(f"{path}: {reason}" for path, reason in problems))
        return self

    def source(self, source_id: str) -> Source | None:
        """The source with this id, if any."""
        return next((s for s in self.sources if s.id == source_id), None)

    def sensor(self, sensor_id: str) -> Sensor | None:
        """The registered sensor with this id, if any."""
        return next((s for s in self.sensors if s.id == sensor_id), None)

    def source_of_sensor(self, sensor_id: str) -> Source | None:
        """The source a sensor measures: its ``source_id``, or the source of the same id."""
        sensor = self.sensor(sensor_id)
        if sensor is not None and sensor.source_id is not None:
            return self.source(sensor.source_id)
        return self.source(sensor_id)

    def operating_mask(self, times: np.ndarray) -> np.ndarray:
        """True for each UTC time within operating hours (all True when none are set)."""
        if self.operating_hours is None:
            return np.ones(len(times), dtype=bool)
        return self.operating_hours.mask(times)


def _is_number(value: object) -> bool:
    """A finite int or float (not a bool, which YAML's true/false would give)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def reference_problems(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Cross-field problems of profile data, each with its field path.

    Duplicate ids of sources, sensors and heat sources, and sensors whose
    ``source_id`` names no source. Works on raw (unvalidated) data, so these are
    reported together with field errors, not after they are fixed.
    """
    problems: list[tuple[str, str]] = []

    def identified(key: str) -> list[tuple[int, str]]:
        items = data.get(key)
        if not isinstance(items, list):
            return []
        return [
            (i, item["id"])
            for i, item in enumerate(items)
            if isinstance(item, Mapping) and isinstance(item.get("id"), str)
        ]

    for key, what in (
        ("sources", "source"),
        ("sensors", "sensor"),
        ("heat_sources", "heat source"),
    ):
        first: dict[str, int] = {}
        for i, ident in identified(key):
            if ident in first:
                problems.append((f"{key}[{i}].id", f"duplicate {what} id(s): {ident}"))
            else:
                first[ident] = i
    source_ids = sorted({ident for _, ident in identified("sources")})
    sensors = data.get("sensors")
    for i, sensor in enumerate(sensors if isinstance(sensors, list) else []):
        if not isinstance(sensor, Mapping):
            continue
        source_id = sensor.get("source_id")
        if source_id is not None and source_id not in source_ids:
            problems.append(
                (
                    f"sensors[{i}].source_id",
                    f"sensor {sensor.get('id')!r} names source {source_id!r}, "
                    "which is not one of this MBA's sources "
                    f"({', '.join(source_ids) or 'none'})",
                )
            )
    return problems
