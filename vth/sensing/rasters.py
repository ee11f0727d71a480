"""Raster scenes: satellite and drone images as ``(band, y, x)`` DataArrays with a CRS.

A scene is an :class:`xarray.DataArray` with dims ``(band, y, x)``; the ``band``
coordinate holds band *roles* (``thermal``, ``mir``, ``swir16``, ``swir22``, ...), not
sensor band numbers, so detectors ask for what they need by meaning. The CRS and
transform are rioxarray's (``scene.rio.crs``); nodata is NaN. Attributes:

``time``
    Acquisition time, ISO-8601 UTC.
``platform``
    Satellite, aircraft or drone (``sentinel-2a``, ``landsat-8``, ``drone-12``).
``scene_id``
    Identifier of the scene (STAC item id, file name or message digest).
``units``
    Per band, ``role=unit`` pairs joined by ``;`` (``thermal=K;swir16=1``).

Other attributes carry viewing geometry and weather when known (``sun_zenith``,
``view_zenith``, ``wind_speed_10m``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import rasterio.crs
import rasterio.warp
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling

from vth.sensing.errors import RasterError

DIMS = ("band", "y", "x")
#: The Dutch national grid, the local grid of MBAs in the Netherlands.
RD_NEW = "EPSG:28992"

#: Names seen in GeoTIFF band descriptions, STAC ``eo:bands`` and asset keys, by role.
ROLE_ALIASES: dict[str, str] = {
    # thermal infrared, ~11 µm: brightness or surface temperature (K)
    "thermal": "thermal",
    "tir": "thermal",
    "lwir": "thermal",
    "lwir11": "thermal",
    "t11": "thermal",
    "bt": "thermal",
    "brightness_temperature": "thermal",
    "lst": "thermal",
    "surface_temperature": "thermal",
    "st_b10": "thermal",
    # mid infrared, ~4 µm (MODIS band 21/22, VIIRS I4/M13)
    "mir": "mir",
    "mwir": "mir",
    "t4": "mir",
    # shortwave infrared (Sentinel-2 B11/B12, Landsat 8 B6/B7)
    "swir16": "swir16",
    "swir1": "swir16",
    "b11": "swir16",
    "swir22": "swir22",
    "swir2": "swir22",
    "b12": "swir22",
    "nir": "nir",
    "nir08": "nir",
    "b8a": "nir",
    "b08": "nir",
    "red": "red",
    "b04": "red",
    "green": "green",
    "b03": "green",
    "blue": "blue",
    "b02": "blue",
}


def band_role(name: str | None) -> str | None:
    """The role of a band named ``name`` (``"B11"`` -> ``"swir16"``), or None when unknown."""
    if not isinstance(name, str) or not name:
        return None
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    if key in ROLE_ALIASES:
        return ROLE_ALIASES[key]
    if key.startswith("b") and key[1:].isdigit():  # B8 and B08 are the same band
        return ROLE_ALIASES.get(f"b{int(key[1:]):02d}")
    return None


@dataclass(frozen=True)
class Region:
    """An area of interest: a circle around a point, e.g. an MBA and its heat sources.

    Attributes
    ----------
    name
        Whose area it is (an MBA id).
    lat, lon
        Centre, WGS84.
    radius_m
        Radius in metres.
    """

    name: str
    lat: float
    lon: float
    radius_m: float


def make_scene(
    values: np.ndarray,
    *,
    bands: Sequence[str],
    transform: Affine,
    crs: Any,
    time: datetime | str,
    platform: str = "unknown",
    scene_id: str = "",
    units: Mapping[str, str] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Build a scene from an array of shape ``(band, y, x)`` and its georeference.

    ``transform`` may be rotated; such scenes have no ``x``/``y`` coordinates until
    :func:`to_local_grid` reprojects them to a north-up grid.

    Raises
    ------
    RasterError
        When the shape, band names or CRS are not usable.
    """
    array = np.asarray(values)
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3:
        raise RasterError(f"a scene needs (band, y, x) values, got {array.ndim} dimension(s)")
    if len(bands) != array.shape[0]:
        raise RasterError(f"{array.shape[0]} band(s) in the data but {len(bands)} band name(s)")
    if len(set(bands)) != len(bands):
        raise RasterError(f"band roles must be unique, got {list(bands)}")
    if array.shape[1] == 0 or array.shape[2] == 0:
        raise RasterError("the scene has no pixels")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    try:
        crs_obj = CRS.from_user_input(crs)
    except Exception as exc:
        raise RasterError(f"unusable CRS {crs!r}: {exc}") from None
    coords: dict[str, Any] = {"band": list(bands)}
    if _rectilinear(transform):
        ny, nx = array.shape[1:]
        coords["x"] = transform.c + transform.a * (np.arange(nx) + 0.5)
        coords["y"] = transform.f + transform.e * (np.arange(ny) + 0.5)
    scene = xr.DataArray(array, dims=DIMS, coords=coords)
    scene = scene.rio.write_crs(crs_obj.to_wkt()).rio.write_transform(transform)
    assert isinstance(scene, xr.DataArray)
    scene.attrs.update(dict(attrs or {}))
    scene.attrs.update(
        time=_iso(time),
        platform=platform,
        scene_id=scene_id,
        units=";".join(f"{b}={(units or {}).get(b, '')}" for b in bands),
    )
    return scene


