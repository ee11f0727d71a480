"""Raster decoding: GeoTIFF bytes and files, windowed reads, STAC Items, corrupt input."""

from __future__ import annotations

import functools
import json
import math
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import rasterio.shutil
import xarray as xr
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.control import GroundControlPoint
from rasterio.io import MemoryFile

from vth.gateways.errors import DecodeError, RasterDecodeError
from vth.gateways.rasters import (
    RasterOptions,
    decode_raster,
    is_geotiff,
    is_raster_path,
    read_geotiff,
    read_geotiff_regions,
    read_raster_file,
    read_stac_item,
)
from vth.sensing import synthetic as syn
from vth.sensing.rasters import (
    RD_NEW,
    Region,
    band_units,
    lonlat_to_xy,
    pixel_size_m,
    pixel_xy,
    to_local_grid,
    xy_to_lonlat,
)

T = "2024-06-01T10:30:00Z"
T_TAG = "2024:06:01 10:30:00"
# Rotterdam harbour, where the synthetic scenes are centred
LAT, LON = 51.92, 4.48
RIVM_NO2 = Path("/work/shared/data/rivm-rio-rdnew/2015091611_no2.tif")
TO_RD = RasterOptions(crs=RD_NEW)
TR10 = Affine(10, 0, 90_000, 0, -10, 440_000)


def geotiff(
    data: np.ndarray,
    *,
    crs: Any = RD_NEW,
    transform: Affine | None = TR10,
    nodata: float | None = None,
    descriptions: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
    scales: Sequence[float] | None = None,
    offsets: Sequence[float] | None = None,
    tags: dict[str, str] | None = None,
    band_tags: dict[int, dict[str, str]] | None = None,
    **profile: Any,
) -> bytes:
    """GeoTIFF bytes written with rasterio, with whatever metadata a test needs."""
    settings_: dict[str, Any] = {
        "driver": "GTiff",
        "count": data.shape[0],
        "height": data.shape[1],
        "width": data.shape[2],
        "dtype": data.dtype,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        **profile,
    }
    with MemoryFile() as memfile:
        with memfile.open(**settings_) as dst:
            dst.write(data)
            for i, text in enumerate(descriptions or [], start=1):
                dst.set_band_description(i, text)
            for i, unit in enumerate(units or [], start=1):
                dst.set_band_unit(i, unit)
            if scales is not None:
                dst.scales = tuple(scales)
            if offsets is not None:
                dst.offsets = tuple(offsets)
            if tags:
                dst.update_tags(**tags)
            for i, more in (band_tags or {}).items():
                dst.update_tags(i, **more)
        return bytes(memfile.read())


def only(scenes: dict[str, xr.DataArray]) -> xr.DataArray:
    assert len(scenes) == 1, list(scenes)
    return next(iter(scenes.values()))


def roles(scene: xr.DataArray) -> list[str]:
    return [str(b) for b in scene["band"].values]


def hottest(scene: xr.DataArray, role: str = "thermal") -> tuple[float, float, float]:
    """Scene CRS coordinates and value of the hottest pixel."""
    values = np.asarray(scene.sel(band=role).values)
    row, col = np.unravel_index(int(np.nanargmax(values)), values.shape)
    x, y = pixel_xy(scene, row, col)
    return float(x), float(y), float(values[row, col])


def hot_offset_px(scene: xr.DataArray, lat: float, lon: float) -> float:
    """Distance, in pixels, of the hottest pixel's centre from a WGS84 point."""
    x, y, _ = hottest(scene)
    hx, hy = lonlat_to_xy(scene, lon, lat)
    return math.hypot(x - float(hx), y - float(hy)) / pixel_size_m(scene)


def assert_north_up_rd(scene: xr.DataArray) -> None:
    assert scene.rio.crs.to_epsg() == 28992
    t = scene.rio.transform()
    assert t.b == 0.0
    assert t.d == 0.0
    assert t.a > 0
    assert t.e == -t.a
    assert scene.dims == ("band", "y", "x")
    assert "x" in scene.coords
    assert "y" in scene.coords


# --- synthetic scenes in RD New and UTM ----------------------------------------------------

HOT_LAT, HOT_LON = 51.925, 4.49


@pytest.fixture(params=["EPSG:28992", "EPSG:32631"])
def thermal_tif(request: pytest.FixtureRequest) -> tuple[xr.DataArray, bytes]:
    tr, crs = syn.grid_around(LAT, LON, 200, 30.0, request.param)
    scene = syn.thermal_scene(tr, (200, 200), T, crs=crs, seed=7)
    scene = syn.add_hot_spot(scene, HOT_LAT, HOT_LON, 400.0)
    return scene, syn.write_geotiff(scene)


def test_geotiff_whole_read_keeps_values_grid_and_metadata(
    thermal_tif: tuple[xr.DataArray, bytes],
) -> None:
    scene, data = thermal_tif
    read = read_geotiff(data)
    assert read.shape == (1, 200, 200)
    assert read.rio.crs == scene.rio.crs
    assert read.rio.transform() == scene.rio.transform()
    assert roles(read) == ["thermal"]
    np.testing.assert_array_equal(read.values, scene.values)
    assert read.attrs["time"] == T
    assert read.attrs["units"] == "thermal=K"
    assert read.attrs["platform"] == "unknown"
    assert read.attrs["scene_id"].startswith("sha1-")
    assert only(decode_raster(data, None)).identical(read)


