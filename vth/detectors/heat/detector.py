"""The ``heat`` detector: thermal anomalies in images, checked against permitted heat sources."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from vth.detectors.base import RasterDetector
from vth.detectors.errors import DetectorError
from vth.detectors.heat.contextual import check_windows, contextual_test, scene_level
from vth.detectors.heat.hotspots import Judgement, cluster, judge
from vth.detectors.raster_evidence import scene_summary
from vth.detectors.registry import register
from vth.models.detection import AlertKind, Detection, Severity, severity_for
from vth.models.inventory import ObligationKind
from vth.models.profile import MbaProfile
from vth.sensing.quicklook import Mark, png_base64, quicklook_png
from vth.sensing.rasters import band, band_units, has_bands, lonlat_to_xy, pixel_size_m, scene_time

_CELSIUS = {"c", "degc", "°c", "celsius", "deg_c"}
_KELVIN = {"k", "kelvin", ""}


def temperature_k(scene: xr.DataArray, role: str) -> np.ndarray:
    """A temperature band in kelvin (converted from °C when its unit says so).

    Raises
    ------
    DetectorError
        When the band's unit is not a temperature, or unlabelled values look like °C.
    """
    values = np.asarray(band(scene, role).values, dtype=np.float32)
    unit = band_units(scene).get(role, "").strip().lower()
    if unit in _CELSIUS:
        return values + np.float32(273.15)
    if unit not in _KELVIN:
        raise DetectorError(
            f"band {role!r} has unit {unit!r}; the heat detector needs brightness or surface "
            "temperature in K or °C"
        )
    level = scene_level(values)
    if not unit and math.isfinite(level) and level < 150:
        raise DetectorError(
            f"band {role!r} has no unit and a median of {level:.1f}: that is not a temperature "
            "in K; label the band's unit (K or degC)"
        )
    return values


@register
class HeatAnomalyDetector(RasterDetector):
    """Hot spots in thermal images (MOD14-style contextual test) against permitted heat sources.

    A pixel is a candidate when it is ``candidate_delta`` K above the scene's median
    (or above ``absolute_k``); candidates pass when they exceed the mean of a growing
    background window (``min_window`` to ``max_window`` pixels, at least ``min_valid``
    valid pixels and ``min_valid_fraction`` of the window, other candidates excluded)
    by ``k_mad`` mean absolute deviations and by ``min_excess`` K. With a mid-infrared
    band (``mir``, ~4 µm) as well as ``thermal`` (~11 µm), the MOD14 tests apply: on
    ``mir - thermal`` (``k_mad``, ``min_excess``) and on ``mir`` (``k_mad_mir``).
    Anomalous pixels are clustered (8-connected) into hot spots with peak temperature
    and area, and each is compared with the profile's heat sources: unpermitted ones
    and permitted ones above their maximum temperature are alerted, permitted ones
    within it are recorded.

    Parameters
    ----------
    band, mir_band
        Band roles of the thermal (~11 µm) and optional mid-infrared (~4 µm) band.
    min_window, max_window, min_valid, min_valid_fraction
        The growing background window (DESIGN.md: 3x3 to 21x21, >= 8 and >= 25 %);
        Landsat-style processing uses larger windows, e.g. ``max_window=61``.
    candidate_delta, absolute_k
        Candidate when this far above the scene median (K); anomalous regardless of
        context above ``absolute_k``.
    k_mad, min_excess, k_mad_mir
        The contextual thresholds.
    site_radius_m
        Hot spots within this distance of the MBA's location count as on its site when
        the profile has no footprint polygon.
    match_tolerance_px
        Pixels added to a permitted source's radius when matching (geolocation error).
    quicklook_size_m
        Side of the quicklook picture stored with each alert; 0 stores none.
    """

    name: ClassVar[str] = "heat"
    kind: ClassVar[AlertKind] = "heat_anomaly"
    technologies: ClassVar[tuple[str, ...]] = ("satellite-images", "drones")
    tasks: ClassVar[tuple[str, ...]] = ("supervision", "enforcement", "environmental_monitoring")
    obligations: ClassVar[tuple[ObligationKind, ...]] = ("heat_source",)
    inputs: ClassVar[tuple[str, ...]] = ("raster:thermal", "raster:mir (optional)")
    detection_limit: ClassVar[str] = (
        "hot spots at least 6 K and 3.5 mean absolute deviations above a 3x3-21x21 pixel "
        "background; sub-pixel sources need a larger excess (30 m Landsat, 100 m TIRS, "
        "375 m VIIRS pixels)"
    )

    def __init__(
        self,
        band: str = "thermal",
        mir_band: str = "mir",
        min_window: int = 3,
        max_window: int = 21,
        min_valid: int = 8,
        min_valid_fraction: float = 0.25,
        candidate_delta: float = 10.0,
        absolute_k: float = 360.0,
        k_mad: float = 3.5,
        min_excess: float = 6.0,
        k_mad_mir: float = 3.0,
        site_radius_m: float = 500.0,
        match_tolerance_px: float = 1.0,
        quicklook_size_m: float = 1500.0,
    ) -> None:
        self.band = band
        self.mir_band = mir_band
        self.min_window = min_window
        self.max_window = max_window
        self.min_valid = min_valid
        self.min_valid_fraction = min_valid_fraction
        self.candidate_delta = candidate_delta
        self.absolute_k = absolute_k
        self.k_mad = k_mad
        self.min_excess = min_excess
        self.k_mad_mir = k_mad_mir
        self.site_radius_m = site_radius_m
        self.match_tolerance_px = match_tolerance_px
        self.quicklook_size_m = quicklook_size_m

    def required_bands(self) -> tuple[str, ...]:
        """The thermal band (the mid-infrared one is optional)."""
        return (self.band,)

    def anomalies(self, scene: xr.DataArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Anomalous pixels of a scene: ``(mask, temperature K, background mean K)``.

        The background array holds each tested candidate's background mean (NaN
        elsewhere); the temperature is the ``mir`` band when there is one.
        """
        check_windows(self.min_window, self.max_window)
        window: dict[str, Any] = {
            "min_window": self.min_window,
            "max_window": self.max_window,
            "min_valid": self.min_valid,
            "min_valid_fraction": self.min_valid_fraction,
        }
        thermal = temperature_k(scene, self.band)
        two_band = has_bands(scene, [self.mir_band]) and self.mir_band != self.band
        hot = temperature_k(scene, self.mir_band) if two_band else thermal
        level = scene_level(hot)
        with np.errstate(invalid="ignore"):
            candidates = hot > level + self.candidate_delta
            absolute = hot > self.absolute_k
        candidates |= absolute
        if two_band:
            diff = hot - thermal
            test = contextual_test(
                diff, candidates, k_mad=self.k_mad, min_excess=self.min_excess, **window
            )
            mir_test = contextual_test(
                hot, candidates, k_mad=self.k_mad_mir, min_excess=0.0, **window
            )
            passed = test.anomalous & mir_test.anomalous
            mean = mir_test.mean
        else:
            test = contextual_test(
                hot, candidates, k_mad=self.k_mad, min_excess=self.min_excess, **window
            )
            passed = test.anomalous
            mean = test.mean
        mask = absolute.copy()
        mask[test.rows, test.cols] |= passed
        background = np.full(hot.shape, np.nan, np.float32)
        background[test.rows, test.cols] = mean
        return mask, hot, background

    def judgements(self, scene: xr.DataArray, profile: MbaProfile) -> list[Judgement]:
        """Every hot spot of the scene with its verdict against the profile."""
        mask, temperature, background = self.anomalies(scene)
        spots = cluster(scene, temperature, mask, background)
        tolerance = self.match_tolerance_px * pixel_size_m(scene) * math.sqrt(2)  # diagonals
        return judge(spots, scene, profile, self.site_radius_m, tolerance)

    def _detect(self, scene: xr.DataArray, profile: MbaProfile) -> list[Detection]:
        judgements = self.judgements(scene, profile)
        when = scene_time(scene)
        summary = scene_summary(scene)
        params = self.get_params()
        out = []
        for j in judgements:
            if j.verdict == "off_site":
                continue
            spot = j.spot
            alerted = j.verdict != "permitted"
            evidence: dict[str, Any] = {
                "verdict": j.verdict,
                "reason": j.reason,
                "scene": summary,
                "hot_spot": {
                    "x": round(spot.x, 1),
                    "y": round(spot.y, 1),
                    "crs": summary["crs"],
                    "peak_k": round(spot.peak_k, 2),
                    "background_k": round(spot.background_k, 2),
                    "pixels": spot.pixels,
                    "area_m2": round(spot.area_m2, 1),
                },
                "distance_to_source_m": None if j.distance_m is None else round(j.distance_m, 1),
                "parameters": params,
            }
            if alerted and self.quicklook_size_m > 0:
                evidence["quicklook_png"] = png_base64(self._quicklook(scene, profile, j))
            limit = j.source.max_temperature_k if j.source is not None else None
            severity: Severity
            if j.verdict == "unpermitted":
                severity = "critical" if spot.peak_k > self.absolute_k + 300 else "high"
            elif j.verdict == "above_permit":
                factor = spot.peak_k / limit if limit else None
                severity = max(severity_for(factor), "medium", key=_SEVERITY_ORDER.index)
            else:
                severity = "low"
            out.append(
                Detection(
                    detector=self.name,
                    kind=self.kind,
                    mba_id=profile.id,
                    source_id=j.source.id if j.source is not None else None,
                    start=when,
                    end=when,
                    value=spot.peak_k,
                    limit=limit,
                    unit="K",
                    lat=spot.lat,
                    lon=spot.lon,
                    severity=severity,
                    within_permit=not alerted,
                    key=(
                        f"{profile.id}|{summary['platform']}|{summary['time']}|"
                        f"{spot.x:.0f}|{spot.y:.0f}"
                    ),
                    evidence=evidence,
                )
            )
        return out

    def _quicklook(self, scene: xr.DataArray, profile: MbaProfile, j: Judgement) -> bytes:
        hx, hy = lonlat_to_xy(
            scene,
            [h.location.lon for h in profile.heat_sources],
            [h.location.lat for h in profile.heat_sources],
        )
        marks = [
            Mark(float(x), float(y), h.id, "cyan", h.radius_m)
            for h, x, y in zip(
                profile.heat_sources, np.atleast_1d(hx), np.atleast_1d(hy), strict=True
            )
        ]
        marks.append(Mark(j.spot.x, j.spot.y, f"{j.spot.peak_k:.0f} K", "lime"))
        image = scene.sel(band=self.mir_band if has_bands(scene, [self.mir_band]) else self.band)
        return quicklook_png(
            image,
            (j.spot.x, j.spot.y),
            self.quicklook_size_m / 2,
            marks=marks,
            title=f"{profile.id} {scene.attrs.get('platform', '')} {scene.attrs.get('time', '')}",
            units="K",
        )


_SEVERITY_ORDER: list[Severity] = ["low", "medium", "high", "critical"]
