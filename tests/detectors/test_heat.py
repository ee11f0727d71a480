"""The ``heat`` detector on synthetic thermal scenes with known hot spots.

Scenes are made by :mod:`vth.sensing.synthetic` in RD New and UTM 31N, written as
GeoTIFF and read back through the gateway reader (reprojected to RD New), as a
satellite or drone pipeline would deliver them. The contextual test is checked
against a brute-force reference written here (loops over candidates, no vth code).
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np
import pytest
import xarray as xr
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib import image as mpimg
from PIL import Image

from vth.detectors.errors import DetectorConfigError, DetectorError
from vth.detectors.heat import (
    HeatAnomalyDetector,
    HotSpot,
    cluster,
    contextual_test,
    temperature_k,
)
from vth.detectors.registry import get
from vth.errors import VthError
from vth.gateways.rasters import RasterOptions, decode_raster, read_raster_file
from vth.models import MbaProfile
from vth.models.alert import Alert
from vth.models.detection import Detection
from vth.sensing.rasters import RD_NEW, Region, make_scene
from vth.sensing.synthetic import add_hot_spot, grid_around, thermal_scene, write_geotiff

UTM31N = "EPSG:32631"
WHEN = "2025-06-01T10:30:00Z"
PIXEL_M = 30.0
SIZE = 150  # 4.5 km of 30 m (Landsat-like) pixels
#: Metres per degree of latitude (and of longitude at the equator), for distance checks.
M_PER_DEG = 111_320.0

# chemie-botlek: location (51.8712, 4.2975), no footprint (site = 500 m radius)
FLARE = (51.8720, 4.2990)  # flare-1: radius 40 m, max 1800 K
FURNACE = (51.8708, 4.2968)  # furnace-1: radius 25 m, max 600 K
ON_SITE_SOUTH = (51.8690, 4.2975)  # ~245 m south of the location, ~205 m from furnace-1
ON_SITE_NORTHWEST = (51.8730, 4.2940)  # ~315 m from the location and from furnace-1
OFF_SITE_NORTH = (51.8800, 4.2975)  # ~980 m north
OFF_SITE_EAST = (51.8712, 4.3150)  # ~1200 m east


# --- helpers ------------------------------------------------------------------------------


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance, plenty accurate over a few km."""
    dy = (lat2 - lat1) * M_PER_DEG
    dx = (lon2 - lon1) * M_PER_DEG * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


def scene_around(
    profile: MbaProfile,
    *,
    crs: str = RD_NEW,
    seed: int = 0,
    size: int = SIZE,
    **kwargs: Any,
) -> xr.DataArray:
    transform, crs = grid_around(profile.location.lat, profile.location.lon, size, PIXEL_M, crs=crs)
    return thermal_scene(transform, (size, size), WHEN, crs=crs, seed=seed, **kwargs)


def read_back(scene: xr.DataArray, profile: MbaProfile, **write: Any) -> xr.DataArray:
    """The scene as GeoTIFF bytes, read by the gateway reader onto RD New."""
    payload = write_geotiff(scene, **write)
    region = Region(profile.id, profile.location.lat, profile.location.lon, 1500.0)
    scenes = decode_raster(payload, [region], RasterOptions(crs=RD_NEW))
    assert set(scenes) == {profile.id}
    return scenes[profile.id]


def offset_m(detection: Detection, lat: float, lon: float) -> float:
    """How far a detection lies from (lat, lon)."""
    assert detection.lat is not None and detection.lon is not None
    return distance_m(lat, lon, detection.lat, detection.lon)


def by_place(detections: list[Detection], lat: float, lon: float) -> Detection:
    """The one detection within 1.5 pixels of (lat, lon)."""
    near = [d for d in detections if offset_m(d, lat, lon) <= 1.5 * PIXEL_M]
    assert len(near) == 1, (
        f"expected one detection within 45 m of {lat}, {lon}, got "
        f"{[(d.lat, d.lon, d.evidence['verdict']) for d in detections]}"
    )
    return near[0]


INSIDE_BOX = (51.8700, 4.2950)  # ~135 m south, ~170 m west of the location: inside the box


def botlek_with_footprint(profiles: dict[str, MbaProfile]) -> MbaProfile:
    """chemie-botlek with a footprint: a box of about 600 m x 400 m around its location."""
    data = profiles["chemie-botlek"].model_dump(mode="json")
    lat, lon = 51.8712, 4.2975
    dlat, dlon = 0.0018, 0.0044  # ~200 m, ~300 m
    data["footprint"] = {
        "type": "Polygon",
        "coordinates": [
            [
                [lon - dlon, lat - dlat],
                [lon + dlon, lat - dlat],
                [lon + dlon, lat + dlat],
                [lon - dlon, lat + dlat],
                [lon - dlon, lat - dlat],
            ]
        ],
    }
    return MbaProfile.model_validate(data)


def bare_profile(heat_sources: list[dict[str, Any]] | None = None) -> MbaProfile:
    return MbaProfile.model_validate(
        {
            "id": "testsite",
            "name": "Test site",
            "operator": "Test B.V.",
            "activity": "testing",
            "location": {"lat": 51.8712, "lon": 4.2975},
            "heat_sources": heat_sources or [],
        }
    )


# --- the headline: hot spots in RD New and UTM 31N GeoTIFFs --------------------------------