def test_geotiff_read_onto_rd_new_keeps_hot_pixel_place_and_peak(
    thermal_tif: tuple[xr.DataArray, bytes],
) -> None:
    scene, data = thermal_tif
    read = read_geotiff(data, TO_RD)
    assert_north_up_rd(read)
    assert pixel_size_m(read) == pytest.approx(30.0)
    x, y, value = hottest(read)
    assert value == 400.0  # nearest resampling keeps the peak
    # the hot pixel is where it was put, within one pixel on each axis
    hx, hy = lonlat_to_xy(read, HOT_LON, HOT_LAT)
    assert abs(x - float(hx)) <= 30.0
    assert abs(y - float(hy)) <= 30.0
    lon, lat = xy_to_lonlat(read, x, y)
    assert abs(float(lat) - HOT_LAT) * 111_200 <= 30.0
    assert abs(float(lon) - HOT_LON) * 111_200 * math.cos(math.radians(HOT_LAT)) <= 30.0
    # nearest resampling makes no new values
    finite = read.values[np.isfinite(read.values)]
    assert np.isin(finite, scene.values).all()
    if scene.rio.crs.to_epsg() == 28992:  # already on the local grid: not warped
        assert read.rio.transform() == scene.rio.transform()
        assert read.shape == scene.shape


def test_geotiff_read_by_regions(thermal_tif: tuple[xr.DataArray, bytes]) -> None:
    _, data = thermal_tif
    regions = [
        Region("mba-hot", HOT_LAT, HOT_LON, 300.0),
        Region("mba-centre", LAT, LON, 150.0),
        Region("mba-elsewhere", 52.37, 4.90, 300.0),  # Amsterdam: not in the scene
    ]
    scenes = read_geotiff_regions(data, regions, RasterOptions(crs=RD_NEW, margin_px=4))
    assert sorted(scenes) == ["mba-centre", "mba-hot"]
    hot = scenes["mba-hot"]
    assert_north_up_rd(hot)
    # 2 x 10 pixels across the circle, 2 x 4 margin, rounding (and a little warp slack)
    assert 28 <= hot.sizes["y"] <= 32
    assert 28 <= hot.sizes["x"] <= 32
    assert hottest(hot)[2] == 400.0
    assert hot_offset_px(hot, HOT_LAT, HOT_LON) <= math.sqrt(2)
    centre = scenes["mba-centre"]
    assert 18 <= centre.sizes["y"] <= 22
    assert float(np.nanmax(centre.values)) < 300.0  # the hot spot is 800 m away
    assert decode_raster(data, regions, RasterOptions(crs=RD_NEW, margin_px=4)).keys() == {
        "mba-hot",
        "mba-centre",
    }


# --- nodata, scale and offset --------------------------------------------------------------


def test_nodata_pixels_become_nan() -> None:
    values = np.full((1, 4, 5), 290.0, np.float32)
    values[0, 1, 2] = -9999.0
    values[0, 3, 0] = -9999.0
    read = read_geotiff(geotiff(values, nodata=-9999.0, tags={"TIFFTAG_DATETIME": T_TAG}))
    nan = np.isnan(read.values[0])
    assert nan.sum() == 2
    assert nan[1, 2]
    assert nan[3, 0]
    assert (read.values[0][~nan] == 290.0).all()


def test_infinite_values_become_nan() -> None:
    values = np.full((1, 2, 3), 290.0, np.float32)
    values[0, 0, 0] = np.inf
    values[0, 1, 1] = -np.inf
    values[0, 1, 2] = np.nan
    read = read_geotiff(geotiff(values, tags={"TIFFTAG_DATETIME": T_TAG}))
    np.testing.assert_array_equal(
        np.isnan(read.values[0]), [[True, False, False], [False, True, True]]
    )


def test_scale_and_offset_are_applied_after_nodata() -> None:
    raw = (np.arange(12, dtype=np.int16).reshape(1, 3, 4) + 1) * 100
    raw[0, 0, 3] = -1
    data = geotiff(
        raw,
        nodata=-1,
        scales=[0.01],
        offsets=[273.15],
        tags={"TIFFTAG_DATETIME": T_TAG},
    )
    read = read_geotiff(data)
    expected = raw[0].astype(np.float32) * np.float32(0.01) + np.float32(273.15)
    expected[0, 3] = np.nan
    np.testing.assert_allclose(read.values[0], expected, rtol=1e-6)
    assert read.values[0, 0, 0] == pytest.approx(274.15, abs=1e-4)
    assert read.dtype == np.float32


def test_scale_and_offset_per_band() -> None:
    raw = np.stack([np.full((2, 2), 1000, np.uint16), np.full((2, 2), 1000, np.uint16)])
    data = geotiff(
        raw,
        descriptions=["B11", "B12"],
        scales=[0.0001, 1.0],
        offsets=[-0.1, 0.0],
        tags={"TIFFTAG_DATETIME": T_TAG},
    )
    read = read_geotiff(data)
    np.testing.assert_allclose(read.sel(band="swir16").values, 0.0, atol=1e-6)
    np.testing.assert_array_equal(read.sel(band="swir22").values, 1000.0)


# --- rotated transforms and odd CRSs -------------------------------------------------------


def rd_point(lon: float, lat: float) -> tuple[float, float]:
    probe = syn.thermal_scene(Affine(1, 0, 0, 0, -1, 0), (1, 1), T)
    x, y = lonlat_to_xy(probe, lon, lat)
    return float(x), float(y)


def test_rotated_geotiff_is_warped_to_north_up_rd() -> None:
    x0, y0 = rd_point(LON, LAT)
    rotated = Affine.translation(x0 - 3000, y0 + 3000) @ Affine.rotation(15) @ Affine.scale(30, -30)
    scene = syn.add_hot_spot(syn.thermal_scene(rotated, (200, 200), T), LAT, LON, 400.0)
    data = syn.write_geotiff(scene)
    raw = read_geotiff(data)
    assert raw.rio.transform().almost_equals(rotated)
    assert "x" not in raw.coords  # rotated: no north-up coordinates
    read = read_geotiff(data, TO_RD)
    assert_north_up_rd(read)
    assert read.rio.transform().a == 30.0
    assert hottest(read)[2] == 400.0
    assert hot_offset_px(read, LAT, LON) <= 1.5
    # the rotated footprint fits a larger north-up box: corners are NaN
    assert np.isnan(read.values).any()
    assert int(np.isfinite(read.values).sum()) == pytest.approx(200 * 200, rel=0.03)


