"""Sensor networks that belong to no MBA (public e-noses, weather stations), from YAML.

The Rijnmond e-nose network has over 250 public e-noses next to the ones on company
sites. A network file lists such sensors; their MQTT topics use the network id where
an MBA's would use the MBA id (``vth/<network_id>/<sensor_id>``). Network detectors
see the sensors of every network and MBA together, with the emission points of all
MBA profiles as candidate sources (:func:`network_of`).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field, model_validator

from vth.models.profile import (
    Identifier,
    MbaProfile,
    Sensor,
    Source,
    _Model,
    reference_problems,
)
from vth.sensing.network import EmissionPoint, Network


class SensorNetwork(_Model):
    """A public sensor network: e-noses and weather stations with their locations."""

    id: Identifier
    name: str = Field(min_length=1)
    operator: str = Field(min_length=1)
    sensors: list[Sensor] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_located_sensors(self) -> SensorNetwork:
        problems = reference_problems({"sensors": [{"id": s.id} for s in self.sensors]})
        problems += [
            (f"sensors[{i}].location", f"network sensor {s.id!r} needs a location")
            for i, s in enumerate(self.sensors)
            if s.location is None
        ]
        if problems:
            raise ValueError("; ".join(f"{path}: {reason}" for path, reason in problems))
        return self

    def sensor(self, sensor_id: str) -> Sensor | None:
        """The sensor with this id, if any."""
        return next((s for s in self.sensors if s.id == sensor_id), None)

    def source(self, source_id: str) -> Source | None:
        """Networks have no sources (the same interface as :class:`MbaProfile`)."""
        return None


def emission_points(profiles: Iterable[MbaProfile]) -> tuple[EmissionPoint, ...]:
    """Every source of every MBA as a candidate emission point.

    A source without a location stands at its MBA's location; an MBA without sources
    is one emission point at its location.
    """
    points = []
    for profile in profiles:
        for source in profile.sources:
            where = source.location or profile.location
            points.append(
                EmissionPoint(profile.id, source.id, where.lat, where.lon, source.kind, source.name)
            )
        if not profile.sources:
            points.append(
                EmissionPoint(profile.id, None, profile.location.lat, profile.location.lon)
            )
    return tuple(points)


def network_of(
    profiles: dict[str, MbaProfile], networks: dict[str, SensorNetwork] | None = None
) -> Network:
    """The network the network detectors run on: all sensors, all MBAs' emission points.

    Its id (the identity of network incidents) is the network's id when there is one
    network file, ``"network"`` otherwise.
    """
    networks = networks or {}
    network_id = next(iter(networks)) if len(networks) == 1 else "network"
    return Network(network_id, emission_points(profiles.values()))
