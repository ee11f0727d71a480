"""The ``methane`` detector: Sentinel-2-style methane plumes against the permitted CH4 rate."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from vth.detectors.base import RasterDetector
from vth.detectors.errors import DetectorError
from vth.detectors.plumes.ime import PlumeMask, RateEstimate, ime_rate, mask_plume, rate_for_column
from vth.detectors.plumes.retrieval import K11, K12, airmass, column_enhancement, mbmp, mbsp
from vth.detectors.raster_evidence import scene_summary
from vth.detectors.registry import register
from vth.models.detection import AlertKind, Detection, severity_for
from vth.models.inventory import ObligationKind
from vth.models.profile import MbaProfile
from vth.sensing.quicklook import Mark, png_base64, quicklook_png
from vth.sensing.rasters import (
    band,
    lonlat_to_xy,
    pixel_area_m2,
    pixel_xy,
    scene_time,
    xy_to_lonlat,
)

#: Ids (None: the MBA's own location) and scene x, y of the points a plume may come from.
_Points = tuple[list[str | None], np.ndarray, np.ndarray]

#: What the alert says about what Sentinel-2 can and cannot see (DESIGN.md section 3).
DETECTION_LIMIT = (
    "Sentinel-2 (20 m, bands 11/12) detects methane point sources from about 1-3 t/h "
    "(1000-3000 kg/h) over favourable, homogeneous surfaces (Varon et al. 2021; Gorroño "
    "et al. 2023); smaller emissions are not seen, so an image without a plume does not "
    "show compliance with a lower permitted rate."
)


@register
class MethanePlumeDetector(RasterDetector):
    """Methane plumes in SWIR images (Varon 2021 MBSP/MBMP), rated by IME against the permit.

    Without a reference the single-pass retrieval (MBSP) is used; after ``fit`` on a
    plume-free scene of the same area (another date) the multi-pass one (MBMP). The
    column enhancement is masked by hysteresis thresholds near the MBA's sources and
    the rate estimated as ``Q = U_eff * IME / L``. The wind comes from the scene
    (``wind_speed_10m``, set from STAC properties or a nearby weather station), else
    ``default_wind_speed`` with a larger uncertainty. A plume whose rate exceeds
    ``permitted_ch4_kg_h`` is alerted; one within it is recorded.

    Parameters
    ----------
    k11, k12
        Effective B11/B12 absorption per mol/m² per unit air mass.
    sun_zenith, view_zenith
        Viewing geometry (degrees) when the scene does not carry it.
    k_high, k_low, min_core_pixels
        Plume mask thresholds (robust standard deviations of the smoothed column).
    k_high_single
        ``k_high`` of the single-pass retrieval (no reference): surface structure in
        the B11/B12 ratio makes MBSP columns noisier at plume scales, so a stronger core
        is needed (on synthetic textured surfaces, 3.5 gave 2 false plumes in 40
        plume-free scenes, 4.5 none).
    search_radius_m
        A plume must reach within this distance of the MBA's location or a source.
    default_wind_speed, default_wind_sigma
        10 m wind (m/s) when the scene has none, and its uncertainty.
    wind_sigma
        Uncertainty of a measured 10 m wind.
    u_eff_slope, u_eff_offset
        ``U_eff = slope * U10 + offset`` (Varon et al. 2021 for Sentinel-2).
    method_uncertainty
        Relative spread of the IME method itself.
    quicklook_size_m
        Side of the quicklook stored with each alert; 0 stores none.
    """

    name: ClassVar[str] = "methane"
    kind: ClassVar[AlertKind] = "methane_plume"
    technologies: ClassVar[tuple[str, ...]] = ("satellite-images",)
    tasks: ClassVar[tuple[str, ...]] = ("supervision", "enforcement", "environmental_monitoring")
    obligations: ClassVar[tuple[ObligationKind, ...]] = ("methane",)
    inputs: ClassVar[tuple[str, ...]] = ("raster:swir16 (B11)", "raster:swir22 (B12)")
    detection_limit: ClassVar[str] = "about 1-3 t/h CH4 (Sentinel-2, 20 m; Varon et al. 2021)"

    def __init__(
        self,
        k11: float = K11,
        k12: float = K12,
        sun_zenith: float = 50.0,
        view_zenith: float = 5.0,
        k_high: float = 3.5,
        k_high_single: float = 4.5,
        k_low: float = 1.5,
        min_core_pixels: int = 6,
        search_radius_m: float = 500.0,
        default_wind_speed: float = 5.0,
        default_wind_sigma: float = 2.5,
        wind_sigma: float = 1.0,
        u_eff_slope: float = 0.33,
        u_eff_offset: float = 0.45,
        method_uncertainty: float = 0.3,
        quicklook_size_m: float = 2000.0,
    ) -> None:
        self.k11 = k11
        self.k12 = k12
        self.sun_zenith = sun_zenith
        self.view_zenith = view_zenith
        self.k_high = k_high
        self.k_high_single = k_high_single
        self.k_low = k_low
        self.min_core_pixels = min_core_pixels
        self.search_radius_m = search_radius_m
        self.default_wind_speed = default_wind_speed
        self.default_wind_sigma = default_wind_sigma
        self.wind_sigma = wind_sigma
        self.u_eff_slope = u_eff_slope
        self.u_eff_offset = u_eff_offset
        self.method_uncertainty = method_uncertainty
        self.quicklook_size_m = quicklook_size_m

    def required_bands(self) -> tuple[str, ...]:
        """Sentinel-2 bands 11 and 12."""
        return ("swir16", "swir22")

    def _fit(self, scene: xr.DataArray | None, profile: MbaProfile | None) -> None:
        if scene is not None:  # both SWIR bands must be there
            band(scene, "swir16")
            band(scene, "swir22")
        self.reference_: xr.DataArray | None = scene

    def column(self, scene: xr.DataArray) -> tuple[np.ndarray, str]:
        """Column enhancement (mol/m²) of the scene and the retrieval used (MBSP or MBMP)."""
        r11 = np.asarray(band(scene, "swir16").values, dtype=np.float32)
        r12 = np.asarray(band(scene, "swir22").values, dtype=np.float32)
        reference = getattr(self, "reference_", None)
        if reference is not None:
            same_grid = (
                reference.rio.crs == scene.rio.crs
                and reference.rio.transform() == scene.rio.transform()
                and reference.shape[1:] == scene.shape[1:]
            )
            ref = reference if same_grid else reference.rio.reproject_match(scene)
            ref11 = np.asarray(band(ref, "swir16").values, dtype=np.float32)
            ref12 = np.asarray(band(ref, "swir22").values, dtype=np.float32)
            fraction, method = mbmp(r11, r12, ref11, ref12), "MBMP"
        else:
            fraction, method = mbsp(r11, r12), "MBSP"
        sun = float(scene.attrs.get("sun_zenith", self.sun_zenith))
        view = float(scene.attrs.get("view_zenith", self.view_zenith))
        return column_enhancement(fraction, self.k11, self.k12, airmass(sun, view)), method

    def _points(self, scene: xr.DataArray, profile: MbaProfile) -> _Points:
        """The MBA's location (id None) and located sources, in the scene's CRS."""
        ids: list[str | None] = [None]
        lons, lats = [profile.location.lon], [profile.location.lat]
        for source in profile.sources:
            if source.location is not None:
                ids.append(source.id)
                lons.append(source.location.lon)
                lats.append(source.location.lat)
        x, y = lonlat_to_xy(scene, lons, lats)
        return ids, np.atleast_1d(x), np.atleast_1d(y)

    def plume(self, scene: xr.DataArray, profile: MbaProfile) -> tuple[PlumeMask, str]:
        """The plume mask near the MBA's sources (empty when there is none)."""
        return self._plume(scene, profile, self._points(scene, profile))

    def _core_sigmas(self, method: str) -> float:
        return self.k_high if method == "MBMP" else self.k_high_single

    def _plume(
        self, scene: xr.DataArray, profile: MbaProfile, points: _Points
    ) -> tuple[PlumeMask, str]:
        column, method = self.column(scene)
        _ids, px, py = points
        ny, nx = column.shape
        rows, cols = np.mgrid[0:ny, 0:nx]
        x, y = pixel_xy(scene, rows, cols)
        near = np.zeros(column.shape, dtype=bool)
        for sx, sy in zip(px, py, strict=True):
            near |= np.hypot(x - sx, y - sy) <= self.search_radius_m
        if not near.any():
            raise DetectorError(
                f"the scene does not cover MBA {profile.id} (no pixel within "
                f"{self.search_radius_m:g} m of its location or sources)"
            )
        plume = mask_plume(
            column,
            near,
            k_high=self._core_sigmas(method),
            k_low=self.k_low,
            min_core_pixels=self.min_core_pixels,
        )
        return plume, method

    def _wind(self, scene: xr.DataArray) -> tuple[float, float, str]:
        value = scene.attrs.get("wind_speed_10m")
        if value is not None and math.isfinite(float(value)) and float(value) >= 0:
            return float(value), self.wind_sigma, str(scene.attrs.get("wind_source", "scene"))
        return self.default_wind_speed, self.default_wind_sigma, "default (no wind data)"

    def _detect(self, scene: xr.DataArray, profile: MbaProfile) -> list[Detection]:
        points = self._points(scene, profile)
        plume, method = self._plume(scene, profile, points)
        if plume.pixels == 0:
            return []
        u10, u10_sigma, wind_source = self._wind(scene)
        area = pixel_area_m2(scene)
        rate = ime_rate(
            plume,
            area,
            u10,
            u10_sigma,
            u_eff_slope=self.u_eff_slope,
            u_eff_offset=self.u_eff_offset,
            method_uncertainty=self.method_uncertainty,
        )
        ids, px, py = points
        peak_row, peak_col = np.unravel_index(
            np.nanargmax(np.where(plume.mask, plume.column, -np.inf)), plume.mask.shape
        )
        mx, my = pixel_xy(scene, peak_row, peak_col)
        nearest = plume_origin(scene, plume, ids, px, py)
        lon, lat = xy_to_lonlat(scene, mx, my)
        permitted = profile.permitted_ch4_kg_h
        within = rate.rate_kg_h <= permitted
        limit_now = rate_for_column(
            self._core_sigmas(method) * plume.sigma,
            4 * self.min_core_pixels,
            area,
            u10,
            self.u_eff_slope,
            self.u_eff_offset,
        )
        summary = scene_summary(scene)
        evidence: dict[str, Any] = {
            "verdict": "permitted" if within else "above_permit",
            "reason": self._reason(rate, permitted, within),
            "scene": summary,
            "retrieval": method,
            "reference_scene": (
                getattr(self, "reference_", None).attrs.get("scene_id")  # type: ignore[union-attr]
                if method == "MBMP"
                else None
            ),
            "rate": {
                "rate_kg_h": round(rate.rate_kg_h, 1),
                "sigma_kg_h": round(rate.sigma_kg_h, 1),
                "ime_kg": round(rate.ime_kg, 2),
                "plume_length_m": round(rate.length_m, 1),
                "plume_pixels": plume.pixels,
                "u10_m_s": round(rate.u10, 2),
                "u10_source": wind_source,
                "u_eff_m_s": round(rate.u_eff, 2),
                "relative_uncertainty": rate.relative,
                "assumptions": (
                    "Q = U_eff * IME / L with L = sqrt(plume area) and U_eff = "
                    f"{self.u_eff_slope} * U10 + {self.u_eff_offset} m/s (Varon et al. 2021); "
                    "steady source, plume fully inside the mask, effective B11/B12 "
                    f"absorption k11={self.k11}, k12={self.k12} per mol/m²"
                ),
            },
            "column_sigma_mol_m2": round(plume.sigma, 4),
            "column_max_mol_m2": round(float(np.nanmax(plume.column[plume.mask])), 4),
            "detection_limit": DETECTION_LIMIT,
            "scene_detection_limit_kg_h": round(limit_now, 0),
            "parameters": self.get_params(),
        }
        if not within and self.quicklook_size_m > 0:
            evidence["quicklook_png"] = png_base64(
                self._quicklook(scene, profile, points, plume, float(mx), float(my))
            )
        severity = "high" if permitted == 0 else severity_for(rate.rate_kg_h / permitted)
        return [
            Detection(
                detector=self.name,
                kind=self.kind,
                mba_id=profile.id,
                source_id=ids[nearest],
                substance="CH4",
                start=scene_time(scene),
                end=scene_time(scene),
                value=rate.rate_kg_h,
                limit=permitted,
                unit="kg/h",
                lat=float(lat),
                lon=float(lon),
                severity="low" if within else severity,
                within_permit=within,
                key=f"{profile.id}|{summary['platform']}|{summary['time']}|methane",
                evidence=evidence,
            )
        ]

    def _reason(self, rate: RateEstimate, permitted: float, within: bool) -> str:
        estimate = f"{rate.rate_kg_h:.0f} ± {rate.sigma_kg_h:.0f} kg/h"
        if within:
            return f"methane plume of {estimate}, within the permitted {permitted:g} kg/h"
        if permitted == 0:
            return f"methane plume of {estimate} where the permit allows no methane emission"
        return f"methane plume of {estimate}, above the permitted {permitted:g} kg/h"

    def _quicklook(
        self,
        scene: xr.DataArray,
        profile: MbaProfile,
        points: _Points,
        plume: PlumeMask,
        x: float,
        y: float,
    ) -> bytes:
        image = band(scene, "swir22").copy(data=plume.column)
        ids, px, py = points
        marks = [
            Mark(float(sx), float(sy), i or profile.id, "cyan")
            for i, sx, sy in zip(ids, px, py, strict=True)
        ]
        return quicklook_png(
            image,
            (x, y),
            self.quicklook_size_m / 2,
            marks=marks,
            outline=plume.mask,
            title=f"{profile.id} CH4 column {scene.attrs.get('time', '')}",
            units="mol/m²",
            cmap="viridis",
        )