@pytest.mark.parametrize("crs", [RD_NEW, UTM31N])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hot_spots_are_judged_against_the_permit(profiles, crs, seed):
    botlek = profiles["chemie-botlek"]
    scene = scene_around(botlek, crs=crs, seed=seed)
    scene = add_hot_spot(scene, *FLARE, peak_k=1500.0)  # permitted flare, below 1800 K
    scene = add_hot_spot(scene, *FURNACE, peak_k=750.0)  # furnace above its 600 K
    scene = add_hot_spot(scene, *ON_SITE_SOUTH, peak_k=420.0)  # unpermitted
    scene = add_hot_spot(scene, *ON_SITE_NORTHWEST, peak_k=330.0)  # unpermitted, subtle
    scene = add_hot_spot(scene, *OFF_SITE_NORTH, peak_k=900.0)  # someone else's
    scene = add_hot_spot(scene, *OFF_SITE_EAST, peak_k=500.0)  # someone else's
    read = read_back(scene, botlek)
    assert read.rio.crs.to_epsg() == 28992

    detector = HeatAnomalyDetector()
    detections = detector.detect(read, botlek)

    assert len(detections) == 4, [(d.lat, d.lon, d.evidence["verdict"]) for d in detections]
    assert sorted(d.evidence["verdict"] for d in detections) == [
        "above_permit",
        "permitted",
        "unpermitted",
        "unpermitted",
    ]

    flare = by_place(detections, *FLARE)
    assert flare.evidence["verdict"] == "permitted"
    assert flare.within_permit is True
    assert flare.source_id == "flare-1"
    assert flare.limit == 1800.0
    assert flare.value == pytest.approx(1500.0, rel=1e-4)
    assert flare.severity == "low"
    assert "quicklook_png" not in flare.evidence  # recorded, not alerted

    furnace = by_place(detections, *FURNACE)
    assert furnace.evidence["verdict"] == "above_permit"
    assert furnace.within_permit is False
    assert furnace.source_id == "furnace-1"
    assert furnace.limit == 600.0
    assert furnace.value == pytest.approx(750.0, rel=1e-4)
    assert furnace.unit == "K"
    assert furnace.severity in ("medium", "high", "critical")

    for place, peak in ((ON_SITE_SOUTH, 420.0), (ON_SITE_NORTHWEST, 330.0)):
        spot = by_place(detections, *place)
        assert spot.evidence["verdict"] == "unpermitted"
        assert spot.within_permit is False
        assert spot.source_id is None
        assert spot.limit is None
        assert spot.value == pytest.approx(peak, rel=1e-4)

    for d in detections:
        assert d.detector == "heat"
        assert d.kind == "heat_anomaly"
        assert d.mba_id == "chemie-botlek"
        assert d.start == d.end
        assert d.start.isoformat() == "2025-06-01T10:30:00+00:00"
        assert d.evidence["scene"]["crs"] == "EPSG:28992"


@pytest.mark.parametrize("crs", [RD_NEW, UTM31N])
def test_utm_scene_without_reprojection_gives_the_same_verdicts(profiles, crs, tmp_path):
    """The detector works in any projected CRS: UTM read as is, or through a file."""
    botlek = profiles["chemie-botlek"]
    scene = scene_around(botlek, crs=crs, seed=3)
    scene = add_hot_spot(scene, *FURNACE, peak_k=750.0)
    scene = add_hot_spot(scene, *ON_SITE_SOUTH, peak_k=420.0)
    path = tmp_path / "scene.tif"
    write_geotiff(scene, path)
    region = Region(botlek.id, botlek.location.lat, botlek.location.lon, 1500.0)
    read = read_raster_file(path, [region], RasterOptions(crs=None))[botlek.id]
    assert read.rio.crs.to_epsg() == int(crs.split(":")[1])
    detections = HeatAnomalyDetector().detect(read, botlek)
    assert len(detections) == 2
    assert by_place(detections, *FURNACE).source_id == "furnace-1"
    assert by_place(detections, *ON_SITE_SOUTH).evidence["verdict"] == "unpermitted"
    assert {d.evidence["scene"]["crs"] for d in detections} == {crs}


@pytest.mark.parametrize("crs", [RD_NEW, UTM31N])
@pytest.mark.parametrize("seed", range(8))
def test_scene_without_hot_spots_gives_nothing(profiles, crs, seed):
    botlek = profiles["chemie-botlek"]
    read = read_back(scene_around(botlek, crs=crs, seed=seed), botlek)
    assert HeatAnomalyDetector().detect(read, botlek) == []


def test_hot_spots_beyond_the_site_radius_give_no_detection(profiles):
    botlek = profiles["chemie-botlek"]
    scene = scene_around(botlek, seed=4)
    scene = add_hot_spot(scene, *OFF_SITE_NORTH, peak_k=900.0)
    scene = add_hot_spot(scene, *OFF_SITE_EAST, peak_k=500.0)
    scene = add_hot_spot(scene, *ON_SITE_NORTHWEST, peak_k=420.0)  # ~315 m from the location
    read = read_back(scene, botlek)
    detector = HeatAnomalyDetector()
    # the detector sees all three, judges two off site and reports only those on it
    verdicts = sorted(j.verdict for j in detector.judgements(read, botlek))
    assert verdicts == ["off_site", "off_site", "unpermitted"]
    assert [d.evidence["verdict"] for d in detector.detect(read, botlek)] == ["unpermitted"]
    # a smaller site radius puts the third one off the site too
    assert HeatAnomalyDetector(site_radius_m=200.0).detect(read, botlek) == []
    # and a larger one takes the 1 km one in
    wide = HeatAnomalyDetector(site_radius_m=1100.0).detect(read, botlek)
    assert len(wide) == 2
    assert by_place(wide, *OFF_SITE_NORTH).evidence["verdict"] == "unpermitted"