def test_rotated_geotiff_read_by_region_is_warped_too() -> None:
    x0, y0 = rd_point(LON, LAT)
    rotated = Affine.translation(x0 - 3000, y0 + 3000) @ Affine.rotation(15) @ Affine.scale(30, -30)
    scene = syn.thermal_scene(rotated, (200, 200), T)
    scene = syn.add_hot_spot(scene, LAT, LON, 400.0, radius_px=2)
    data = syn.write_geotiff(scene)
    raw = only(read_geotiff_regions(data, [Region("mba", LAT, LON, 300)]))
    assert 84 <= raw.sizes["x"] <= 87  # 2 x 10 px + 2 x 32 px margin, rotation-free
    assert hottest(raw)[2] == 400.0
    read = only(
        read_geotiff_regions(data, [Region("mba", LAT, LON, 300)], RasterOptions(crs=RD_NEW))
    )
    assert_north_up_rd(read)
    assert read.rio.transform().a == 30.0
    # nearest resampling of a rotated grid may skip the single hottest pixel, not the spot
    assert hottest(read)[2] >= 360.0
    assert hot_offset_px(read, LAT, LON) <= 1.5


@pytest.mark.parametrize(
    ("crs", "pixel", "expected_px_m"),
    [
        ("EPSG:4326", 0.0004, 27.5),  # the shorter pixel side (0.0004 deg of longitude)
        (
            "+proj=omerc +lat_0=51.92 +lonc=4.48 +alpha=30 +gamma=30 +k=1 +x_0=0 +y_0=0 "
            "+datum=WGS84 +units=m +no_defs",
            25.0,
            25.0,
        ),
        (
            "+proj=tmerc +lat_0=51.92 +lon_0=4.48 +k=0.9999 +x_0=1000 +y_0=2000 "
            "+datum=WGS84 +units=m +no_defs",
            25.0,
            25.0,
        ),
    ],
    ids=["wgs84", "oblique-mercator", "rotterdam-tmerc"],
)
@pytest.mark.filterwarnings("ignore:angle from rectified to skew grid parameter lost:UserWarning")
def test_odd_crs_geotiff_is_warped_to_rd_with_hot_pixel_in_place(
    crs: str, pixel: float, expected_px_m: float
) -> None:
    tr, crs = syn.grid_around(LAT, LON, 200, pixel, crs)
    hot_lat, hot_lon = LAT - 0.01, LON + 0.01
    scene = syn.add_hot_spot(syn.thermal_scene(tr, (200, 200), T, crs=crs), hot_lat, hot_lon, 420.0)
    data = syn.write_geotiff(scene)
    raw = read_geotiff(data)
    assert raw.rio.crs is not None
    assert raw.rio.crs.to_epsg() != 28992
    read = read_geotiff(data, TO_RD)
    assert_north_up_rd(read)
    assert pixel_size_m(read) == pytest.approx(expected_px_m, abs=0.01)
    assert hottest(read)[2] == 420.0
    assert hot_offset_px(read, hot_lat, hot_lon) <= 1.5


# --- bands, units, times -------------------------------------------------------------------


def test_band_roles_units_and_tags_from_the_file() -> None:
    data = geotiff(
        np.ones((3, 3, 4), np.float32),
        descriptions=["B11", "B12", "lwir11"],
        units=["1", "1", "K"],
        tags={
            "ACQUISITION_TIME": "2024-06-01T12:30:00+02:00",
            "TIFFTAG_DATETIME": "2023:01:01 00:00:00",  # ACQUISITION_TIME comes first
            "PLATFORM": "sentinel-2b",
            "SCENE_ID": "S2B_MSIL1C_X",
            "SUN_ZENITH": "40.5",
            "view_zenith": "n/a",
            "WIND_SPEED_10M": "4.25",
        },
    )
    read = read_geotiff(data)
    assert roles(read) == ["swir16", "swir22", "thermal"]
    assert band_units(read) == {"swir16": "1", "swir22": "1", "thermal": "K"}
    assert read.attrs == {
        "sun_zenith": 40.5,
        "wind_speed_10m": 4.25,
        "time": T,
        "platform": "sentinel-2b",
        "scene_id": "S2B_MSIL1C_X",
        "units": "swir16=1;swir22=1;thermal=K",
    }
    assert only(decode_raster(data, None)).attrs["scene_id"] == "S2B_MSIL1C_X"


def test_synthetic_scene_attributes_round_trip_through_tags() -> None:
    tr, _ = syn.grid_around(LAT, LON, 8, 20.0)
    scene = syn.swir_scene(
        tr, (8, 8), T, attrs={"sun_zenith": 38.25, "wind_speed_10m": 2.5, "view_zenith": 3.0}
    )
    read = read_geotiff(syn.write_geotiff(scene))
    assert roles(read) == ["swir16", "swir22"]
    assert {k: read.attrs[k] for k in ("sun_zenith", "view_zenith", "wind_speed_10m")} == {
        "sun_zenith": 38.25,
        "view_zenith": 3.0,
        "wind_speed_10m": 2.5,
    }
    assert "wind_direction_10m" not in read.attrs
    np.testing.assert_array_equal(read.values, scene.values)


def test_band_roles_from_descriptions_band_tags_and_defaults() -> None:
    data = geotiff(
        np.ones((4, 2, 2), np.float32),
        descriptions=["Thermal", "", "Quality Flags", ""],
        band_tags={2: {"role": "MWIR"}, 4: {"units": "DN"}},
        tags={"TIFFTAG_DATETIME": T_TAG},
    )
    read = read_geotiff(data)
    assert roles(read) == ["thermal", "mir", "quality flags", "band4"]
    assert band_units(read)["band4"] == "DN"


def test_band_roles_given_in_options() -> None:
    data = geotiff(np.ones((2, 2, 2), np.float32), descriptions=["B11", "B12"])
    read = read_geotiff(
        data,
        RasterOptions(
            band_roles=("thermal", "mir"),
            platform="drone-12",
            default_time=datetime(2024, 6, 1, 10, 30, tzinfo=UTC),
        ),
    )
    assert roles(read) == ["thermal", "mir"]
    assert read.attrs["platform"] == "drone-12"
    assert read.attrs["time"] == T


