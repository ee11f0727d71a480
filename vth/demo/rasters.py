"""Demo images: a thermal scene of a chemical plant and Sentinel-2 scenes of a tank farm.

The thermal scene (Landsat-like, 30 m, in UTM 31N as delivered) shows chemie-botlek's
flare within its permit, its furnace above its permitted maximum and a hot spot where
nothing is permitted. The Sentinel-2-like scenes (20 m, RD New) of tankopslag-europoort
are a plume-free reference date and, ten days later, a methane plume of
``PLUME_RATE_KG_H`` in a 4 m/s wind, the first sent as GeoTIFF bytes and the second as
a STAC Item pointing at a file, as satellite pipelines deliver them.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

from vth.demo.simulator import Publisher
from vth.detectors.plumes.retrieval import airmass
from vth.gateways.raster_ingest import RasterTopic
from vth.models import MbaProfile
from vth.sensing.rasters import lonlat_to_xy
from vth.sensing.synthetic import (
    add_hot_spot,
    grid_around,
    plume_column,
    swir_scene,
    thermal_scene,
    write_geotiff,
)

#: Methane emission rate of the demo plume (kg/h).
PLUME_RATE_KG_H = 6000.0
#: 10 m wind of the demo plume scene (m/s).
PLUME_WIND_M_S = 4.0
#: Sun elevation of the demo plume scene (degrees).
SUN_ELEVATION = 40.0
#: An unpermitted hot spot on chemie-botlek's site (lat, lon, peak K).
UNPERMITTED_HOT_SPOT = (51.8700, 4.2930, 330.0)


def thermal_geotiff(profile: MbaProfile, when: datetime) -> bytes:
    """GeoTIFF bytes of a thermal scene of chemie-botlek (UTM 31N, 30 m)."""
    transform, crs = grid_around(
        profile.location.lat, profile.location.lon, 300, 30.0, "EPSG:32631"
    )
    scene = thermal_scene(
        transform, (300, 300), when, crs=crs, seed=11, scene_id="LC09_demo_thermal"
    )
    sources = {h.id: h for h in profile.heat_sources}
    flare, furnace = sources["flare-1"], sources["furnace-1"]
    scene = add_hot_spot(scene, flare.location.lat, flare.location.lon, 1250.0)
    scene = add_hot_spot(
        scene, furnace.location.lat, furnace.location.lon, furnace.max_temperature_k + 110
    )
    lat, lon, peak = UNPERMITTED_HOT_SPOT
    scene = add_hot_spot(scene, lat, lon, peak, radius_px=1.5)
    return write_geotiff(scene, tags={"PLATFORM": "landsat-9", "SCENE_ID": "LC09_demo_thermal"})


def swir_geotiffs(profile: MbaProfile, when: datetime, workdir: Path) -> tuple[bytes, bytes]:
    """A plume-free reference (GeoTIFF bytes) and a plume scene (STAC Item JSON bytes).

    The plume scene's GeoTIFF is written to ``workdir``; the STAC Item points at it.
    """
    transform, _ = grid_around(profile.location.lat, profile.location.lon, 200, 20.0)
    shape = (200, 200)
    reference = swir_scene(
        transform,
        shape,
        when - timedelta(days=10),
        seed=21,
        surface_seed=5,
        scene_id="S2B_demo_reference",
    )
    probe_x, probe_y = lonlat_to_xy(reference, profile.location.lon, profile.location.lat)
    column = plume_column(
        transform,
        shape,
        (float(probe_x), float(probe_y)),
        PLUME_RATE_KG_H,
        PLUME_WIND_M_S,
        wind_from_deg=240.0,
        seed=4,
    )
    plume = swir_scene(
        transform,
        shape,
        when,
        column=column,
        seed=22,
        surface_seed=5,
        scene_id="S2A_demo_plume",
        airmass=airmass(90.0 - SUN_ELEVATION, 5.0),
    )
    workdir.mkdir(parents=True, exist_ok=True)
    tif = workdir / "S2A_demo_plume.tif"
    write_geotiff(plume, tif, descriptions=False, time_tag=False)
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "S2A_demo_plume",
        "geometry": None,
        "properties": {
            "datetime": plume.attrs["time"],
            "platform": "sentinel-2a",
            "view:sun_elevation": SUN_ELEVATION,
            "vth:wind_speed_10m": PLUME_WIND_M_S,
        },
        "assets": {
            "swir": {
                "href": tif.resolve().as_uri(),
                "type": "image/tiff; application=geotiff",
                "roles": ["data"],
                "eo:bands": [
                    {"name": "B11", "common_name": "swir16"},
                    {"name": "B12", "common_name": "swir22"},
                ],
            }
        },
    }
    return (
        write_geotiff(
            reference, tags={"PLATFORM": "sentinel-2b", "SCENE_ID": "S2B_demo_reference"}
        ),
        json.dumps(item).encode(),
    )


def demo_images(
    profiles: dict[str, MbaProfile], when: datetime, workdir: Path
) -> list[tuple[str, bytes]]:
    """``(platform, payload)`` of the demo images, in the order to send them."""
    reference, plume_item = swir_geotiffs(profiles["tankopslag-europoort"], when, workdir)
    return [
        ("landsat-9", thermal_geotiff(profiles["chemie-botlek"], when)),
        ("sentinel-2", reference),
        ("sentinel-2", plume_item),
    ]


def publish_images(
    profiles: dict[str, MbaProfile],
    when: datetime,
    workdir: Path,
    broker_url: str,
    topic: RasterTopic,
    stop: threading.Event,
    delay_s: float = 3.0,
) -> None:
    """Publish the demo images once, ``delay_s`` after the start (unless stopped)."""
    if stop.wait(delay_s):
        return
    publisher = Publisher(broker_url, client_id="vth-demo-satellite")
    try:
        images = demo_images(profiles, when, workdir)
        publisher.publish([(topic.format(platform), payload) for platform, payload in images])
    finally:
        publisher.close()