def test_the_footprint_polygon_decides_what_is_on_site(profiles):
    """With a footprint the site radius is not used: inside the polygon or not."""
    botlek = botlek_with_footprint(profiles)
    outside_but_near = (51.8740, 4.2975)  # ~310 m north: within 500 m, outside the box
    scene = scene_around(botlek, seed=5)
    scene = add_hot_spot(scene, *INSIDE_BOX, peak_k=450.0)
    scene = add_hot_spot(scene, *outside_but_near, peak_k=450.0)
    read = read_back(scene, botlek)
    for radius in (500.0, 5000.0):
        detections = HeatAnomalyDetector(site_radius_m=radius).detect(read, botlek)
        assert len(detections) == 1
        spot = by_place(detections, *INSIDE_BOX)
        assert spot.evidence["verdict"] == "unpermitted"


def test_permitted_source_match_uses_radius_and_tolerance(profiles):
    """A hot spot a little outside the flare's 40 m radius is still the flare (tolerance)."""
    botlek = profiles["chemie-botlek"]
    # ~55 m east of the flare: beyond 40 m, within 40 m + 1 pixel diagonal (42 m)
    near_flare = (FLARE[0], FLARE[1] + 55 / (M_PER_DEG * math.cos(math.radians(FLARE[0]))))
    scene = add_hot_spot(scene_around(botlek, seed=6), *near_flare, peak_k=1900.0)
    read = read_back(scene, botlek)
    [detection] = HeatAnomalyDetector().detect(read, botlek)
    assert detection.source_id == "flare-1"
    assert detection.evidence["verdict"] == "above_permit"
    assert detection.limit == 1800.0
    # without tolerance, and the centroid beyond 40 m, it is unpermitted
    assert 40.0 < detection.evidence["distance_to_source_m"] < 40.0 + PIXEL_M * math.sqrt(2)
    [strict] = HeatAnomalyDetector(match_tolerance_px=0.0).detect(read, botlek)
    assert strict.evidence["verdict"] == "unpermitted"
    assert strict.source_id is None


# --- nodata ------------------------------------------------------------------------------


def _pixel_of(scene: xr.DataArray, lat: float, lon: float) -> tuple[int, int]:
    from vth.sensing.rasters import lonlat_to_xy

    x, y = lonlat_to_xy(scene, lon, lat)
    col, row = ~scene.rio.transform() @ (float(x), float(y))
    return math.floor(row), math.floor(col)


@pytest.mark.parametrize(
    "hole",
    [
        "block_west",  # a 21 x 10 block of nodata right next to the hot spot
        "ring",  # the 8 neighbours are nodata
        "ring_and_half",  # the 5x5 ring around it and the west half of its window
    ],
)
def test_nodata_next_to_a_hot_spot(profiles, hole):
    botlek = profiles["chemie-botlek"]
    scene = add_hot_spot(scene_around(botlek, seed=7), *ON_SITE_SOUTH, peak_k=420.0)
    r, c = _pixel_of(scene, *ON_SITE_SOUTH)
    values = scene.values[0]
    if hole == "block_west":
        values[r - 10 : r + 11, c - 10 : c] = np.nan
    elif hole == "ring":
        hot = values[r, c]
        values[r - 1 : r + 2, c - 1 : c + 2] = np.nan
        values[r, c] = hot
    else:
        hot = values[r, c]
        values[r - 2 : r + 3, c - 2 : c + 3] = np.nan
        values[r - 10 : r + 11, c - 10 : c] = np.nan
        values[r, c] = hot
    read = read_back(scene, botlek)
    assert np.isnan(read.values).sum() == np.isnan(scene.values).sum()
    [detection] = HeatAnomalyDetector().detect(read, botlek)
    assert detection.evidence["verdict"] == "unpermitted"
    assert detection.value == pytest.approx(420.0, rel=1e-4)
    assert offset_m(detection, *ON_SITE_SOUTH) <= 1.5 * PIXEL_M
    assert detection.evidence["hot_spot"]["pixels"] == 1


def test_hot_spot_buried_in_nodata_is_unknown_not_anomalous(profiles):
    """All of its largest window is nodata: MOD14's 'unknown', not a detection."""
    botlek = profiles["chemie-botlek"]
    scene = add_hot_spot(scene_around(botlek, seed=8), *ON_SITE_SOUTH, peak_k=340.0)
    r, c = _pixel_of(scene, *ON_SITE_SOUTH)
    values = scene.values[0]
    hot = values[r, c]
    values[r - 10 : r + 11, c - 10 : c + 11] = np.nan
    values[r, c] = hot
    read = read_back(scene, botlek)
    detector = HeatAnomalyDetector()
    assert detector.detect(read, botlek) == []
    mask, _, background = detector.anomalies(read)
    assert not mask.any()
    r, c = _pixel_of(read, *ON_SITE_SOUTH)
    assert np.isnan(background[r, c])  # tested, and unknown