def _iso(time: datetime | str) -> str:
    if isinstance(time, str):
        time = parse_time(time)
    if time.tzinfo is None:
        raise RasterError(f"scene time {time.isoformat()} has no time zone")
    return time.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse a scene time: ISO-8601, or TIFF's ``YYYY:MM:DD HH:MM:SS`` (taken as UTC)."""
    value = text.strip()
    if len(value) >= 19 and value[4] == ":" and value[7] == ":":
        value = f"{value[:4]}-{value[5:7]}-{value[8:10]}T{value[11:19]}"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RasterError(f"scene time {text!r} is not ISO-8601 or YYYY:MM:DD HH:MM:SS") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _rectilinear(transform: Affine) -> bool:
    return transform.b == 0 and transform.d == 0 and transform.a > 0 and transform.e < 0


def scene_time(scene: xr.DataArray) -> datetime:
    """Acquisition time of a scene (UTC)."""
    text = scene.attrs.get("time")
    if not text:
        raise RasterError("the scene has no acquisition time (attribute 'time')")
    return parse_time(str(text))


def band_units(scene: xr.DataArray) -> dict[str, str]:
    """Unit of each band role, from the ``units`` attribute."""
    pairs = (p.split("=", 1) for p in str(scene.attrs.get("units", "")).split(";") if "=" in p)
    return {role: unit for role, unit in pairs}


def band(scene: xr.DataArray, role: str) -> xr.DataArray:
    """The ``(y, x)`` band of a role.

    Raises
    ------
    RasterError
        When the scene has no band of that role; the message lists those it has.
    """
    roles = [str(b) for b in scene["band"].values]
    if role not in roles:
        raise RasterError(
            f"scene {scene.attrs.get('scene_id') or '?'} has no {role!r} band "
            f"(it has: {', '.join(roles) or 'none'})"
        )
    return scene.sel(band=role)


def has_bands(scene: xr.DataArray, roles: Iterable[str]) -> bool:
    """Whether the scene has a band of every role."""
    present = {str(b) for b in scene["band"].values}
    return all(r in present for r in roles)


def pixel_side(transform: Affine) -> float:
    """Side of a transform's (square-equivalent, possibly rotated) pixel, in CRS units."""
    t = transform
    return math.sqrt(abs(t.a * t.e - t.b * t.d))


def pixel_size_m(scene: xr.DataArray) -> float:
    """Side of a (square-equivalent) pixel in metres; the CRS must be projected in metres."""
    crs = CRS.from_user_input(scene.rio.crs)
    if not crs.is_projected:
        raise RasterError(f"scene CRS {crs.to_string()} is not projected; reproject it first")
    return pixel_side(scene.rio.transform())


def pixel_area_m2(scene: xr.DataArray) -> float:
    """Area of one pixel in square metres."""
    return pixel_size_m(scene) ** 2


