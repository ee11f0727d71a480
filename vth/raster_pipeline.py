"""Detection over raster scenes: the step from images of MBA areas to alerts and records.

Shared by the service (scenes arriving over MQTT) and ``vth detect`` (files). Each
scene is cut around one MBA (see :func:`mba_regions`) and judged by the raster
detectors against that MBA's profile. Detections outside the permit become alerts;
those within it (a permitted flare at its usual temperature, a plume below the
permitted rate) are *records*: kept, not alerted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from sklearn.base import clone

from vth.detectors import RasterDetector, create, get, names
from vth.errors import VthError
from vth.models import Alert, MbaProfile
from vth.models.detection import Detection
from vth.sensing.rasters import Region, has_bands, scene_time

#: Radius around an MBA's location read from a scene, at least (plumes reach downwind).
MIN_REGION_RADIUS_M = 2000.0
#: Weather samples within this time of the scene give its wind.
WIND_WINDOW = np.timedelta64(30, "m")


def raster_detectors(
    selected: list[str] | None = None, params: Mapping[str, Mapping[str, Any]] | None = None
) -> list[RasterDetector]:
    """New instances of the raster detectors: the ``selected`` ones, or all of them.

    ``params`` (detector name -> parameters) configures them.
    """
    params = params or {}
    if selected is None:
        selected = [
            n for n in names() if get(n).scope == "raster" and (get(n).default or n in params)
        ]
    detectors = (create(n, **dict(params.get(n, {}))) for n in selected)
    return [d for d in detectors if isinstance(d, RasterDetector)]


def _distance_m(lat0: float, lon0: float, lat1: float, lon1: float) -> float:
    dy = (lat1 - lat0) * 111_320.0
    dx = (lon1 - lon0) * 111_320.0 * math.cos(math.radians(lat0))
    return math.hypot(dx, dy)


def mba_regions(
    profiles: Mapping[str, MbaProfile], min_radius_m: float = MIN_REGION_RADIUS_M
) -> list[Region]:
    """The area of each MBA to read from scenes: its location, sources and heat sources.

    The radius covers the farthest source or heat source (plus its radius) and 500 m,
    and at least ``min_radius_m`` so methane plumes downwind fit in.
    """
    regions = []
    for profile in profiles.values():
        loc = profile.location
        reach = [
            _distance_m(loc.lat, loc.lon, h.location.lat, h.location.lon) + h.radius_m
            for h in profile.heat_sources
        ]
        reach += [
            _distance_m(loc.lat, loc.lon, s.location.lat, s.location.lon)
            for s in profile.sources
            if s.location is not None
        ]
        radius = max([min_radius_m, *(r + 500.0 for r in reach)])
        regions.append(Region(profile.id, loc.lat, loc.lon, radius))
    return regions


def scene_wind(scene: xr.DataArray, streams: xr.Dataset | None) -> xr.DataArray:
    """The scene with ``wind_speed_10m`` from the MBA's weather stations, when it has none.

    The mean ``wind_speed`` of the weather sensors within 30 minutes of the scene's
    time; the scene is returned unchanged when it already has a wind or none is found.
    """
    if "wind_speed_10m" in scene.attrs or streams is None or "wind_speed" not in streams:
        return scene
    when = np.datetime64(scene_time(scene).replace(tzinfo=None), "ns")
    times = streams["time"].values
    near = np.abs(times - when) <= WIND_WINDOW
    if not near.any():
        return scene
    speed = streams["wind_speed"].isel(time=np.flatnonzero(near))
    values = speed.values[np.isfinite(speed.values)]
    if values.size == 0:
        return scene
    stations = [
        str(s)
        for s, row in zip(streams["sensor"].values, speed.values, strict=True)
        if np.isfinite(row).any()
    ]
    out = scene.copy()
    out.attrs["wind_speed_10m"] = float(values.mean())
    out.attrs["wind_source"] = f"weather station(s) {', '.join(stations)} within 30 min"
    return out


@dataclass
class RasterOutcome:
    """What the raster detectors made of scenes: alerts, records and errors."""

    alerts: list[Alert] = field(default_factory=list)
    records: list[Detection] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Per detector name, whether it found nothing outside the permit (for references).
    clean: dict[str, bool] = field(default_factory=dict)


def run_raster_detectors(
    scene: xr.DataArray,
    profile: MbaProfile,
    detectors: list[RasterDetector],
    references: Mapping[str, xr.DataArray] | None = None,
    streams: xr.Dataset | None = None,
) -> RasterOutcome:
    """Run the raster detectors that have their bands on one scene of one MBA.

    Parameters
    ----------
    scene
        A scene cut around the MBA, on a projected (local) grid.
    profile
        The MBA's permitted profile.
    detectors
        Raster detectors; those whose bands the scene lacks are skipped.
    references
        Per detector name, a reference scene of the same area (e.g. a plume-free date
        for methane); the detector is cloned and fitted on it.
    streams
        The MBA's stream dataset, for the wind at the scene's time.
    """
    outcome = RasterOutcome()
    scene = scene_wind(scene, streams)
    for detector in detectors:
        if not has_bands(scene, detector.required_bands()):
            continue
        reference = (references or {}).get(detector.name)
        try:
            runner = clone(detector).fit(reference, profile) if reference is not None else detector
            detections = runner.detect(scene, profile)
        except VthError as exc:
            outcome.errors.append(
                f"{detector.name} on {profile.id} scene {scene.attrs.get('scene_id', '?')}: {exc}"
            )
            continue
        outcome.clean[detector.name] = not detections
        for d in detections:
            if d.within_permit:
                outcome.records.append(d)
            else:
                outcome.alerts.append(Alert.from_detection(d))
    return outcome