def test_absolute_hot_spot_with_unknown_background_is_still_reported(profiles):
    botlek = profiles["chemie-botlek"]
    scene = add_hot_spot(scene_around(botlek, seed=8), *ON_SITE_SOUTH, peak_k=700.0)
    r, c = _pixel_of(scene, *ON_SITE_SOUTH)
    values = scene.values[0]
    values[r - 10 : r + 11, c - 10 : c + 11] = np.nan
    values[r, c] = 700.0
    read = read_back(scene, botlek)
    detector = HeatAnomalyDetector()
    mask, _, _ = detector.anomalies(read)
    assert mask.sum() == 1  # anomalous regardless of its background (700 K > absolute_k)
    [spot] = cluster(read, read.values[0], mask, np.full(mask.shape, np.nan))
    assert math.isfinite(spot.x) and math.isfinite(spot.y)
    [detection] = detector.detect(read, botlek)
    assert detection.evidence["verdict"] == "unpermitted"
    assert offset_m(detection, *ON_SITE_SOUTH) <= 1.5 * PIXEL_M


@pytest.mark.parametrize("nodata", [9999.0, -9999.0, 1000.0])
def test_nodata_never_becomes_a_hot_spot(profiles, nodata):
    """Nodata written as a (hot) number in the file is masked by the reader."""
    botlek = profiles["chemie-botlek"]
    scene = scene_around(botlek, seed=9)
    values = scene.values[0]
    values[60:75, 60:75] = np.nan  # near the middle: on site
    values[::17, ::13] = np.nan  # scattered single pixels
    values[0:3, :] = np.nan  # a stripe along the edge
    read = read_back(scene, botlek, nodata=nodata)
    assert np.isnan(read.values).sum() == np.isnan(scene.values).sum()
    assert np.nanmax(read.values) < 320
    detector = HeatAnomalyDetector(site_radius_m=1e6)
    assert detector.detect(read, botlek) == []
    mask, _, _ = detector.anomalies(read)
    assert not mask.any()


def test_all_nodata_scene_gives_no_detection(profiles):
    botlek = profiles["chemie-botlek"]
    scene = scene_around(botlek, seed=0)
    scene.values[:] = np.nan
    read = read_back(scene, botlek)
    assert np.isnan(read.values).all()
    assert HeatAnomalyDetector().detect(read, botlek) == []
    # also when not read from a file, and for the two-band mode
    two = make_scene(
        np.full((2, 40, 40), np.nan, np.float32),
        bands=["mir", "thermal"],
        transform=read.rio.transform(),
        crs=RD_NEW,
        time=WHEN,
        units={"mir": "K", "thermal": "K"},
    )
    assert HeatAnomalyDetector().detect(two, botlek) == []


# --- bands and units ---------------------------------------------------------------------


def two_band_scene(profile: MbaProfile, seed: int) -> xr.DataArray:
    """MODIS-like: mir (~4 µm) about 12 K warmer than thermal (~11 µm), both textured."""
    thermal = scene_around(profile, seed=seed)
    rng = np.random.default_rng(seed + 1)
    mir = thermal.values[0] + 12.0 + rng.normal(0, 0.5, thermal.shape[1:]).astype(np.float32)
    return make_scene(
        np.stack([mir, thermal.values[0]]),
        bands=["mir", "thermal"],
        transform=thermal.rio.transform(),
        crs=RD_NEW,
        time=WHEN,
        platform="aqua",
        units={"mir": "K", "thermal": "K"},
    )


def bump(scene: xr.DataArray, lat: float, lon: float, role: str, by: float) -> None:
    r, c = _pixel_of(scene, lat, lon)
    i = [str(b) for b in scene["band"].values].index(role)
    scene.values[i, r, c] += by


@pytest.mark.parametrize("seed", [0, 1])
def test_two_band_mod14_mode(profiles, seed):
    """A fire is much hotter at 4 µm than at 11 µm; a warm surface is as warm in both."""
    botlek = profiles["chemie-botlek"]
    scene = two_band_scene(botlek, seed)
    bump(scene, *ON_SITE_SOUTH, "mir", 80.0)  # fire: +80 K at 4 µm
    bump(scene, *ON_SITE_SOUTH, "thermal", 8.0)  # ... +8 K at 11 µm
    bump(scene, *ON_SITE_NORTHWEST, "mir", 25.0)  # warm roof: +25 K in both
    bump(scene, *ON_SITE_NORTHWEST, "thermal", 25.0)
    read = read_back(scene, botlek)
    assert [str(b) for b in read["band"].values] == ["mir", "thermal"]
    detections = HeatAnomalyDetector().detect(read, botlek)
    assert len(detections) == 1
    fire = by_place(detections, *ON_SITE_SOUTH)
    assert fire.evidence["verdict"] == "unpermitted"
    mir = read.sel(band="mir").values
    r, c = _pixel_of(read, *ON_SITE_SOUTH)
    assert fire.value == pytest.approx(float(mir[r, c]), rel=1e-6)  # the mir temperature
    # the thermal band alone takes the warm roof for a hot spot (its +8 K fire may pass or not)
    single = HeatAnomalyDetector(mir_band="none").detect(read, botlek)
    assert by_place(single, *ON_SITE_NORTHWEST).evidence["verdict"] == "unpermitted"
    assert 1 <= len(single) <= 2