def _transform(src: Any, dst: Any, xs: Any, ys: Any) -> tuple[np.ndarray, np.ndarray]:
    """Points from one CRS to another with GDAL, as the warps do.

    GDAL rather than pyproj, so points and warped pixels agree even for CRSs whose
    datum PROJ does not know (a bare ``+ellps``); traditional x=lon, y=lat order.
    Points that cannot be transformed come back as inf.
    """
    shape = np.shape(xs)
    x = np.atleast_1d(np.asarray(xs, dtype=float)).ravel()
    y = np.atleast_1d(np.asarray(ys, dtype=float)).ravel()
    try:
        tx, ty = rasterio.warp.transform(src, dst, x, y)
    except Exception as exc:  # GDAL refuses the CRS pair (e.g. an engineering CRS)
        raise RasterError(f"cannot transform points into {dst}: {exc}") from None
    return np.asarray(tx, float).reshape(shape), np.asarray(ty, float).reshape(shape)


def lonlat_to_xy(scene: xr.DataArray, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Scene CRS coordinates of WGS84 points."""
    return _transform(_WGS84, scene.rio.crs, lon, lat)


def xy_to_lonlat(scene: xr.DataArray, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 longitudes and latitudes of scene CRS coordinates."""
    return _transform(scene.rio.crs, _WGS84, x, y)


_WGS84 = rasterio.crs.CRS.from_epsg(4326)


def pixel_xy(scene: xr.DataArray, rows: Any, cols: Any) -> tuple[np.ndarray, np.ndarray]:
    """Scene CRS coordinates of pixel centres given (fractional) rows and columns."""
    t = scene.rio.transform()
    c = np.asarray(cols, float) + 0.5
    r = np.asarray(rows, float) + 0.5
    return t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f


def to_local_grid(
    scene: xr.DataArray,
    crs: Any = RD_NEW,
    resolution: float | None = None,
    resampling: Resampling = Resampling.nearest,
) -> xr.DataArray:
    """The scene on a north-up grid in ``crs`` (the MBA's local grid, RD New by default).

    A scene already north-up in ``crs`` (at the requested resolution) is returned as is.
    Rotated grids and other CRSs (UTM, WGS84, odd local ones) are warped with GDAL.
    Nearest-neighbour resampling is the default so hot pixels keep their temperature.

    Raises
    ------
    RasterError
        When the scene cannot be brought into ``crs`` (no CRS, outside its area).
    """
    if scene.rio.crs is None:
        raise RasterError("the scene has no CRS; cannot place it on a map")
    dst_crs = CRS.from_user_input(crs)
    src_crs = CRS.from_user_input(scene.rio.crs)
    src_t = scene.rio.transform()
    same_grid = src_crs == dst_crs and _rectilinear(src_t) and "x" in scene.coords
    if same_grid and resolution in (None, abs(src_t.a)):
        return scene
    ny, nx = scene.sizes["y"], scene.sizes["x"]
    # pixel-edge outline of the source, densified, in the destination CRS
    edge = np.linspace(0, 1, 21)
    cols = np.concatenate([edge * nx, np.full(21, nx), edge[::-1] * nx, np.zeros(21)])
    rows = np.concatenate([np.zeros(21), edge * ny, np.full(21, ny), edge[::-1] * ny])
    xs = src_t.a * cols + src_t.b * rows + src_t.c
    ys = src_t.d * cols + src_t.e * rows + src_t.f
    try:
        dx, dy = rasterio.warp.transform(src_crs, dst_crs, xs, ys)
    except Exception as exc:
        raise RasterError(
            f"cannot transform the scene from {src_crs} to {dst_crs}: {exc}"
        ) from None
    dx_a, dy_a = np.asarray(dx), np.asarray(dy)
    if not (np.isfinite(dx_a).all() and np.isfinite(dy_a).all()):
        raise RasterError(f"the scene lies (partly) outside the area of {dst_crs.to_string()}")
    left, right, bottom, top = dx_a.min(), dx_a.max(), dy_a.min(), dy_a.max()
    if resolution is None:
        if src_crs.is_projected and dst_crs.is_projected:  # metres to metres: same pixel size
            resolution = _round_resolution(pixel_side(src_t))
        else:  # degrees involved: the shorter pixel side at the centre, so none is skipped
            cc, rc = nx / 2, ny / 2
            corner_cols = np.array([cc, cc + 1, cc])
            corner_rows = np.array([rc, rc, rc + 1])
            px = src_t.a * corner_cols + src_t.b * corner_rows + src_t.c
            py = src_t.d * corner_cols + src_t.e * corner_rows + src_t.f
            qx, qy = _transform(src_crs, dst_crs, px, py)
            resolution = float(
                min(np.hypot(qx[1] - qx[0], qy[1] - qy[0]), np.hypot(qx[2] - qx[0], qy[2] - qy[0]))
            )
            if dst_crs.is_projected:
                resolution = _round_resolution(resolution)
    width = max(1, math.ceil((right - left) / resolution))
    height = max(1, math.ceil((top - bottom) / resolution))
    dst_t = Affine(resolution, 0, left, 0, -resolution, top)
    src = np.asarray(scene.values, dtype=np.float32)
    out = np.full((src.shape[0], height, width), np.nan, dtype=np.float32)
    rasterio.warp.reproject(
        source=src,
        destination=out,
        src_transform=src_t,
        src_crs=src_crs,
        src_nodata=np.nan,
        dst_transform=dst_t,
        dst_crs=dst_crs,
        dst_nodata=np.nan,
        resampling=resampling,
    )
    return make_scene(
        out,
        bands=[str(b) for b in scene["band"].values],
        transform=dst_t,
        crs=dst_crs,
        time=scene.attrs["time"],
        platform=scene.attrs.get("platform", "unknown"),
        scene_id=scene.attrs.get("scene_id", ""),
        units=band_units(scene),
        attrs={k: v for k, v in scene.attrs.items() if k not in CORE_ATTRS},
    )


#: Attributes every scene has (or rioxarray adds); the others are extras to carry along.
CORE_ATTRS = frozenset({"time", "platform", "scene_id", "units", "_FillValue"})


def _round_resolution(value: float) -> float:
    """Round a metre resolution to 3 significant digits (29.9997 m -> 30 m)."""
    if value <= 0:
        return value
    digits = 2 - math.floor(math.log10(value))
    return round(value, digits)


def region_window(
    transform: Affine,
    shape: tuple[int, int],
    crs: Any,
    region: Region,
    margin_px: int = 0,
) -> tuple[slice, slice] | None:
    """Rows and columns of a raster that cover a region (plus a margin of pixels).

    Works for rotated transforms and any CRS. Returns None when the region misses the
    raster.
    """
    # the circle's bounding box in the raster CRS, from its centre and points on its rim
    # (metres on the local tangent plane converted through WGS84, right for any CRS)
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    dlat = region.radius_m / 111_320.0 * np.sin(angles)
    dlon = region.radius_m / (111_320.0 * max(math.cos(math.radians(region.lat)), 1e-6))
    xs, ys = _transform(
        _WGS84,
        crs,
        np.concatenate([[region.lon], region.lon + dlon * np.cos(angles)]),
        np.concatenate([[region.lat], region.lat + dlat]),
    )
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        return None
    inverse = ~transform
    cols, rows = inverse @ (xs, ys)
    r0 = math.floor(np.min(rows)) - margin_px
    r1 = math.ceil(np.max(rows)) + margin_px
    c0 = math.floor(np.min(cols)) - margin_px
    c1 = math.ceil(np.max(cols)) + margin_px
    r0, c0 = max(r0, 0), max(c0, 0)
    r1, c1 = min(r1, shape[0]), min(c1, shape[1])
    if r0 >= r1 or c0 >= c1:
        return None
    return slice(r0, r1), slice(c0, c1)


def window_transform(transform: Affine, rows: slice, cols: slice) -> Affine:
    """The transform of a window of a raster."""
    return transform @ Affine.translation(cols.start or 0, rows.start or 0)
