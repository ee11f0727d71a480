"""MBA profiles: what a permit allows, as pydantic models read from YAML.

One YAML file describes one MBA (milieubelastende activiteit): its sources (stacks,
flares, tanks) with emission limits, its operating hours, its sensors, its permitted
heat sources and its permitted methane emission. See DESIGN.md section 2.
"""

from __future__ import annotations

import re
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


class PercentileRule(_Model):
    """At least ``percentile`` % of the averages over the period must be within the limit."""

    percentile: float = Field(gt=0, le=100)


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
    rule: Literal["all"] | PercentileRule = "all"
    operating_time_only: bool = Field(
        default=False,
        description="Average only samples within the MBA's operating hours.",
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
    def _one_limit_per_substance_and_period(self) -> Source:
        seen: set[tuple[str, str]] = set()
        for limit in self.limits:
            key = (limit.substance, limit.average)
            if key in seen:
                raise ValueError(f"two limits for {limit.substance} over {limit.average}; keep one")
            seen.add(key)
        return self


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
        except (ZoneInfoNotFoundError, ValueError) as exc:
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
