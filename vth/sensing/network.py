"""Geometry of a sensor network: emission points of MBAs and a local metric projection.

Network detectors (e-nose incidents, source attribution) look at sensors of many MBAs
and public networks at once. Sensor positions travel with the stream dataset (the
``lat``/``lon`` coordinates); the candidate sources come from the MBA profiles as
:class:`EmissionPoint` s. Distances use a local equirectangular projection around the
network's centre, accurate to better than 0.1 % over the 50 km of a port area.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class EmissionPoint:
    """A place an MBA can emit from: a source with a location, or the MBA itself."""

    mba_id: str
    source_id: str | None
    lat: float
    lon: float
    kind: str = "other"
    name: str | None = None

    @property
    def label(self) -> str:
        """``mba/source`` or the MBA id."""
        return f"{self.mba_id}/{self.source_id}" if self.source_id else self.mba_id


@dataclass(frozen=True)
class Network:
    """A sensor network and the emission points its detectors can attribute to.

    Parameters
    ----------
    id
        Identifier, used as the alert identity of network incidents.
    emission_points
        Candidate sources for attribution.
    """

    id: str
    emission_points: tuple[EmissionPoint, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class LocalProjection:
    """Equirectangular projection to metres east (x) and north (y) of an origin."""

    lat0: float
    lon0: float

    @classmethod
    def around(
        cls, lats: Sequence[float] | np.ndarray, lons: Sequence[float] | np.ndarray
    ) -> LocalProjection:
        """A projection centred on the mean of the finite points (0, 0 when none)."""
        lat = np.asarray(lats, dtype=float)
        lon = np.asarray(lons, dtype=float)
        ok = np.isfinite(lat) & np.isfinite(lon)
        if not ok.any():
            return cls(0.0, 0.0)
        return cls(float(lat[ok].mean()), float(lon[ok].mean()))

    def to_xy(
        self, lat: np.ndarray | Sequence[float], lon: np.ndarray | Sequence[float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Metres east and north of the origin."""
        lat_r = np.radians(np.asarray(lat, dtype=float))
        lon_r = np.radians(np.asarray(lon, dtype=float))
        x = EARTH_RADIUS_M * (lon_r - np.radians(self.lon0)) * np.cos(np.radians(self.lat0))
        y = EARTH_RADIUS_M * (lat_r - np.radians(self.lat0))
        return x, y

    def to_latlon(
        self, x: np.ndarray | Sequence[float], y: np.ndarray | Sequence[float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Latitude and longitude of points given in metres east and north."""
        lat = self.lat0 + np.degrees(np.asarray(y, dtype=float) / EARTH_RADIUS_M)
        lon = self.lon0 + np.degrees(
            np.asarray(x, dtype=float) / (EARTH_RADIUS_M * np.cos(np.radians(self.lat0)))
        )
        return lat, lon