def test_degrees_celsius_band_is_converted_to_kelvin(profiles):
    botlek = profiles["chemie-botlek"]
    kelvin = scene_around(botlek, seed=10)
    celsius = make_scene(
        kelvin.values - np.float32(273.15),
        bands=["thermal"],
        transform=kelvin.rio.transform(),
        crs=RD_NEW,
        time=WHEN,
        platform="drone-12",
        units={"thermal": "degC"},
    )
    celsius = add_hot_spot(celsius, *FURNACE, peak_k=750.0 - 273.15)
    celsius = add_hot_spot(celsius, *ON_SITE_SOUTH, peak_k=420.0 - 273.15)
    read = read_back(celsius, botlek)
    assert "thermal=degC" in read.attrs["units"]
    assert np.nanmedian(temperature_k(read, "thermal")) == pytest.approx(285.0, abs=2.0)
    detections = HeatAnomalyDetector().detect(read, botlek)
    assert len(detections) == 2
    furnace = by_place(detections, *FURNACE)
    assert furnace.evidence["verdict"] == "above_permit"
    assert furnace.value == pytest.approx(750.0, abs=0.01)
    assert furnace.unit == "K"
    assert by_place(detections, *ON_SITE_SOUTH).value == pytest.approx(420.0, abs=0.01)


@pytest.mark.parametrize("unit", ["W m-2 sr-1 um-1", "DN", "F"])
def test_band_with_unknown_unit_is_refused(profiles, unit):
    botlek = profiles["chemie-botlek"]
    scene = scene_around(botlek, seed=0)
    scene.attrs["units"] = f"thermal={unit}"
    with pytest.raises(DetectorError, match="unit"):
        HeatAnomalyDetector().detect(scene, botlek)


def test_unlabelled_band_that_looks_like_celsius_is_refused(profiles):
    botlek = profiles["chemie-botlek"]
    scene = scene_around(botlek, seed=0)
    scene.values[:] -= np.float32(273.15)
    scene.attrs["units"] = "thermal="
    read = read_back(scene, botlek, nodata=None)
    assert read.attrs["units"] == "thermal="
    with pytest.raises(DetectorError, match="no unit"):
        HeatAnomalyDetector().detect(read, botlek)
    # an unlabelled band in K is taken as K
    kelvin = add_hot_spot(scene_around(botlek, seed=0), *ON_SITE_SOUTH, peak_k=420.0)
    kelvin.attrs["units"] = "thermal="
    assert len(HeatAnomalyDetector().detect(kelvin, botlek)) == 1


def test_missing_thermal_band_is_a_clear_error(profiles):
    botlek = profiles["chemie-botlek"]
    scene = scene_around(botlek, seed=0)
    swir = make_scene(
        np.stack([scene.values[0] / 1000, scene.values[0] / 1100]),
        bands=["swir16", "swir22"],
        transform=scene.rio.transform(),
        crs=RD_NEW,
        time=WHEN,
        units={"swir16": "1", "swir22": "1"},
    )
    with pytest.raises(VthError, match=r"no 'thermal' band \(it has: swir16, swir22\)"):
        HeatAnomalyDetector().detect(swir, botlek)
    # a mir band alone is not enough either: the thermal band is required
    mir_only = make_scene(
        scene.values,
        bands=["mir"],
        transform=scene.rio.transform(),
        crs=RD_NEW,
        time=WHEN,
        units={"mir": "K"},
    )
    with pytest.raises(VthError, match="no 'thermal' band"):
        HeatAnomalyDetector().detect(mir_only, botlek)


def test_geographic_scene_is_refused_with_a_clear_error(profiles):
    """Pixel sizes and distances need metres: a WGS84 scene must be reprojected first."""
    botlek = profiles["chemie-botlek"]
    lat, lon = botlek.location.lat, botlek.location.lon
    d = 0.0005
    values = np.random.default_rng(0).normal(285.0, 0.5, (1, 60, 60)).astype(np.float32)
    values[0, 30, 30] = 600.0
    scene = make_scene(
        values,
        bands=["thermal"],
        transform=Affine(d, 0, lon - 30 * d, 0, -d, lat + 30 * d),
        crs="EPSG:4326",
        time=WHEN,
        units={"thermal": "K"},
    )
    with pytest.raises(VthError, match="not projected"):
        HeatAnomalyDetector().detect(scene, botlek)


@pytest.mark.parametrize(
    ("min_window", "max_window"), [(4, 21), (3, 20), (1, 21), (5, 3), (0, 0), (-3, 21)]
)
def test_invalid_window_sizes_are_refused(profiles, min_window, max_window):
    botlek = profiles["chemie-botlek"]
    signal = np.zeros((5, 5), np.float32)
    with pytest.raises(DetectorConfigError, match="odd"):
        contextual_test(signal, signal > 0, min_window=min_window, max_window=max_window)
    detector = HeatAnomalyDetector(min_window=min_window, max_window=max_window)
    with pytest.raises(DetectorConfigError):
        detector.detect(scene_around(botlek, seed=0, size=40), botlek)


def test_contextual_test_refuses_mismatched_shapes():
    with pytest.raises(DetectorConfigError):
        contextual_test(np.zeros((5, 5)), np.zeros((5, 4), bool))
    with pytest.raises(DetectorConfigError):
        contextual_test(np.zeros(5), np.zeros(5, bool))


