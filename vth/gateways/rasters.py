"""Raster decoders: GeoTIFF bytes or files and STAC Items into scenes.

Scenes are ``(band, y, x)`` DataArrays with a CRS (see :mod:`vth.sensing.rasters`).
Large scenes are read windowed: given the regions of interest (the MBAs, with a margin
of pixels for background windows), only the pixels around them are read, one scene
per region. Band roles come from the band descriptions or tags of a GeoTIFF, from
STAC ``eo:bands`` or asset keys, or are given by the caller (the platform's profile).
Anything unreadable raises :class:`~vth.gateways.errors.RasterDecodeError` naming
the problem, so the gateway can quarantine the message with the reason.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import rasterio
import xarray as xr
from affine import Affine
from pyproj.exceptions import ProjError
from rasterio.io import DatasetReader, MemoryFile

from vth.gateways.errors import RasterDecodeError
from vth.sensing.errors import RasterError
from vth.sensing.rasters import (
    Region,
    band_role,
    make_scene,
    parse_time,
    pixel_side,
    region_window,
    to_local_grid,
    window_transform,
)

#: Errors that malformed input can raise in the libraries below; reported as unreadable.
_UNTRUSTED = (
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    AttributeError,
    UnicodeError,
    RecursionError,
    ProjError,
)
#: Scenes (or windows) larger than this many pixels per band are refused.
MAX_PIXELS = 50_000_000
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_TIME_TAGS = ("ACQUISITION_TIME", "DATETIME", "datetime", "TIME", "time", "TIFFTAG_DATETIME")
#: Scene attributes read from GeoTIFF tags (tag name, lower-case) and STAC properties.
_NUMERIC_TAGS = {
    "sun_zenith": "sun_zenith",
    "view_zenith": "view_zenith",
    "wind_speed_10m": "wind_speed_10m",
    "wind_direction_10m": "wind_direction_10m",
}


@dataclass(frozen=True)
class RasterOptions:
    """How to read rasters.

    Attributes
    ----------
    crs
        Local grid to reproject every scene to (RD New for Dutch MBAs); None keeps the
        raster's own grid.
    margin_px
        Pixels read around each region, for the detectors' background windows.
    margin_m
        The margin in metres instead (bands of different resolution read to the same
        extent); overrides ``margin_px`` when set.
    band_roles
        Roles of the bands in file order when the file does not name them (e.g. a
        drone's single-band thermal camera: ``("thermal",)``).
    platform
        Platform name when the raster does not say (the topic's last level).
    default_time
        Acquisition time when the raster carries none (e.g. the receive time of an MQTT
        message); None makes a missing time an error.
    max_pixels
        Refuse to read more than this many pixels per band at once.
    """

    crs: str | None = None
    margin_px: int = 32
    margin_m: float | None = None
    band_roles: Sequence[str] | None = None
    platform: str | None = None
    default_time: datetime | None = None
    max_pixels: int = MAX_PIXELS
    http_timeout_s: float = 60.0
    extra: Mapping[str, Any] = field(default_factory=dict)


def is_geotiff(payload: bytes) -> bool:
    """Whether bytes start like a (Big)TIFF file."""
    return payload[:4] in _TIFF_MAGIC


@contextmanager
def _open(source: bytes | Path) -> Iterator[DatasetReader]:
    try:
        with ExitStack() as stack:
            if isinstance(source, bytes | bytearray):
                if not is_geotiff(bytes(source)):
                    raise RasterDecodeError(
                        "not a GeoTIFF: the bytes do not start with a TIFF header"
                    )
                memfile = stack.enter_context(MemoryFile(bytes(source)))
                dataset = stack.enter_context(memfile.open())
            else:
                dataset = stack.enter_context(rasterio.open(source))
            yield dataset
    except RasterDecodeError:
        raise
    except RasterError as exc:
        raise RasterDecodeError(str(exc)) from None
    except _UNTRUSTED as exc:  # odd bytes or metadata in a file that GDAL could open
        raise RasterDecodeError(f"unreadable GeoTIFF: {type(exc).__name__}: {exc}") from None
    except rasterio.errors.RasterioError as exc:
        where = "" if isinstance(source, bytes | bytearray) else f"{source}: "
        reason = re.sub(r"(/vsimem/)?[0-9a-f-]{36}(\.tif)?: ?", "", str(exc))
        if not isinstance(source, bytes | bytearray):
            reason = reason.replace(f"{source}: ", "").replace(f"{Path(source).name}: ", "")
        raise RasterDecodeError(f"{where}corrupt or unreadable GeoTIFF: {reason}") from None


def read_geotiff(source: bytes | Path, options: RasterOptions | None = None) -> xr.DataArray:
    """Read a whole GeoTIFF (bytes or a file) into one scene.

    Raises
    ------
    RasterDecodeError
        Corrupt file, no CRS, no georeference, no time, too many pixels.
    """
    opts = options or RasterOptions()
    with _open(source) as src:
        return _read_window(src, _file_meta(src, _name(source), opts), None, opts)


def read_geotiff_regions(
    source: bytes | Path, regions: Sequence[Region], options: RasterOptions | None = None
) -> dict[str, xr.DataArray]:
    """Read the windows of a GeoTIFF around each region, one scene per region it covers.

    Regions the raster does not cover are left out; only their pixels are read.
    """
    opts = options or RasterOptions()
    scenes: dict[str, xr.DataArray] = {}
    with _open(source) as src:
        meta = _file_meta(src, _name(source), opts)  # once per file, not per region
        margin = opts.margin_px
        if opts.margin_m is not None:
            margin = math.ceil(opts.margin_m / native_pixel_m(src))
        for region in regions:
            window = region_window(src.transform, (src.height, src.width), src.crs, region, margin)
            if window is not None:
                scenes[region.name] = _read_window(src, meta, window, opts)
    return scenes


def native_pixel_m(src: DatasetReader) -> float:
    """Side of a raster's (square-equivalent) pixel in metres, roughly for geographic CRSs."""
    side = pixel_side(src.transform)
    return side * 111_320.0 if src.crs is not None and src.crs.is_geographic else side


def _name(source: bytes | Path) -> str:
    if isinstance(source, bytes | bytearray):
        return "sha1-" + hashlib.sha1(bytes(source)[:1_000_000]).hexdigest()[:12]
    return Path(source).stem


def _check_georeferenced(src: DatasetReader, name: str) -> None:
    if src.transform == Affine.identity():
        if src.gcps[0]:
            raise RasterDecodeError(
                f"{name}: ground control points only; warp the image first (gdalwarp)"
            )
        raise RasterDecodeError(f"{name}: the GeoTIFF is not georeferenced (no transform)")
    if src.crs is None:
        raise RasterDecodeError(f"{name}: the GeoTIFF has no CRS")


@dataclass(frozen=True)
class _FileMeta:
    """What a GeoTIFF says about itself, the same for every window read from it."""

    name: str
    roles: list[str]
    units: dict[str, str]
    time: datetime
    platform: str
    scene_id: str
    attrs: dict[str, Any]


def _file_meta(src: DatasetReader, name: str, opts: RasterOptions) -> _FileMeta:
    """Check a GeoTIFF's georeference and read its band roles, units, time and tags."""
    _check_georeferenced(src, name)
    roles = _roles(src, name, opts)
    tags = src.tags()
    try:
        time = _time(tags, name, opts)
    except RasterError as exc:
        raise RasterDecodeError(f"{name}: {exc}") from None
    return _FileMeta(
        name=name,
        roles=roles,
        units={
            role: (src.units[i] or src.tags(i + 1).get("units", "") or "")
            for i, role in enumerate(roles)
        },
        time=time,
        platform=tags.get("PLATFORM") or opts.platform or "unknown",
        scene_id=tags.get("SCENE_ID") or name,
        attrs={**_numeric_attrs(tags), **opts.extra},
    )


def _read_window(
    src: DatasetReader, meta: _FileMeta, window: tuple[slice, slice] | None, opts: RasterOptions
) -> xr.DataArray:
    name = meta.name
    rows, cols = window if window is not None else (slice(0, src.height), slice(0, src.width))
    n = (rows.stop - rows.start) * (cols.stop - cols.start)
    if n > opts.max_pixels:
        raise RasterDecodeError(
            f"{name}: {n} pixels per band to read, more than the limit of {opts.max_pixels}; "
            "read it windowed around the MBAs of interest"
        )
    try:
        data = src.read(
            window=rasterio.windows.Window.from_slices(rows, cols), masked=True, out_dtype="float32"
        )
    except rasterio.errors.RasterioError as exc:
        raise RasterDecodeError(f"{name}: corrupt GeoTIFF, cannot read its pixels: {exc}") from None
    values = np.ma.filled(data.astype(np.float32), np.nan)
    values[~np.isfinite(values)] = np.nan
    scales = np.asarray(src.scales, dtype=np.float32)
    offsets = np.asarray(src.offsets, dtype=np.float32)
    if np.any(scales != 1) or np.any(offsets != 0):
        values = values * scales[:, None, None] + offsets[:, None, None]
    try:
        scene = make_scene(
            values,
            bands=meta.roles,
            transform=window_transform(src.transform, rows, cols),
            crs=src.crs,
            time=meta.time,
            platform=meta.platform,
            scene_id=meta.scene_id,
            units=meta.units,
            attrs=meta.attrs,
        )
        return to_local_grid(scene, opts.crs) if opts.crs is not None else scene
    except RasterError as exc:
        raise RasterDecodeError(f"{name}: {exc}") from None


def _roles(src: DatasetReader, name: str, opts: RasterOptions) -> list[str]:
    if opts.band_roles is not None:
        if len(opts.band_roles) != src.count:
            raise RasterDecodeError(
                f"{name}: {src.count} band(s) but {len(opts.band_roles)} band role(s) given"
            )
        return list(opts.band_roles)
    roles = []
    for i in range(src.count):
        tags = src.tags(i + 1)
        named = [src.descriptions[i], tags.get("role"), tags.get("ROLE"), tags.get("name")]
        role = next((band_role(n) for n in named if band_role(n)), None)
        roles.append(role or (src.descriptions[i] or f"band{i + 1}").strip().lower())
    if len(set(roles)) != len(roles):
        raise RasterDecodeError(f"{name}: band roles are not unique: {roles}")
    return roles


def _time(tags: Mapping[str, str], name: str, opts: RasterOptions) -> datetime:
    for tag in _TIME_TAGS:
        if tags.get(tag):
            return parse_time(tags[tag])
    if opts.default_time is not None:
        return opts.default_time
    raise RasterDecodeError(
        f"{name}: no acquisition time; set the TIFFTAG_DATETIME or ACQUISITION_TIME tag "
        "(ISO-8601 UTC), or send a STAC Item with properties.datetime"
    )


def _numeric_attrs(tags: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    lowered = {k.lower(): v for k, v in tags.items()}
    for tag, attr in _NUMERIC_TAGS.items():
        value = lowered.get(tag)
        if value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[attr] = number
    return out


# --- STAC Items ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Asset:
    key: str
    href: str
    roles: list[str]


def parse_stac_item(item: Any) -> tuple[dict[str, Any], list[_Asset]]:
    """Check a STAC Item and pick its assets that have known band roles.

    Raises
    ------
    RasterDecodeError
        When it is not a STAC Item, has no time, or no asset with a known band role.
    """
    if not isinstance(item, dict) or item.get("type") != "Feature":
        raise RasterDecodeError("not a STAC Item: expected a JSON object with type 'Feature'")
    if "stac_version" not in item:
        raise RasterDecodeError("not a STAC Item: 'stac_version' is missing")
    properties = item.get("properties")
    if not isinstance(properties, dict):
        raise RasterDecodeError("STAC Item: 'properties' must be an object")
    if not (properties.get("datetime") or properties.get("start_datetime")):
        raise RasterDecodeError("STAC Item: properties.datetime is missing")
    assets = item.get("assets")
    if not isinstance(assets, dict) or not assets:
        raise RasterDecodeError("STAC Item: 'assets' is missing or empty")
    picked = []
    for key, asset in assets.items():
        if not isinstance(asset, dict) or not isinstance(asset.get("href"), str):
            raise RasterDecodeError(f"STAC Item: asset {key!r} has no href")
        bands = asset.get("eo:bands")
        if isinstance(bands, list) and bands:
            roles = [
                (band_role(b.get("common_name")) or band_role(b.get("name")) or "")
                if isinstance(b, dict)
                else ""
                for b in bands
            ]
            if len(bands) == 1 and not roles[0]:
                roles = [band_role(key) or ""]
        else:
            roles = [band_role(key) or ""]
        if any(roles):
            picked.append(
                _Asset(key, asset["href"], [r or f"{key}_{i}" for i, r in enumerate(roles)])
            )
    if not picked:
        raise RasterDecodeError(
            "STAC Item: no asset with a known band role (thermal, mir, swir16/B11, "
            "swir22/B12, ...); name them in eo:bands or by asset key"
        )
    return properties, picked


def _stac_attrs(item: dict[str, Any], properties: dict[str, Any]) -> dict[str, float]:
    attrs: dict[str, float] = {}
    elevation = properties.get("view:sun_elevation")
    if isinstance(elevation, int | float):
        attrs["sun_zenith"] = 90.0 - float(elevation)
    for key in ("view:incidence_angle", "view:off_nadir"):
        value = properties.get(key)
        if isinstance(value, int | float):
            attrs["view_zenith"] = float(value)
            break
    for key in ("wind_speed_10m", "wind_direction_10m"):
        value = properties.get(f"vth:{key}")
        if isinstance(value, int | float):
            attrs[key] = float(value)
    return attrs


def _fetch(href: str, base: Path | None, timeout: float) -> bytes | Path:
    try:
        parsed = urlparse(href)
    except ValueError as exc:
        raise RasterDecodeError(f"STAC asset href {href!r} is not a URL or path: {exc}") from None
    if parsed.scheme in ("http", "https"):
        import httpx

        try:
            response = httpx.get(href, timeout=timeout, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise RasterDecodeError(f"STAC asset {href}: cannot download: {exc}") from None
        return response.content
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
    elif parsed.scheme in ("",) or len(parsed.scheme) == 1:  # a path (or a Windows drive)
        path = Path(href)
        if not path.is_absolute():
            if base is None:
                raise RasterDecodeError(
                    f"STAC asset {href!r} is a relative path, but the item has no location"
                )
            path = base / path
    else:
        raise RasterDecodeError(f"STAC asset {href}: scheme {parsed.scheme!r} is not supported")
    if not path.is_file():
        raise RasterDecodeError(f"STAC asset {href}: file {path} not found")
    return path


def read_stac_item(
    item: Any,
    regions: Sequence[Region] | None = None,
    options: RasterOptions | None = None,
    base: Path | None = None,
) -> dict[str, xr.DataArray]:
    """Read the band assets of a STAC Item into scenes, one per region it covers.

    Without ``regions`` the whole item is read and returned under its id. Assets on
    different grids (e.g. 20 m and 10 m bands) are resampled onto the first asset's grid.
    """
    opts = options or RasterOptions()
    properties, assets = parse_stac_item(item)
    time_text = properties.get("datetime") or properties.get("start_datetime")
    try:
        time = parse_time(str(time_text))
    except RasterError as exc:
        raise RasterDecodeError(f"STAC Item: {exc}") from None
    item_id = str(item.get("id") or "stac-item")
    asset_opts = replace(
        opts,
        platform=str(properties.get("platform") or opts.platform or "unknown"),
        default_time=time,
        extra={**_stac_attrs(item, properties), **opts.extra},
    )
    parts: dict[str, list[xr.DataArray]] = {}
    margin_m = opts.margin_m
    for asset in assets:
        source = _fetch(asset.href, base, opts.http_timeout_s)
        if margin_m is None:  # the first asset's margin, in metres, for all of them
            with _open(source) as src:
                margin_m = opts.margin_px * native_pixel_m(src)
        one = replace(asset_opts, band_roles=asset.roles, margin_m=margin_m)
        try:
            if regions is None:
                scenes = {item_id: read_geotiff(source, one)}
            else:
                scenes = read_geotiff_regions(source, regions, one)
        except RasterDecodeError as exc:
            raise RasterDecodeError(f"STAC asset {asset.key!r}: {exc}") from None
        for name, scene in scenes.items():
            parts.setdefault(name, []).append(scene)
    return {name: _stack(item_id, pieces, time) for name, pieces in parts.items()}


def _stack(item_id: str, pieces: list[xr.DataArray], time: datetime) -> xr.DataArray:
    first = pieces[0]
    aligned = [first]
    for piece in pieces[1:]:
        same = (
            piece.rio.crs == first.rio.crs
            and piece.rio.transform() == first.rio.transform()
            and piece.shape[1:] == first.shape[1:]
        )
        aligned.append(piece if same else piece.rio.reproject_match(first))
    roles = [str(b) for p in aligned for b in p["band"].values]
    if len(set(roles)) != len(roles):
        raise RasterDecodeError(f"STAC Item {item_id}: band roles repeat across assets: {roles}")
    units = {}
    for p in aligned:
        units.update(
            dict(pair.split("=", 1) for pair in p.attrs["units"].split(";") if "=" in pair)
        )
    values = np.concatenate([np.asarray(p.values, dtype=np.float32) for p in aligned])
    attrs = {
        k: v
        for k, v in first.attrs.items()
        if k not in ("time", "platform", "scene_id", "units", "_FillValue")
    }
    return make_scene(
        values,
        bands=roles,
        transform=first.rio.transform(),
        crs=first.rio.crs,
        time=time,
        platform=first.attrs.get("platform", "unknown"),
        scene_id=item_id,
        units=units,
        attrs=attrs,
    )


def decode_raster(
    payload: bytes,
    regions: Sequence[Region] | None,
    options: RasterOptions | None = None,
    base: Path | None = None,
) -> dict[str, xr.DataArray]:
    """Decode a raster message (GeoTIFF bytes or a STAC Item JSON) into scenes per region.

    Raises
    ------
    RasterDecodeError
        When the payload is neither, or cannot be read; the message says why.
    """
    if not payload:
        raise RasterDecodeError("raster message is empty")
    if is_geotiff(payload):
        if regions is None:
            scene = read_geotiff(payload, options)
            return {scene.attrs["scene_id"]: scene}
        return read_geotiff_regions(payload, regions, options)
    try:
        item = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RasterDecodeError(
            "raster message is neither GeoTIFF bytes nor a STAC Item (JSON)"
        ) from None
    except RecursionError:
        raise RasterDecodeError("raster message: JSON nested too deeply") from None
    return read_stac_item(item, regions, options, base)


def read_raster_file(
    path: Path, regions: Sequence[Region] | None, options: RasterOptions | None = None
) -> dict[str, xr.DataArray]:
    """Read a GeoTIFF or STAC Item JSON file into scenes per region (or whole)."""
    if not path.is_file():
        raise RasterDecodeError(f"{path}: no such file")
    if path.suffix.lower() in (".json", ".geojson"):
        try:
            item = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RasterDecodeError(f"{path}: not a STAC Item (invalid JSON: {exc})") from None
        except RecursionError:
            raise RasterDecodeError(f"{path}: JSON nested too deeply") from None
        try:
            return read_stac_item(item, regions, options, base=path.parent)
        except RasterDecodeError as exc:
            raise RasterDecodeError(f"{path}: {exc}") from None
    if regions is None:
        scene = read_geotiff(path, options)
        return {scene.attrs["scene_id"]: scene}
    return read_geotiff_regions(path, regions, options)


RASTER_SUFFIXES = (".tif", ".tiff", ".json")


def is_raster_path(path: Path) -> bool:
    """Whether a path names a raster input (GeoTIFF, or STAC Item JSON) by its suffix."""
    return path.suffix.lower() in RASTER_SUFFIXES