def test_duplicate_band_roles_are_rejected() -> None:
    data = geotiff(
        np.ones((2, 2, 2), np.float32),
        descriptions=["B11", "swir1"],
        tags={"TIFFTAG_DATETIME": T_TAG},
    )
    with pytest.raises(
        RasterDecodeError, match=r"band roles are not unique: \['swir16', 'swir16'\]"
    ):
        read_geotiff(data)
    with pytest.raises(RasterDecodeError, match=r"band roles must be unique"):
        read_geotiff(data, RasterOptions(band_roles=["thermal", "thermal"]))


def test_band_roles_count_must_match_the_bands() -> None:
    data = geotiff(np.ones((2, 2, 2), np.float32), tags={"TIFFTAG_DATETIME": T_TAG})
    with pytest.raises(RasterDecodeError, match=r"2 band\(s\) but 1 band role\(s\) given"):
        read_geotiff(data, RasterOptions(band_roles=["thermal"]))
    with pytest.raises(RasterDecodeError, match=r"2 band\(s\) but 3 band role\(s\) given"):
        read_geotiff(data, RasterOptions(band_roles=["thermal", "mir", "nir"]))


@pytest.mark.parametrize(
    "tags",
    [
        {"TIFFTAG_DATETIME": T_TAG},
        {"ACQUISITION_TIME": T},
        {"ACQUISITION_TIME": "2024-06-01T12:30:00+02:00"},
        {"DATETIME": "2024-06-01T10:30:00"},
    ],
)
def test_time_from_tags(tags: dict[str, str]) -> None:
    read = read_geotiff(geotiff(np.ones((1, 2, 2), np.float32), tags=tags))
    assert read.attrs["time"] == T


def test_default_time_is_used_only_without_a_time_tag() -> None:
    options = RasterOptions(default_time=datetime(2020, 1, 1, tzinfo=UTC))
    untagged = geotiff(np.ones((1, 2, 2), np.float32))
    assert read_geotiff(untagged, options).attrs["time"] == "2020-01-01T00:00:00Z"
    tagged = geotiff(np.ones((1, 2, 2), np.float32), tags={"TIFFTAG_DATETIME": T_TAG})
    assert read_geotiff(tagged, options).attrs["time"] == T


def test_missing_time_names_the_tag_to_set() -> None:
    with pytest.raises(RasterDecodeError) as info:
        read_geotiff(geotiff(np.ones((1, 2, 2), np.float32)))
    message = str(info.value)
    assert "no acquisition time" in message
    assert "TIFFTAG_DATETIME" in message
    assert "ACQUISITION_TIME" in message


def test_bad_times_are_decode_errors() -> None:
    with pytest.raises(RasterDecodeError, match="scene time 'yesterday' is not ISO-8601"):
        read_geotiff(
            geotiff(np.ones((1, 2, 2), np.float32), tags={"TIFFTAG_DATETIME": "yesterday"})
        )
    naive = RasterOptions(default_time=datetime(2024, 6, 1, 10, 30))
    with pytest.raises(RasterDecodeError, match="has no time zone"):
        read_geotiff(geotiff(np.ones((1, 2, 2), np.float32)), naive)


# --- corrupt input -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_tif() -> bytes:
    tr, _ = syn.grid_around(LAT, LON, 24, 30.0)
    return syn.write_geotiff(syn.thermal_scene(tr, (24, 24), T))