# --- the contextual test against a brute-force reference -----------------------------------


def reference_contextual(
    signal: np.ndarray,
    candidates: np.ndarray,
    *,
    min_window: int,
    max_window: int,
    min_valid: int,
    min_valid_fraction: float,
    k_mad: float,
    min_excess: float,
) -> list[dict[str, Any]]:
    """One candidate at a time, one window size at a time (float64)."""
    ny, nx = signal.shape
    out = []
    for r in range(ny):
        for c in range(nx):
            if not candidates[r, c]:
                continue
            found: dict[str, Any] = {
                "row": r,
                "col": c,
                "window": 0,
                "n": 0,
                "mean": math.nan,
                "mad": math.nan,
            }
            for side in range(min_window, max_window + 1, 2):
                h = side // 2
                values = [
                    float(signal[i, j])
                    for i in range(r - h, r + h + 1)
                    for j in range(c - h, c + h + 1)
                    if 0 <= i < ny
                    and 0 <= j < nx
                    and not candidates[i, j]
                    and math.isfinite(float(signal[i, j]))
                ]
                needed = max(min_valid, math.ceil(min_valid_fraction * side * side))
                if len(values) >= needed:
                    mean = sum(values) / len(values)
                    mad = sum(abs(v - mean) for v in values) / len(values)
                    found.update(window=side, n=len(values), mean=mean, mad=mad)
                    break
            value = float(signal[r, c])
            mean, mad = found["mean"], found["mad"]
            if math.isnan(mean) or math.isnan(value):
                found["anomalous"], found["margin"] = False, math.inf
            else:
                threshold = max(mean + k_mad * mad, mean + min_excess)
                found["anomalous"] = value > threshold
                found["margin"] = abs(value - threshold)
            out.append(found)
    return out


@st.composite
def contextual_cases(draw: st.DrawFn) -> dict[str, Any]:
    ny = draw(st.integers(1, 18))
    nx = draw(st.integers(2, 18))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    signal = rng.normal(300.0, draw(st.sampled_from([0.5, 2.0, 10.0])), (ny, nx))
    candidates = rng.random((ny, nx)) < draw(st.sampled_from([0.05, 0.1, 0.2, 0.6, 1.0, 0.0]))
    signal[candidates] += rng.uniform(0.0, 40.0, int(candidates.sum()))
    holes = rng.random((ny, nx)) < draw(st.sampled_from([0.0, 0.0, 0.1, 0.3, 0.9]))
    signal[holes] = np.nan
    if draw(st.booleans()):  # some exact ties and plateaus
        signal = np.round(signal)
    min_half = draw(st.integers(1, 3))
    max_half = draw(st.integers(min_half, 5))
    return {
        "signal": signal.astype(np.float32),
        "candidates": candidates,
        "min_window": 2 * min_half + 1,
        "max_window": 2 * max_half + 1,
        "min_valid": draw(st.integers(1, 10)),
        "min_valid_fraction": draw(st.sampled_from([0.0, 0.1, 0.25, 0.5])),
        "k_mad": draw(st.sampled_from([0.0, 1.0, 3.5])),
        "min_excess": draw(st.sampled_from([0.0, 2.0, 6.0])),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contextual_cases())
def test_contextual_test_equals_brute_force(case):
    signal, candidates = case.pop("signal"), case.pop("candidates")
    result = contextual_test(signal, candidates, **case)
    expected = reference_contextual(signal, candidates, **case)
    assert len(result.rows) == len(expected)
    assert [(e["row"], e["col"]) for e in expected] == list(
        zip(result.rows.tolist(), result.cols.tolist(), strict=True)
    )
    assert result.window.tolist() == [e["window"] for e in expected]
    assert result.n_background.tolist() == [e["n"] for e in expected]
    assert result.unknown.tolist() == [e["window"] == 0 for e in expected]
    np.testing.assert_allclose(
        result.mean, [e["mean"] for e in expected], rtol=1e-4, equal_nan=True
    )
    # the MAD is a small number from large ones: float32 sums need an absolute margin too
    np.testing.assert_allclose(
        result.mad, [e["mad"] for e in expected], rtol=1e-4, atol=2e-3, equal_nan=True
    )
    for i, e in enumerate(expected):
        if e["margin"] > 1e-2:  # not at the threshold within float32 rounding
            assert bool(result.anomalous[i]) == e["anomalous"], (i, e)


def test_contextual_candidates_at_the_edges_and_corners():
    rng = np.random.default_rng(42)
    signal = rng.normal(290.0, 0.5, (12, 9)).astype(np.float32)
    candidates = np.zeros(signal.shape, bool)
    edges = [(0, 0), (0, 8), (11, 0), (11, 8), (0, 4), (6, 0), (11, 5), (5, 8)]
    for r, c in edges:
        signal[r, c] += 30.0
        candidates[r, c] = True
    kwargs: dict[str, Any] = {
        "min_window": 3,
        "max_window": 21,
        "min_valid": 8,
        "min_valid_fraction": 0.25,
        "k_mad": 3.5,
        "min_excess": 6.0,
    }
    result = contextual_test(signal, candidates, **kwargs)
    expected = reference_contextual(signal, candidates, **kwargs)
    assert result.anomalous.all()
    assert result.window.tolist() == [e["window"] for e in expected]
    np.testing.assert_allclose(result.mean, [e["mean"] for e in expected], rtol=1e-5)
    # a corner has 3 of 9 pixels in a 3x3 window: the window grows to 5x5 (8 valid)
    corner = next(i for i, e in enumerate(expected) if (e["row"], e["col"]) == (0, 0))
    assert result.window[corner] == 5
    assert result.n_background[corner] == 8


