"""Hot spots: anomalous pixels clustered into objects, judged against permitted heat sources."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr
from matplotlib.path import Path as PolygonPath
from scipy import ndimage

from vth.detectors.heat.contextual import scene_level
from vth.models.profile import HeatSource, MbaProfile
from vth.sensing.rasters import lonlat_to_xy, pixel_size_m, pixel_xy, xy_to_lonlat

Verdict = Literal["unpermitted", "above_permit", "permitted", "off_site"]
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class HotSpot:
    """A connected group of anomalous pixels.

    Attributes
    ----------
    x, y
        Centroid weighted by excess temperature, in the scene CRS.
    lat, lon
        The same in WGS84.
    peak_k
        Hottest pixel (K).
    background_k
        Mean background temperature of its pixels' windows (K).
    pixels, area_m2
        Size.
    """

    x: float
    y: float
    lat: float
    lon: float
    peak_k: float
    background_k: float
    pixels: int
    area_m2: float

    @property
    def excess_k(self) -> float:
        """Peak above the background."""
        return self.peak_k - self.background_k


@dataclass(frozen=True)
class Judgement:
    """A hot spot compared with the MBA's permit."""

    spot: HotSpot
    verdict: Verdict
    source: HeatSource | None
    distance_m: float | None
    reason: str


def cluster(
    scene: xr.DataArray,
    temperature: np.ndarray,
    anomalous: np.ndarray,
    background: np.ndarray,
) -> list[HotSpot]:
    """Group anomalous pixels (8-connected) into hot spots.

    ``background`` holds each anomalous pixel's background mean (NaN where unknown:
    pixels hot enough to pass the absolute test without a usable background window);
    those take the mean of their hot spot's known backgrounds, else of all known ones,
    else the scene level.
    """
    labels, n = ndimage.label(anomalous, structure=_EIGHT)
    if n == 0:
        return []
    rows, cols = np.nonzero(labels)
    which = labels[rows, cols] - 1
    pixels = np.bincount(which, minlength=n)
    peak = np.full(n, -np.inf)
    np.maximum.at(peak, which, temperature[rows, cols])  # only the few hot pixels, no sort
    bg_values = background[rows, cols]
    finite = np.isfinite(bg_values)
    bg_sum = np.bincount(which[finite], weights=bg_values[finite], minlength=n)
    bg_n = np.bincount(which[finite], minlength=n)
    known = background[np.isfinite(background)]
    fallback = float(np.median(known)) if known.size else scene_level(temperature)
    bg = np.where(bg_n > 0, bg_sum / np.maximum(bg_n, 1), fallback)
    excess = temperature[rows, cols] - np.where(finite, bg_values, bg[which])
    weight = np.where(np.isfinite(excess), np.maximum(excess, 1e-3), 1e-3)
    wsum = np.bincount(which, weights=weight, minlength=n)
    crow = np.bincount(which, weights=weight * rows, minlength=n) / wsum
    ccol = np.bincount(which, weights=weight * cols, minlength=n) / wsum
    x, y = pixel_xy(scene, crow, ccol)
    lon, lat = xy_to_lonlat(scene, x, y)
    area = pixel_size_m(scene) ** 2
    return [
        HotSpot(
            x=float(x[i]),
            y=float(y[i]),
            lat=float(lat[i]),
            lon=float(lon[i]),
            peak_k=float(peak[i]),
            background_k=float(bg[i]),
            pixels=int(pixels[i]),
            area_m2=float(pixels[i] * area),
        )
        for i in range(n)
    ]


def judge(
    spots: list[HotSpot],
    scene: xr.DataArray,
    profile: MbaProfile,
    site_radius_m: float,
    tolerance_m: float,
) -> list[Judgement]:
    """Compare hot spots with the profile's permitted heat sources.

    A hot spot within ``radius_m + tolerance_m`` of a permitted source is that source:
    ``permitted`` when its peak is within the source's maximum temperature, otherwise
    ``above_permit``. Other hot spots on the site (the footprint polygon, or within
    ``site_radius_m`` of the MBA's location) are ``unpermitted``; hot spots beyond the
    site are ``off_site`` (another MBA's business).
    """
    if not spots:
        return []
    sx, sy = (
        lonlat_to_xy(
            scene,
            [h.location.lon for h in profile.heat_sources],
            [h.location.lat for h in profile.heat_sources],
        )
        if profile.heat_sources
        else (np.empty(0), np.empty(0))
    )
    on_site = _site_test(scene, profile, site_radius_m)
    out = []
    for spot in spots:
        distances = np.hypot(sx - spot.x, sy - spot.y)
        radii = np.array([h.radius_m for h in profile.heat_sources]) + tolerance_m
        inside = np.nonzero(distances <= radii)[0]
        if inside.size:
            k = int(inside[np.argmin(distances[inside])])
            source = profile.heat_sources[k]
            d = float(distances[k])
            if spot.peak_k > source.max_temperature_k:
                out.append(
                    Judgement(
                        spot,
                        "above_permit",
                        source,
                        d,
                        f"{spot.peak_k:.0f} K at permitted heat source {source.id} "
                        f"({d:.0f} m from it), above its maximum of "
                        f"{source.max_temperature_k:.0f} K",
                    )
                )
            else:
                out.append(
                    Judgement(
                        spot,
                        "permitted",
                        source,
                        d,
                        f"{spot.peak_k:.0f} K at permitted heat source {source.id}, within its "
                        f"maximum of {source.max_temperature_k:.0f} K",
                    )
                )
            continue
        nearest = int(np.argmin(distances)) if distances.size else None
        near_text = (
            f"; nearest permitted heat source {profile.heat_sources[nearest].id} is "
            f"{distances[nearest]:.0f} m away (radius {profile.heat_sources[nearest].radius_m:g} m)"
            if nearest is not None
            else "; the permit has no heat sources"
        )
        if not on_site(spot.x, spot.y):
            out.append(
                Judgement(spot, "off_site", None, None, "outside the MBA's site" + near_text)
            )
            continue
        out.append(
            Judgement(
                spot,
                "unpermitted",
                None,
                float(distances[nearest]) if nearest is not None else None,
                f"{spot.peak_k:.0f} K hot spot ({spot.excess_k:.0f} K above its background, "
                f"{spot.area_m2:.0f} m²) where no heat source is permitted" + near_text,
            )
        )
    return out


def _site_test(scene: xr.DataArray, profile: MbaProfile, site_radius_m: float) -> _SiteTest:
    footprint = profile.footprint
    if footprint is not None:
        coordinates: Any = footprint["coordinates"]
        rings = []
        for ring_coordinates in coordinates:  # the outer ring, then holes
            ring = np.asarray(ring_coordinates, dtype=np.float64)
            px, py = lonlat_to_xy(scene, ring[:, 0], ring[:, 1])
            rings.append(PolygonPath(np.column_stack([px, py])))
        return _SiteTest(rings[0], tuple(rings[1:]), None, 0.0, 0.0)
    cx, cy = lonlat_to_xy(scene, profile.location.lon, profile.location.lat)
    return _SiteTest(None, (), site_radius_m, float(cx), float(cy))


@dataclass(frozen=True)
class _SiteTest:
    polygon: PolygonPath | None
    holes: tuple[PolygonPath, ...]
    radius: float | None
    cx: float
    cy: float

    def __call__(self, x: float, y: float) -> bool:
        if self.polygon is not None:
            inside = bool(self.polygon.contains_point((x, y)))
            return inside and not any(h.contains_point((x, y)) for h in self.holes)
        return math.hypot(x - self.cx, y - self.cy) <= (self.radius or 0.0)