def test_truncated_geotiff_bytes(good_tif: bytes) -> None:
    for cut in (8, 400, len(good_tif) // 2):
        with pytest.raises(RasterDecodeError, match="corrupt or unreadable GeoTIFF") as info:
            decode_raster(good_tif[:cut], None)
        assert "/vsimem/" not in str(info.value)


def test_truncated_cog_pixels_are_a_decode_error(tmp_path: Path, good_tif: bytes) -> None:
    src = tmp_path / "src.tif"
    src.write_bytes(good_tif)
    cog = tmp_path / "cog.tif"
    rasterio.shutil.copy(src, cog, driver="COG")  # header first, then the pixels
    data = cog.read_bytes()
    with pytest.raises(RasterDecodeError, match="corrupt GeoTIFF, cannot read its pixels"):
        decode_raster(data[: len(data) // 2], None)


def test_truncated_geotiff_file_names_the_file(tmp_path: Path, good_tif: bytes) -> None:
    path = tmp_path / "broken.tif"
    path.write_bytes(good_tif[: len(good_tif) // 2])
    with pytest.raises(RasterDecodeError, match="corrupt or unreadable GeoTIFF") as info:
        read_raster_file(path, None)
    assert str(path) in str(info.value)


def test_random_bytes_and_empty_payload() -> None:
    rng = np.random.default_rng(1)
    noise = b"\x00\x01" + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(RasterDecodeError, match="neither GeoTIFF bytes nor a STAC Item"):
        decode_raster(noise, None)
    with pytest.raises(RasterDecodeError, match="corrupt or unreadable GeoTIFF"):
        decode_raster(b"II*\x00" + noise, None)
    with pytest.raises(RasterDecodeError, match="corrupt or unreadable GeoTIFF"):
        decode_raster(b"MM\x00*" + noise, [Region("r", LAT, LON, 100)])
    with pytest.raises(RasterDecodeError, match="raster message is empty"):
        decode_raster(b"", None)
    with pytest.raises(RasterDecodeError, match="not a GeoTIFF"):
        read_geotiff(noise)
    assert issubclass(RasterDecodeError, DecodeError)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{}", "expected a JSON object with type 'Feature'"),
        (b"[1, 2]", "expected a JSON object with type 'Feature'"),
        (b'"Feature"', "expected a JSON object with type 'Feature'"),
        (b"null", "expected a JSON object with type 'Feature'"),
        (b'{"type": "FeatureCollection", "features": []}', "type 'Feature'"),
        (b'{"type": "Feature"}', "'stac_version' is missing"),
        (b'{"type": "Feature", "stac_version": "1.0.0"}', "'properties' must be an object"),
        (b'{"type": "Feature", "stac_version": "1.0.0", "properties": {}}', "datetime is missing"),
        (b'{"type": "Feature", "stac_ver', "neither GeoTIFF bytes nor a STAC Item"),
        (b"\xff\xfe{}", "neither GeoTIFF bytes nor a STAC Item"),
    ],
)
def test_json_that_is_not_a_stac_item(payload: bytes, message: str) -> None:
    with pytest.raises(RasterDecodeError, match=message):
        decode_raster(payload, None)


def test_geotiff_without_crs() -> None:
    data = geotiff(np.ones((1, 3, 3), np.float32), crs=None, tags={"TIFFTAG_DATETIME": T_TAG})
    with pytest.raises(RasterDecodeError, match="the GeoTIFF has no CRS"):
        decode_raster(data, None)
    with pytest.raises(RasterDecodeError, match="the GeoTIFF has no CRS"):
        decode_raster(data, [Region("r", LAT, LON, 100)])


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_geotiff_with_identity_transform() -> None:
    data = geotiff(
        np.ones((1, 3, 3), np.float32),
        transform=Affine.identity(),
        tags={"TIFFTAG_DATETIME": T_TAG},
    )
    with pytest.raises(RasterDecodeError, match=r"not georeferenced \(no transform\)"):
        decode_raster(data, None)
    with pytest.raises(RasterDecodeError, match="not georeferenced"):
        decode_raster(data, [Region("r", LAT, LON, 100)])


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_geotiff_with_ground_control_points_only() -> None:
    gcps = [
        GroundControlPoint(row=0, col=0, x=90_000, y=440_000),
        GroundControlPoint(row=0, col=4, x=90_040, y=440_000),
        GroundControlPoint(row=4, col=0, x=90_000, y=439_960),
        GroundControlPoint(row=4, col=4, x=90_040, y=439_960),
    ]
    data = geotiff(
        np.ones((1, 4, 4), np.float32),
        crs=RD_NEW,
        transform=None,
        gcps=gcps,
        tags={"TIFFTAG_DATETIME": T_TAG},
    )
    with pytest.raises(RasterDecodeError) as info:
        decode_raster(data, None)
    assert "ground control points only" in str(info.value)


def test_non_utf8_band_description_is_a_decode_error(good_tif: bytes) -> None:
    assert good_tif.count(b">thermal<") == 1
    data = good_tif.replace(b">thermal<", b">therm\xc4l<")
    with pytest.raises(RasterDecodeError):
        decode_raster(data, None)


def test_engineering_crs_read_by_regions_is_a_decode_error() -> None:
    local = 'LOCAL_CS["drone grid",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]'
    data = geotiff(np.ones((1, 4, 4), np.float32), crs=local, tags={"TIFFTAG_DATETIME": T_TAG})
    assert read_geotiff(data).rio.crs is not None  # read whole, the file is fine
    with pytest.raises(RasterDecodeError, match="cannot transform"):
        read_geotiff(data, TO_RD)
    with pytest.raises(RasterDecodeError):
        read_geotiff_regions(data, [Region("r", LAT, LON, 100)])


def assert_scenes_or_decode_error(payload: bytes, regions: list[Region] | None) -> None:
    try:
        scenes = decode_raster(payload, regions)
    except RasterDecodeError as exc:
        assert str(exc)
        return
    assert isinstance(scenes, dict)
    for scene in scenes.values():
        assert isinstance(scene, xr.DataArray)
        assert scene.dims == ("band", "y", "x")


REGIONS = [Region("mba", LAT, LON, 200.0)]


@settings(max_examples=50, deadline=None, database=None)
@given(
    payload=st.one_of(
        st.binary(max_size=2048),
        st.builds(
            bytes.__add__,
            st.sampled_from([b"II*\x00", b"MM\x00*", b"II+\x00", b"{", b'{"type": "Feature"']),
            st.binary(max_size=2048),
        ),
    ),
    windowed=st.booleans(),
)
def test_garbage_bytes_give_only_decode_errors(payload: bytes, windowed: bool) -> None:
    assert_scenes_or_decode_error(payload, REGIONS if windowed else None)


@functools.cache
def small_geotiff() -> bytes:
    tr, _ = syn.grid_around(LAT, LON, 24, 30.0)
    return syn.write_geotiff(syn.thermal_scene(tr, (24, 24), T))


@settings(max_examples=50, deadline=None, database=None, derandomize=True)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(small_geotiff()) - 1), st.integers(0, 255)),
        min_size=1,
        max_size=8,
    ),
    cut=st.one_of(st.none(), st.integers(4, len(small_geotiff()))),
    windowed=st.booleans(),
)
def test_mutated_geotiff_gives_scenes_or_decode_errors(
    edits: list[tuple[int, int]], cut: int | None, windowed: bool
) -> None:
    data = bytearray(small_geotiff())
    for position, value in edits:
        data[position] = value
    assert_scenes_or_decode_error(bytes(data[:cut]), REGIONS if windowed else None)


# --- windowed reads of a large raster ------------------------------------------------------

BIG = 4000
BIG_PX = 10.0


@pytest.fixture(scope="module")
def big_tif(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Affine]:
    """A 4000 x 4000 float32 raster in RD New whose pixel values are row * 4000 + col."""
    tr, _ = syn.grid_around(52.0, 5.0, BIG, BIG_PX)
    path = tmp_path_factory.mktemp("big") / "big.tif"
    values = np.arange(BIG * BIG, dtype=np.float32).reshape(1, BIG, BIG)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=BIG,
        height=BIG,
        count=1,
        dtype="float32",
        crs=RD_NEW,
        transform=tr,
        tiled=True,
        blockxsize=256,
        blockysize=256,
    ) as dst:
        dst.write(values)
        dst.set_band_description(1, "thermal")
        dst.update_tags(TIFFTAG_DATETIME=T_TAG)
    return path, tr