def test_contextual_unknown_when_the_background_is_too_small():
    signal = np.full((5, 5), np.nan, np.float32)
    signal[2, 2] = 400.0
    signal[0, 0] = 290.0
    candidates = np.zeros((5, 5), bool)
    candidates[2, 2] = True
    result = contextual_test(signal, candidates, max_window=5)
    assert result.unknown.tolist() == [True]
    assert result.anomalous.tolist() == [False]
    assert np.isnan(result.mean[0]) and np.isnan(result.mad[0])
    none = contextual_test(signal, np.zeros((5, 5), bool))
    assert none.rows.size == 0 and none.anomalous.size == 0


# --- clustering --------------------------------------------------------------------------


def flat_scene(ny: int = 30, nx: int = 30) -> xr.DataArray:
    rng = np.random.default_rng(0)
    values = rng.normal(290.0, 0.3, (1, ny, nx)).astype(np.float32)
    transform, _ = grid_around(51.8712, 4.2975, nx, PIXEL_M)
    return make_scene(
        values,
        bands=["thermal"],
        transform=transform,
        crs=RD_NEW,
        time=WHEN,
        units={"thermal": "K"},
    )


@pytest.mark.parametrize(
    ("pixels", "objects", "sizes"),
    [
        ([(10, 10), (10, 11)], 1, [2]),  # side by side
        ([(10, 10), (11, 10)], 1, [2]),  # one above the other
        ([(10, 10), (11, 11)], 1, [2]),  # diagonal: 8-connected
        ([(10, 11), (11, 10)], 1, [2]),  # the other diagonal
        ([(10, 10), (10, 12)], 2, [1, 1]),  # one pixel apart
        ([(10, 10), (12, 12)], 2, [1, 1]),  # diagonal, one apart
        ([(5, 5), (5, 6), (6, 7), (20, 20)], 2, [3, 1]),  # a chain and a loner
    ],
)
def test_clustering_of_hot_pixels(pixels, objects, sizes):
    scene = flat_scene()
    for r, c in pixels:
        scene.values[0, r, c] = 400.0
    profile = bare_profile()
    detector = HeatAnomalyDetector(site_radius_m=1e6)
    detections = detector.detect(scene, profile)
    assert len(detections) == objects
    got = sorted((d.evidence["hot_spot"]["pixels"] for d in detections), reverse=True)
    assert got == sorted(sizes, reverse=True)
    for d in detections:
        assert d.evidence["hot_spot"]["area_m2"] == pytest.approx(
            d.evidence["hot_spot"]["pixels"] * PIXEL_M**2
        )
        assert d.evidence["verdict"] == "unpermitted"
        assert d.evidence["hot_spot"]["background_k"] == pytest.approx(290.0, abs=0.5)

    # the same through cluster() on the anomaly mask
    mask = np.zeros(scene.shape[1:], bool)
    for r, c in pixels:
        mask[r, c] = True
    spots = cluster(scene, scene.values[0], mask, np.where(mask, 290.0, np.nan))
    assert sorted((s.pixels for s in spots), reverse=True) == sorted(sizes, reverse=True)
    assert all(isinstance(s, HotSpot) for s in spots)


def test_cluster_centroid_is_weighted_by_excess():
    scene = flat_scene()
    scene.values[0, 10, 10] = 390.0  # excess 100
    scene.values[0, 10, 11] = 340.0  # excess 50
    mask = np.zeros(scene.shape[1:], bool)
    mask[10, 10:12] = True
    background = np.where(mask, 290.0, np.nan)
    [spot] = cluster(scene, scene.values[0], mask, background)
    t = scene.rio.transform()
    col = (100 * 10 + 50 * 11) / 150 + 0.5
    assert spot.x == pytest.approx(t.c + t.a * col)
    assert spot.y == pytest.approx(t.f + t.e * 10.5)
    assert spot.peak_k == pytest.approx(390.0)
    assert spot.background_k == pytest.approx(290.0)
    assert spot.excess_k == pytest.approx(100.0)
    assert spot.area_m2 == pytest.approx(2 * 900.0)
    assert cluster(scene, scene.values[0], np.zeros_like(mask), background) == []


# --- evidence and alerts -----------------------------------------------------------------