def plume_origin(
    scene: xr.DataArray,
    plume: PlumeMask,
    ids: list[str | None],
    px: np.ndarray,
    py: np.ndarray,
) -> int:
    """Index of the point (source) a plume comes from.

    A plume starts at its source and spreads downwind, so seen from its source all of
    its mass lies to one side: the mass-weighted mean of the unit vectors from the
    point to the plume pixels is long (near 1), while from a point inside or beside the
    plume it is short. Among the points within 3 pixels of the plume, named sources
    before the MBA's own location, the one with the longest mean vector wins; when no
    point is that close, the nearest one.
    """
    rows, cols = np.nonzero(plume.mask)
    x, y = pixel_xy(scene, rows, cols)
    weight = np.clip(np.nan_to_num(plume.column[rows, cols]), 1e-6, None)
    dx = x[None, :] - px[:, None]
    dy = y[None, :] - py[:, None]
    dist = np.hypot(dx, dy)
    pixel = pixel_xy(scene, 0, 1)[0] - pixel_xy(scene, 0, 0)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        ux = np.where(dist > 0, dx / dist, 0.0)
        uy = np.where(dist > 0, dy / dist, 0.0)
    coherence = np.hypot(ux @ weight, uy @ weight) / weight.sum()
    closest = dist.min(axis=1)
    close = closest <= 3 * abs(float(pixel))
    named = np.array([i is not None for i in ids])
    for eligible in (close & named, close):
        if eligible.any():
            return int(np.flatnonzero(eligible)[np.argmax(coherence[eligible])])
    return int(np.argmin(closest))