def test_windowed_read_gives_scenes_only_around_the_regions(big_tif: tuple[Path, Affine]) -> None:
    path, tr = big_tif
    regions = [
        Region("a", 52.0, 5.0, 500.0),
        Region("b", 52.1, 5.1, 300.0),
        Region("outside", 53.5, 5.0, 500.0),
    ]
    scenes = read_geotiff_regions(path, regions, RasterOptions(margin_px=32))
    assert sorted(scenes) == ["a", "b"]
    for name, radius in (("a", 500.0), ("b", 300.0)):
        scene = scenes[name]
        side = 2 * radius / BIG_PX + 2 * 32
        assert side <= scene.sizes["y"] <= side + 3, name
        assert side <= scene.sizes["x"] <= side + 3, name
        assert scene.attrs["scene_id"] == "big"
        # the pixels are those of the file at that place
        first = int(scene.values[0, 0, 0])
        row0, col0 = divmod(first, BIG)
        assert scene.rio.transform() == tr @ Affine.translation(col0, row0)
        assert float(scene.x[0]) == tr.c + (col0 + 0.5) * BIG_PX
        # the pixel under the region's centre holds that pixel's value
        region = next(r for r in regions if r.name == name)
        x, y = lonlat_to_xy(scene, region.lon, region.lat)
        col, row = ~tr @ (float(x), float(y))
        value = float(scene.sel(x=float(x), y=float(y), method="nearest").values[0])
        assert value == math.floor(row) * BIG + math.floor(col)
    assert scenes["a"].sizes["x"] > scenes["b"].sizes["x"]


def test_windowed_read_onto_rd_keeps_the_file_grid(big_tif: tuple[Path, Affine]) -> None:
    path, tr = big_tif
    options = RasterOptions(crs=RD_NEW, margin_px=10, max_pixels=100_000)
    scene = only(read_raster_file(path, [Region("a", 52.0, 5.0, 500.0)], options))
    assert 120 <= scene.sizes["x"] <= 123
    t = scene.rio.transform()
    assert (t.a, t.e) == (BIG_PX, -BIG_PX)
    assert (t.c - tr.c) % BIG_PX == 0  # not resampled: same pixel edges as the file
    assert (t.f - tr.f) % BIG_PX == 0


def test_region_at_the_raster_edge_is_clipped(big_tif: tuple[Path, Affine]) -> None:
    path, tr = big_tif
    lon, lat = xy_to_lonlat(read_geotiff(path, RasterOptions(max_pixels=BIG * BIG)), tr.c, tr.f)
    scene = only(read_geotiff_regions(path, [Region("corner", float(lat), float(lon), 500.0)]))
    assert scene.values[0, 0, 0] == 0.0  # starts at the file's first pixel
    assert 50 + 32 <= scene.sizes["x"] <= 50 + 32 + 2
    assert 50 + 32 <= scene.sizes["y"] <= 50 + 32 + 2


def test_max_pixels_refuses_a_whole_read(big_tif: tuple[Path, Affine]) -> None:
    path, _ = big_tif
    with pytest.raises(RasterDecodeError) as info:
        read_geotiff(path, RasterOptions(max_pixels=1_000_000))
    message = str(info.value)
    assert "16000000 pixels per band" in message
    assert "limit of 1000000" in message
    assert "read it windowed" in message
    with pytest.raises(RasterDecodeError, match="read it windowed"):
        read_raster_file(path, None, RasterOptions(max_pixels=1_000_000))
    # a window that is too large is refused as well; a small one is read
    options = RasterOptions(max_pixels=1_000_000)
    with pytest.raises(RasterDecodeError, match="more than the limit of 1000000"):
        read_geotiff_regions(path, [Region("huge", 52.0, 5.0, 8000.0)], options)
    assert list(read_geotiff_regions(path, [Region("a", 52.0, 5.0, 500.0)], options)) == ["a"]


# --- STAC Items ----------------------------------------------------------------------------

STAC_TIME = "2024-06-01T10:31:00Z"


