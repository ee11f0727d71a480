"""Scenes per MBA through the raster detectors: regions, wind, references, records."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import xarray as xr

from tests.conftest import EXAMPLE_PROFILES
from vth.models import load_profiles
from vth.raster_pipeline import (
    MIN_REGION_RADIUS_M,
    mba_regions,
    raster_detectors,
    run_raster_detectors,
    scene_wind,
)
from vth.sensing.rasters import lonlat_to_xy
from vth.sensing.streams import make_stream_dataset
from vth.sensing.synthetic import (
    add_hot_spot,
    grid_around,
    plume_column,
    swir_scene,
    thermal_scene,
)

PROFILES = load_profiles(EXAMPLE_PROFILES)
WHEN = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)


def test_regions_cover_every_mba_with_room_for_plumes():
    regions = {r.name: r for r in mba_regions(PROFILES)}
    assert set(regions) == set(PROFILES)
    for region in regions.values():
        assert region.radius_m >= MIN_REGION_RADIUS_M
    botlek = regions["chemie-botlek"]
    assert (botlek.lat, botlek.lon) == (
        PROFILES["chemie-botlek"].location.lat,
        PROFILES["chemie-botlek"].location.lon,
    )
    assert mba_regions(PROFILES, min_radius_m=10.0)[0].radius_m > 10.0  # sources reach further


def test_all_raster_detectors_are_registered():
    assert sorted(d.name for d in raster_detectors()) == ["heat", "methane"]
    assert [d.name for d in raster_detectors(["heat", "peak"])] == ["heat"]


def weather(speeds: list[float], minutes: list[int]) -> xr.Dataset:
    times = np.array(
        [np.datetime64("2026-11-20T10:30") + np.timedelta64(m, "m") for m in minutes],
        dtype="datetime64[ns]",
    )
    return make_stream_dataset(
        ["tankopslag-europoort"],
        ["meteo-1"],
        times,
        {"wind_speed": (np.array([speeds]), "m/s")},
    )


def swir(attrs: dict[str, float] | None = None):
    tank = PROFILES["tankopslag-europoort"]
    transform, _ = grid_around(tank.location.lat, tank.location.lon, 60, 20.0)
    return swir_scene(transform, (60, 60), WHEN, attrs=attrs)


def test_scene_wind_comes_from_weather_stations_within_30_minutes():
    streams = weather([3.0, 5.0, 40.0], [-10, 20, 90])
    scene = scene_wind(swir(), streams)
    assert scene.attrs["wind_speed_10m"] == pytest.approx(4.0)  # not the 40 m/s 90 min later
    assert "meteo-1" in scene.attrs["wind_source"]
    assert scene_wind(swir({"wind_speed_10m": 7.0}), streams).attrs["wind_speed_10m"] == 7.0
    assert "wind_speed_10m" not in scene_wind(swir(), weather([3.0], [120])).attrs
    assert "wind_speed_10m" not in scene_wind(swir(), None).attrs


def test_detectors_without_their_bands_are_skipped_and_findings_split():
    botlek = PROFILES["chemie-botlek"]
    transform, crs = grid_around(botlek.location.lat, botlek.location.lon, 120, 30.0)
    scene = thermal_scene(transform, (120, 120), WHEN, crs=crs)
    flare = next(h for h in botlek.heat_sources if h.id == "flare-1")
    scene = add_hot_spot(scene, flare.location.lat, flare.location.lon, 1200.0)
    scene = add_hot_spot(scene, 51.8700, 4.2930, 330.0, radius_px=1.0)
    outcome = run_raster_detectors(scene, botlek, raster_detectors())
    assert outcome.errors == []
    assert [(r.source_id, r.within_permit) for r in outcome.records] == [("flare-1", True)]
    assert [(a.kind, a.source_id) for a in outcome.alerts] == [("heat_anomaly", None)]
    assert outcome.clean == {"heat": False}  # methane skipped: no SWIR bands


def test_reference_switches_methane_to_mbmp_and_wind_is_taken_from_streams():
    tank = PROFILES["tankopslag-europoort"]
    transform, _ = grid_around(tank.location.lat, tank.location.lon, 160, 20.0)
    shape = (160, 160)
    reference = swir_scene(transform, shape, "2026-11-10T10:30:00Z", seed=1, surface_seed=3)
    x, y = lonlat_to_xy(reference, tank.location.lon, tank.location.lat)
    column = plume_column(transform, shape, (float(x), float(y)), 8000.0, 4.0, 240.0)
    scene = swir_scene(transform, shape, WHEN, column=column, seed=2, surface_seed=3, airmass=2.56)
    outcome = run_raster_detectors(
        scene,
        tank,
        raster_detectors(["methane"]),
        references={"methane": reference},
        streams=weather([4.0, 4.0], [-5, 5]),
    )
    assert outcome.errors == []
    [alert] = outcome.alerts
    assert alert.evidence["retrieval"] == "MBMP"
    assert alert.evidence["rate"]["u10_m_s"] == 4.0
    assert "meteo-1" in alert.evidence["rate"]["u10_source"]
    assert 4000 < (alert.value or 0) < 12000
    assert outcome.clean == {"methane": False}


def test_a_detector_error_is_reported_not_raised():
    far = PROFILES["avi-rozenburg"]
    tank = PROFILES["tankopslag-europoort"]
    transform, _ = grid_around(tank.location.lat, tank.location.lon, 60, 20.0)
    scene = swir_scene(transform, (60, 60), WHEN)  # does not reach avi-rozenburg
    outcome = run_raster_detectors(scene, far, raster_detectors(["methane"]))
    assert outcome.alerts == [] and len(outcome.errors) == 1
    assert "does not cover MBA avi-rozenburg" in outcome.errors[0]