def test_alert_evidence_quicklook_parameters_and_scene(profiles):
    botlek = profiles["chemie-botlek"]
    scene = scene_around(botlek, crs=UTM31N, seed=11)
    scene = add_hot_spot(scene, *FLARE, peak_k=1500.0)
    scene = add_hot_spot(scene, *FURNACE, peak_k=750.0)
    scene = add_hot_spot(scene, *ON_SITE_SOUTH, peak_k=420.0)
    read = read_back(scene, botlek)
    detector = HeatAnomalyDetector(max_window=19, k_mad=3.0)
    detections = detector.detect(read, botlek)
    assert len(detections) == 3
    params = detector.get_params()
    assert params["max_window"] == 19 and params["k_mad"] == 3.0
    for d in detections:
        evidence = d.evidence
        assert evidence["parameters"] == params
        summary = evidence["scene"]
        assert summary["crs"] == "EPSG:28992"
        assert summary["pixel_size_m"] == pytest.approx(PIXEL_M)
        assert summary["time"] == WHEN
        assert summary["bands"] == ["thermal"]
        assert summary["shape"] == [int(read.sizes["y"]), int(read.sizes["x"])]
        assert evidence["hot_spot"]["crs"] == "EPSG:28992"
        assert evidence["reason"]
        if d.within_permit:
            assert "quicklook_png" not in evidence
            continue
        png = base64.b64decode(evidence["quicklook_png"], validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(io.BytesIO(png)) as picture:
            width, height = picture.size
            assert picture.format == "PNG"
        assert width >= 100 and height >= 100
        assert mpimg.imread(io.BytesIO(png), format="png").shape[:2] == (height, width)
    # no quicklook when switched off
    quiet = HeatAnomalyDetector(quicklook_size_m=0).detect(read, botlek)
    assert all("quicklook_png" not in d.evidence for d in quiet)


def test_alert_ids_distinct_per_hot_spot_and_stable_per_scene(profiles):
    botlek = profiles["chemie-botlek"]
    scene = scene_around(botlek, seed=12)
    scene = add_hot_spot(scene, *ON_SITE_SOUTH, peak_k=420.0)
    scene = add_hot_spot(scene, *ON_SITE_NORTHWEST, peak_k=450.0)
    first = HeatAnomalyDetector().detect(read_back(scene, botlek), botlek)
    again = HeatAnomalyDetector().detect(read_back(scene, botlek), botlek)
    assert len(first) == len(again) == 2
    ids = [Alert.from_detection(d).id for d in first]
    assert len(set(ids)) == 2
    assert sorted(Alert.from_detection(d).id for d in again) == sorted(ids)
    alert = Alert.from_detection(by_place(first, *ON_SITE_SOUTH))
    assert alert.kind == "heat_anomaly" and alert.detector == "heat"
    assert alert.value == pytest.approx(420.0, rel=1e-4)
    # another date is another alert
    later = scene.copy()
    later.attrs["time"] = "2025-06-17T10:30:00Z"
    other = HeatAnomalyDetector().detect(read_back(later, botlek), botlek)
    assert not {Alert.from_detection(d).id for d in other} & set(ids)


def test_registered_as_heat():
    assert get("heat") is HeatAnomalyDetector
    described = HeatAnomalyDetector.describe()
    assert described["scope"] == "raster"
    assert described["kind"] == "heat_anomaly"
    assert HeatAnomalyDetector.requires_fit is False
    # fit is a no-op that returns the detector
    detector = HeatAnomalyDetector()
    assert detector.fit() is detector


def test_profile_without_heat_sources(profiles):
    """Every hot spot on the site of an MBA without permitted heat sources is unpermitted."""
    europoort = profiles["tankopslag-europoort"]
    assert europoort.heat_sources == []
    transform, crs = grid_around(europoort.location.lat, europoort.location.lon, 100, PIXEL_M)
    scene = thermal_scene(transform, (100, 100), WHEN, crs=crs, seed=13)
    tank = (51.9490, 4.1300)
    scene = add_hot_spot(scene, *tank, peak_k=700.0)
    [detection] = HeatAnomalyDetector().detect(read_back(scene, europoort), europoort)
    assert detection.evidence["verdict"] == "unpermitted"
    assert detection.source_id is None
    assert detection.severity == "critical"  # above absolute_k + 300 K
    assert "no heat sources" in detection.evidence["reason"]


def test_a_larger_hot_area_is_one_spot(profiles):
    botlek = profiles["chemie-botlek"]
    scene = add_hot_spot(scene_around(botlek, seed=14), *ON_SITE_SOUTH, 600.0, radius_px=2.0)
    [detection] = HeatAnomalyDetector().detect(read_back(scene, botlek), botlek)
    spot = detection.evidence["hot_spot"]
    assert spot["pixels"] == 13  # the disc of radius 2 pixels
    assert spot["area_m2"] == pytest.approx(13 * PIXEL_M**2)
    assert spot["peak_k"] == pytest.approx(600.0, rel=1e-4)
    assert offset_m(detection, *ON_SITE_SOUTH) <= 1.5 * PIXEL_M


def test_hot_spot_in_a_footprint_hole_is_off_site(profiles):
    data = botlek_with_footprint(profiles).model_dump(mode="json")
    lat, lon = INSIDE_BOX
    d = 0.0004  # a ~45 m x ~28 m hole around the hot spot
    hole = [[lon - d, lat - d], [lon - d, lat + d], [lon + d, lat + d], [lon + d, lat - d]]
    data["footprint"]["coordinates"].append([*hole, hole[0]])
    with_hole = MbaProfile.model_validate(data)
    scene = add_hot_spot(scene_around(with_hole, seed=15), *INSIDE_BOX, peak_k=450.0)
    read = read_back(scene, with_hole)
    detector = HeatAnomalyDetector()
    # without the hole it is on the site
    assert len(detector.detect(read, botlek_with_footprint(profiles))) == 1
    assert detector.detect(read, with_hole) == []