class Stac:
    """GeoTIFF assets of a Sentinel-2-like item: B11 at 20 m, B12 at 10 m (same extent)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "data").mkdir(parents=True)
        self.tr20, _ = syn.grid_around(LAT, LON, 60, 20.0)
        self.tr10 = Affine(10, 0, self.tr20.c, 0, -10, self.tr20.f)
        self.s20 = syn.swir_scene(self.tr20, (60, 60), T, seed=1).sel(band=["swir16"])
        self.s10 = syn.swir_scene(self.tr10, (120, 120), T, seed=2).sel(band=["swir22"])
        self.b11 = root / "data" / "b11.tif"
        self.b12 = root / "data" / "b12.tif"
        # assets carry no time and no band names: the item says
        syn.write_geotiff(self.s20, self.b11, time_tag=False, descriptions=False)
        syn.write_geotiff(self.s10, self.b12, time_tag=False, descriptions=False)

    def item(self, b11: str, b12: str, **properties: Any) -> dict[str, Any]:
        return {
            "type": "Feature",
            "stac_version": "1.0.0",
            "id": "S2A_TEST_ITEM",
            "properties": {
                "datetime": STAC_TIME,
                "platform": "sentinel-2a",
                "view:sun_elevation": 55.0,
                "view:off_nadir": 4.5,
                "vth:wind_speed_10m": 3.5,
                **properties,
            },
            "assets": {
                "data-1": {"href": b11, "eo:bands": [{"name": "B11", "common_name": "swir16"}]},
                "data-2": {"href": b12, "eo:bands": [{"name": "B12"}]},
                "thumbnail": {"href": "missing-preview.png", "roles": ["thumbnail"]},
            },
        }

    def check(self, scene: xr.DataArray) -> None:
        """The item read whole: both bands on the 20 m grid, metadata from the item."""
        assert roles(scene) == ["swir16", "swir22"]
        assert scene.shape == (2, 60, 60)
        assert scene.rio.transform() == self.tr20
        assert scene.rio.crs.to_epsg() == 28992
        assert scene.attrs == {
            "sun_zenith": 35.0,
            "view_zenith": 4.5,
            "wind_speed_10m": 3.5,
            "time": STAC_TIME,
            "platform": "sentinel-2a",
            "scene_id": "S2A_TEST_ITEM",
            "units": "swir16=1;swir22=1",
        }
        np.testing.assert_array_equal(scene.sel(band="swir16").values, self.s20.values[0])
        # the 10 m band, resampled (nearest) onto the 20 m grid: one of each 2 x 2 block
        blocks = np.asarray(self.s10.values[0]).reshape(60, 2, 60, 2)
        got = np.asarray(scene.sel(band="swir22").values)
        assert np.isclose(got[:, None, :, None], blocks).any(axis=(1, 3)).all()


@pytest.fixture
def stac(tmp_path: Path) -> Stac:
    return Stac(tmp_path / "stac")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server on a free port serving a folder."""
    for name in (
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_stac_item_file_with_relative_hrefs(stac: Stac) -> None:
    path = stac.root / "item.json"
    path.write_text(json.dumps(stac.item("data/b11.tif", "./data/b12.tif")))
    scenes = read_raster_file(path, None)
    assert list(scenes) == ["S2A_TEST_ITEM"]
    stac.check(scenes["S2A_TEST_ITEM"])


def test_stac_item_with_absolute_paths_and_file_urls(stac: Stac) -> None:
    item = stac.item(str(stac.b11), stac.b12.as_uri())
    stac.check(only(read_stac_item(item)))
    stac.check(only(decode_raster(json.dumps(item).encode(), None)))


def test_stac_item_over_http(stac: Stac, http_root: tuple[str, Path]) -> None:
    url, root = http_root
    (root / "b11.tif").write_bytes(stac.b11.read_bytes())
    (root / "b12.tif").write_bytes(stac.b12.read_bytes())
    item = stac.item(f"{url}/b11.tif", f"{url}/b12.tif")
    stac.check(only(decode_raster(json.dumps(item).encode(), None)))
    item["assets"]["data-2"]["href"] = f"{url}/nope.tif"
    with pytest.raises(RasterDecodeError, match=r"nope\.tif: cannot download: .*404"):
        decode_raster(json.dumps(item).encode(), None)


def test_stac_relative_href_needs_a_location(stac: Stac) -> None:
    payload = json.dumps(stac.item("data/b11.tif", "data/b12.tif")).encode()
    with pytest.raises(RasterDecodeError, match="is a relative path, but the item has no location"):
        decode_raster(payload, None)
    stac.check(only(decode_raster(payload, None, base=stac.root)))


def test_stac_item_read_by_regions(stac: Stac) -> None:
    item = stac.item(str(stac.b11), str(stac.b12))
    regions = [Region("mba", LAT, LON, 200.0), Region("far", 52.37, 4.90, 200.0)]
    scenes = read_stac_item(item, regions, RasterOptions(crs=RD_NEW, margin_px=4))
    assert list(scenes) == ["mba"]
    scene = scenes["mba"]
    assert roles(scene) == ["swir16", "swir22"]
    assert scene.rio.transform().a == 20.0  # the first asset's grid
    assert 27 <= scene.sizes["x"] <= 30
    assert scene.attrs["scene_id"] == "S2A_TEST_ITEM"
    assert scene.attrs["sun_zenith"] == 35.0
    assert np.isfinite(scene.sel(band="swir16").values).all()
    x, y = lonlat_to_xy(scene, LON, LAT)
    centre = scene.sel(x=float(x), y=float(y), method="nearest")
    assert np.isfinite(centre.values).all()


def test_stac_item_read_by_regions_fills_every_band(stac: Stac) -> None:
    item = stac.item(str(stac.b11), str(stac.b12))
    region = Region("mba", LAT, LON, 200.0)
    scene = only(read_stac_item(item, [region], RasterOptions(crs=RD_NEW, margin_px=4)))
    assert int(np.isnan(scene.sel(band="swir22").values).sum()) == 0


def test_stac_eo_bands_with_several_bands_in_one_asset(stac: Stac, tmp_path: Path) -> None:
    both = syn.swir_scene(stac.tr20, (60, 60), T, seed=5)
    path = tmp_path / "swir.tif"
    syn.write_geotiff(both, path, time_tag=False, descriptions=False)
    item = stac.item("", "")
    item["assets"] = {
        "swir": {
            "href": str(path),
            "eo:bands": [{"name": "B12", "common_name": "swir22"}, {"name": "B11"}],
        }
    }
    scene = only(read_stac_item(item))
    assert roles(scene) == ["swir22", "swir16"]  # as the item says, not as the file says
    np.testing.assert_array_equal(scene.values, both.values)


def test_stac_start_datetime_and_asset_key_roles(stac: Stac) -> None:
    item = stac.item("", "")
    del item["properties"]["datetime"]
    item["properties"]["start_datetime"] = "2024-06-01T12:31:00+02:00"
    item["assets"] = {"B11": {"href": str(stac.b11)}, "swir22": {"href": str(stac.b12)}}
    scene = only(read_stac_item(item))
    assert roles(scene) == ["swir16", "swir22"]
    assert scene.attrs["time"] == STAC_TIME


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"properties": {"platform": "x"}}, "properties.datetime is missing"),
        ({"properties": {"datetime": "last tuesday"}}, "STAC Item: scene time 'last tuesday'"),
        ({"assets": {}}, "'assets' is missing or empty"),
        ({"assets": {"B11": {"type": "image/tiff"}}}, "asset 'B11' has no href"),
        (
            {"assets": {"visual": {"href": "x.tif"}, "qa": {"href": "q.tif"}}},
            "no asset with a known band role",
        ),
        (
            {"assets": {"data": {"href": "x.tif", "eo:bands": [{"name": "B01"}]}}},
            "no asset with a known band role",
        ),
        ({"assets": {"B11": {"href": "s3://bucket/b11.tif"}}}, "scheme 's3' is not supported"),
        (
            {"assets": {"B11": {"href": "/no/such/dir/b11.tif"}}},
            "file /no/such/dir/b11.tif not found",
        ),
        (
            {"assets": {"B11": {"href": "data/b11.tif"}, "swir1": {"href": "data/b11.tif"}}},
            "band roles repeat across assets",
        ),
    ],
)
def test_stac_item_problems_are_named(stac: Stac, change: dict[str, Any], message: str) -> None:
    item = stac.item("data/b11.tif", "data/b12.tif")
    item.update(change)
    with pytest.raises(RasterDecodeError, match=message):
        decode_raster(json.dumps(item).encode(), None, base=stac.root)


