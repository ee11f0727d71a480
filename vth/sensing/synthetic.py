"""Synthetic rasters with known truth: thermal scenes with hot spots, SWIR scenes with plumes.

Used by the tests, the benchmarks and the demo. Scenes are made in any projected CRS
(RD New, UTM, ...) and written as GeoTIFF bytes or files with band descriptions, units
and an acquisition time, as a satellite or drone pipeline would deliver them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import xarray as xr
from affine import Affine
from rasterio.io import MemoryFile
from scipy import ndimage

from vth.sensing.rasters import RD_NEW, band_units, lonlat_to_xy, make_scene

#: Molar mass of methane, kg/mol.
M_CH4 = 0.01604


def _field(rng: np.random.Generator, shape: tuple[int, int], scale_px: float) -> np.ndarray:
    """A smooth random field of unit standard deviation (terrain-like texture)."""
    noise = rng.standard_normal(shape).astype(np.float32)
    smooth = ndimage.gaussian_filter(noise, scale_px, mode="reflect")
    out: np.ndarray = smooth / max(float(smooth.std()), 1e-9)
    return out


def grid_around(
    lat: float, lon: float, size_px: int, pixel_m: float, crs: str = RD_NEW
) -> tuple[Affine, str]:
    """A north-up transform of ``size_px`` square pixels centred on a WGS84 point."""
    probe = make_scene(
        np.zeros((1, 1, 1), np.float32),
        bands=["x"],
        transform=Affine(1, 0, 0, 0, -1, 0),
        crs=crs,
        time="2000-01-01T00:00:00Z",
    )
    x, y = lonlat_to_xy(probe, lon, lat)
    half = size_px * pixel_m / 2
    left = math.floor((float(x) - half) / pixel_m) * pixel_m
    top = math.ceil((float(y) + half) / pixel_m) * pixel_m
    return Affine(pixel_m, 0, left, 0, -pixel_m, top), crs


def thermal_scene(
    transform: Affine,
    shape: tuple[int, int],
    time: datetime | str,
    *,
    crs: str = RD_NEW,
    background_k: float = 285.0,
    texture_k: float = 3.0,
    noise_k: float = 0.5,
    seed: int = 0,
    platform: str = "landsat-9",
    scene_id: str = "synthetic-thermal",
) -> xr.DataArray:
    """A single-band brightness-temperature scene (K) with terrain texture and noise."""
    rng = np.random.default_rng(seed)
    values = (
        background_k
        + texture_k * _field(rng, shape, 6.0)
        + noise_k * rng.standard_normal(shape).astype(np.float32)
    ).astype(np.float32)
    return make_scene(
        values[np.newaxis],
        bands=["thermal"],
        transform=transform,
        crs=crs,
        time=time,
        platform=platform,
        scene_id=scene_id,
        units={"thermal": "K"},
    )


def add_hot_spot(
    scene: xr.DataArray,
    lat: float,
    lon: float,
    peak_k: float,
    radius_px: float = 0.0,
    role: str = "thermal",
) -> xr.DataArray:
    """The scene with a hot spot of ``peak_k`` at (lat, lon).

    The temperature falls off linearly over ``radius_px`` pixels (0: one pixel).
    """
    out = scene.copy(deep=True)
    x, y = lonlat_to_xy(scene, lon, lat)
    col, row = ~scene.rio.transform() @ (float(x), float(y))
    r0, c0 = math.floor(row), math.floor(col)
    values = out.sel(band=role).values
    ny, nx = values.shape
    if not (0 <= r0 < ny and 0 <= c0 < nx):
        raise ValueError(f"hot spot at {lat}, {lon} lies outside the scene")
    reach = math.ceil(radius_px)
    rr, cc = np.mgrid[r0 - reach : r0 + reach + 1, c0 - reach : c0 + reach + 1]
    keep = (rr >= 0) & (rr < ny) & (cc >= 0) & (cc < nx)
    rr, cc = rr[keep], cc[keep]
    d = np.hypot(rr - r0, cc - c0)
    inside = d <= max(radius_px, 0.0)
    base = values[rr[inside], cc[inside]]
    falloff = 1 - d[inside] / (radius_px + 1) if radius_px > 0 else np.ones(inside.sum())
    values[rr[inside], cc[inside]] = np.maximum(base, base + (peak_k - base) * falloff)
    band_index = [str(b) for b in out["band"].values].index(role)
    out.values[band_index] = values
    return out


def write_geotiff(
    scene: xr.DataArray,
    path: Path | None = None,
    *,
    nodata: float | None = -9999.0,
    descriptions: bool = True,
    time_tag: bool = True,
    tags: dict[str, str] | None = None,
    transform: Affine | None = None,
    band_roles: Sequence[str] | None = None,
) -> bytes:
    """Write a scene as a float32 GeoTIFF (to ``path`` and/or return its bytes).

    ``descriptions`` names the bands by role, ``time_tag`` writes the acquisition time
    in ``TIFFTAG_DATETIME``; viewing geometry and wind attributes become tags
    (``SUN_ZENITH``, ``WIND_SPEED_10M``, ...); NaN is written as ``nodata``.
    ``transform`` overrides the scene's (e.g. a rotated one); ``band_roles`` overrides
    the descriptions.
    """
    values = np.asarray(scene.values, dtype=np.float32)
    if nodata is not None:
        values = np.where(np.isfinite(values), values, np.float32(nodata))
    roles = list(band_roles) if band_roles is not None else [str(b) for b in scene["band"].values]
    units = band_units(scene)
    profile = {
        "driver": "GTiff",
        "width": values.shape[2],
        "height": values.shape[1],
        "count": values.shape[0],
        "dtype": "float32",
        "crs": scene.rio.crs,
        "transform": transform or scene.rio.transform(),
        "nodata": nodata,
    }
    all_tags = {
        key.upper(): str(scene.attrs[key])
        for key in ("sun_zenith", "view_zenith", "wind_speed_10m", "wind_direction_10m")
        if key in scene.attrs
    }
    all_tags.update(tags or {})
    if time_tag:
        when = str(scene.attrs["time"]).replace("Z", "")[:19]
        all_tags["TIFFTAG_DATETIME"] = when.replace("-", ":").replace("T", " ")
    with MemoryFile() as memfile:
        with memfile.open(**profile) as dst:
            dst.write(values)
            for i, role in enumerate(roles, start=1):
                if descriptions:
                    dst.set_band_description(i, role)
                unit = units.get(str(scene["band"].values[i - 1]), "")
                if unit:
                    dst.set_band_unit(i, unit)
            if all_tags:
                dst.update_tags(**all_tags)
        data = bytes(memfile.read())
    if path is not None:
        path.write_bytes(data)
    return data


# --- methane ----------------------------------------------------------------------------


def plume_column(
    transform: Affine,
    shape: tuple[int, int],
    source_xy: tuple[float, float],
    rate_kg_h: float,
    wind_speed: float,
    wind_from_deg: float = 270.0,
    seed: int = 0,
    puffiness: float = 0.3,
) -> np.ndarray:
    """Methane column enhancement (mol/m²) of a steady plume from a point source.

    Mass is carried downwind at ``wind_speed`` and spreads crosswind with
    ``sigma_y = 0.11 x (1 + 0.0001 x)^-0.5`` (Briggs rural class C, a daytime overpass),
    so every crosswind section carries ``Q / U``; ``puffiness`` adds turbulent structure
    along the plume.
    """
    ny, nx = shape
    pixel = abs(transform.a)
    cols, rows = np.meshgrid(np.arange(nx) + 0.5, np.arange(ny) + 0.5)
    x = transform.c + transform.a * cols
    y = transform.f + transform.e * rows
    theta = math.radians(wind_from_deg)
    # unit vector the wind blows towards
    ux, uy = -math.sin(theta), -math.cos(theta)
    dx, dy = x - source_xy[0], y - source_xy[1]
    along = dx * ux + dy * uy
    across = -dx * uy + dy * ux
    downwind = np.maximum(along, pixel / 2)
    sigma = np.maximum(0.11 * downwind / np.sqrt(1 + 0.0001 * downwind), pixel / 2)
    q_mol_s = rate_kg_h / 3600 / M_CH4
    column = (
        q_mol_s
        / (wind_speed * math.sqrt(2 * math.pi) * sigma)
        * np.exp(-0.5 * (across / sigma) ** 2)
    )
    column[along < -pixel / 2] = 0.0
    if puffiness > 0:
        rng = np.random.default_rng(seed)
        structure = 1 + puffiness * _field(rng, shape, 2.0)
        column *= np.clip(structure, 0.2, None)
    out: np.ndarray = column.astype(np.float32)
    return out


def swir_scene(
    transform: Affine,
    shape: tuple[int, int],
    time: datetime | str,
    *,
    crs: str = RD_NEW,
    column: np.ndarray | None = None,
    k11: float = 0.004,
    k12: float = 0.040,
    airmass: float = 2.4,
    noise: float = 0.005,
    texture: float = 0.08,
    seed: int = 0,
    surface_seed: int | None = None,
    platform: str = "sentinel-2a",
    scene_id: str = "synthetic-swir",
    attrs: dict[str, float] | None = None,
) -> xr.DataArray:
    """A Sentinel-2-like scene with B11 (``swir16``) and B12 (``swir22``) reflectance.

    The surface (seeded by ``surface_seed``, the same surface on different dates) has
    texture and a band ratio that varies a little; ``column`` (mol/m²) attenuates each
    band by ``exp(-k * airmass * column)``; ``noise`` is the relative pixel noise.
    """
    rng_surface = np.random.default_rng(seed if surface_seed is None else surface_seed)
    rng = np.random.default_rng(seed + 10_000)
    r11 = 0.30 * (1 + texture * _field(rng_surface, shape, 4.0))
    ratio = 0.80 * (1 + 0.01 * _field(rng_surface, shape, 8.0))
    r12 = r11 * ratio
    if column is not None:
        r11 = r11 * np.exp(-k11 * airmass * column)
        r12 = r12 * np.exp(-k12 * airmass * column)
    r11 = r11 * (1 + noise * rng.standard_normal(shape))
    r12 = r12 * (1 + noise * rng.standard_normal(shape))
    return make_scene(
        np.stack([r11, r12]).astype(np.float32),
        bands=["swir16", "swir22"],
        transform=transform,
        crs=crs,
        time=time,
        platform=platform,
        scene_id=scene_id,
        units={"swir16": "1", "swir22": "1"},
        attrs=attrs,
    )