def test_stac_file_problems_name_the_file(stac: Stac) -> None:
    path = stac.root / "item.json"
    path.write_text(json.dumps(stac.item("data/b11.tif", "data/missing.tif")))
    with pytest.raises(RasterDecodeError) as info:
        read_raster_file(path, None)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "missing.tif not found" in message
    broken = stac.root / "broken.json"
    broken.write_text('{"type": "Feature",')
    with pytest.raises(RasterDecodeError, match=r"not a STAC Item \(invalid JSON"):
        read_raster_file(broken, None)
    with pytest.raises(RasterDecodeError, match="no such file"):
        read_raster_file(stac.root / "nothing.json", None)


def test_stac_asset_that_is_not_a_geotiff_names_the_asset(stac: Stac) -> None:
    (stac.root / "data" / "b12.tif").write_bytes(b"<html>not found</html>")
    item = stac.item(str(stac.b11), str(stac.b12))
    with pytest.raises(RasterDecodeError, match=r"STAC asset 'data-2': .*corrupt or unreadable"):
        read_stac_item(item)


def stac_payload(assets: Any) -> bytes:
    return json.dumps(
        {
            "type": "Feature",
            "stac_version": "1.0.0",
            "id": "x",
            "properties": {"datetime": STAC_TIME},
            "assets": assets,
        }
    ).encode()


def test_stac_eo_bands_that_are_not_objects() -> None:
    with pytest.raises(RasterDecodeError):
        decode_raster(stac_payload({"data": {"href": "x.tif", "eo:bands": ["B11"]}}), None)


def test_stac_eo_bands_common_name_that_is_not_a_string() -> None:
    assets = {"data": {"href": "x.tif", "eo:bands": [{"common_name": 11}]}}
    with pytest.raises(RasterDecodeError):
        decode_raster(stac_payload(assets), None)


def test_stac_asset_with_an_invalid_url() -> None:
    with pytest.raises(RasterDecodeError):
        decode_raster(stac_payload({"B11": {"href": "http://[::1/b11.tif"}}), None)


def test_deeply_nested_json_is_a_decode_error() -> None:
    with pytest.raises(RasterDecodeError):
        decode_raster(b"[" * 100_000 + b"]" * 100_000, None)


# --- the RIVM NO2 map ----------------------------------------------------------------------

needs_rivm = pytest.mark.skipif(not RIVM_NO2.is_file(), reason=f"{RIVM_NO2} is not available")


@needs_rivm
def test_rivm_no2_map_reads_with_nodata_as_nan() -> None:
    with rasterio.open(RIVM_NO2) as src:
        raw = src.read(1)
        assert src.nodata == -999.0
    missing = raw == -999.0
    assert missing.sum() > 0
    with pytest.raises(RasterDecodeError, match="TIFFTAG_DATETIME"):
        read_raster_file(RIVM_NO2, None)
    options = RasterOptions(default_time=datetime(2015, 9, 16, 11, tzinfo=UTC))
    scenes = read_raster_file(RIVM_NO2, None, options)
    assert list(scenes) == ["2015091611_no2"]
    scene = scenes["2015091611_no2"]
    assert scene.rio.crs.to_epsg() == 28992
    assert scene.shape == (1, 80, 70)
    assert scene.rio.transform() == Affine(4000, 0, 0, 0, -4000, 620_000)
    assert pixel_size_m(scene) == 4000.0
    np.testing.assert_array_equal(np.isnan(scene.values[0]), missing)
    assert int(np.isnan(scene.values).sum()) == int(missing.sum())
    np.testing.assert_array_equal(scene.values[0][~missing], raw[~missing])
    assert scene.attrs["time"] == "2015-09-16T11:00:00Z"
    assert scene.attrs["units"] == "band1=ug/m3"
    assert is_raster_path(RIVM_NO2)
    assert is_geotiff(RIVM_NO2.read_bytes())
    # on RD New already: the local grid changes nothing
    assert to_local_grid(scene) is scene


@needs_rivm
def test_rivm_no2_map_to_wgs84() -> None:
    options = RasterOptions(default_time=datetime(2015, 9, 16, 11, tzinfo=UTC))
    scene = only(read_raster_file(RIVM_NO2, None, options))
    source = np.asarray(scene.values[0])
    wgs84 = to_local_grid(scene, "EPSG:4326")
    assert wgs84.rio.crs.to_epsg() == 4326
    t = wgs84.rio.transform()
    assert (t.b, t.d) == (0.0, 0.0)
    # the shorter side of a 4000 m pixel at 52 N (its height, 0.036 deg), so no pixel is skipped
    assert t.a == pytest.approx(0.036, abs=0.002)
    left, bottom, right, top = wgs84.rio.bounds()
    assert (left, bottom, right, top) == pytest.approx((3.05, 50.67, 7.30, 53.57), abs=0.02)
    values = np.asarray(wgs84.values[0])
    finite = values[np.isfinite(values)]
    assert finite.size > 0.8 * np.isfinite(source).sum()
    assert finite.min() >= np.nanmin(source)
    assert finite.max() <= np.nanmax(source)
    assert np.isin(finite, source).all()  # nearest: values are the map's own
    # a pixel in the middle of the map keeps its value near its place
    row, col = 40, 35
    assert np.isfinite(source[row, col])
    x, y = pixel_xy(scene, row, col)
    lon, lat = xy_to_lonlat(scene, x, y)
    near = source[row - 1 : row + 2, col - 1 : col + 2]
    found = float(wgs84.sel(band="band1").sel(x=float(lon), y=float(lat), method="nearest"))
    assert found in near
