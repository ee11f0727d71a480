"""Images on raster topics: routed to the scene inbox, spooled, quarantined when bad."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_PROFILES
from vth.gateways.errors import TopicError
from vth.gateways.mqtt import Ingestor, MqttGateway
from vth.gateways.quarantine import Quarantine
from vth.gateways.raster_ingest import RasterIngestor, RasterTopic
from vth.gateways.topics import TopicTemplate
from vth.models import load_profiles
from vth.raster_pipeline import mba_regions
from vth.sensing.buffer import StreamBuffer
from vth.sensing.scene_inbox import SceneInbox
from vth.sensing.synthetic import add_hot_spot, grid_around, thermal_scene, write_geotiff

NOW = int(datetime(2026, 11, 20, 11, 0, tzinfo=UTC).timestamp() * 1e9)
PROFILES = load_profiles(EXAMPLE_PROFILES)


def botlek_geotiff(crs: str = "EPSG:28992", size: int = 120) -> bytes:
    botlek = PROFILES["chemie-botlek"]
    transform, crs = grid_around(botlek.location.lat, botlek.location.lon, size, 30.0, crs)
    scene = thermal_scene(transform, (size, size), "2026-11-20T10:30:00Z", crs=crs)
    return write_geotiff(add_hot_spot(scene, 51.8700, 4.2930, 330.0))


@pytest.fixture
def rasters(tmp_path: Path) -> RasterIngestor:
    return RasterIngestor(
        SceneInbox(tmp_path / "spool"),
        Quarantine(tmp_path / "q.jsonl", max_inline_bytes=1000),
        mba_regions(PROFILES),
        max_bytes=2_000_000,
    )


def quarantined(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_raster_topic_template_parses_platforms():
    topic = RasterTopic("vth/rasters/{platform}")
    assert topic.platform("vth/rasters/sentinel-2a") == "sentinel-2a"
    assert topic.platform("vth/avi-rozenburg/cems-l1") is None
    assert topic.platform("vth/rasters/a/b") is None
    assert topic.subscription == "vth/rasters/+"
    with pytest.raises(TopicError, match="platform"):
        RasterTopic("vth/rasters")


def test_image_is_cut_per_mba_spooled_and_taken_once(rasters: RasterIngestor, tmp_path: Path):
    payload = botlek_geotiff()
    assert rasters.ingest("vth/rasters/landsat-9", payload, NOW) >= 1
    spool = tmp_path / "spool"
    [spooled] = list(spool.glob("*.raster"))
    assert spooled.read_bytes() == payload
    deliveries = rasters.inbox.take()
    assert len(deliveries) == 1 and rasters.inbox.take() == []
    scene = deliveries[0].scenes["chemie-botlek"]
    assert scene.attrs["platform"] == "landsat-9"  # from the topic: the file does not say
    assert scene.rio.crs.to_epsg() == 28992
    rasters.inbox.done(deliveries[0])
    assert list(spool.iterdir()) == []


def test_image_in_utm_is_reprojected_to_rd_new(rasters: RasterIngestor):
    assert rasters.ingest("vth/rasters/landsat-9", botlek_geotiff("EPSG:32631"), NOW) >= 1
    scene = rasters.inbox.take()[0].scenes["chemie-botlek"]
    assert scene.rio.crs.to_epsg() == 28992
    assert float(scene.max()) == pytest.approx(330.0)  # nearest neighbour keeps the peak


def test_corrupt_and_oversized_images_are_quarantined_with_file_payloads(
    rasters: RasterIngestor, tmp_path: Path
):
    good = botlek_geotiff()
    assert rasters.ingest("vth/rasters/drone-1", good[:4000], NOW) == 0
    assert rasters.ingest("vth/rasters/drone-1", b"\x00" * 3_000_000, NOW) == 0
    assert rasters.ingest("vth/rasters/drone-1", b'{"type": "Feature"}', NOW) == 0
    assert rasters.ingest("vth/rasters/drone-1", good, NOW) == 2  # good ones still flow
    entries = quarantined(tmp_path / "q.jsonl")
    assert len(entries) == 3
    assert "GeoTIFF" in entries[0]["reason"]
    assert "larger than the limit" in entries[1]["reason"]
    assert "stac_version" in entries[2]["reason"]
    # large payloads are kept whole as files, small ones inline
    assert entries[0]["payload_encoding"] == "file"
    assert Path(entries[0]["payload"]).read_bytes() == good[:4000]
    assert entries[1]["payload_encoding"] == "file"
    assert Path(entries[1]["payload"]).stat().st_size == 3_000_000
    assert entries[2]["payload_encoding"] == "utf-8"
    assert rasters.stats.quarantined == 3 and rasters.stats.messages == 4
    assert rasters.stats.scenes == 2 and rasters.stats.outside == 0
    assert len(list((tmp_path / "spool").glob("*.raster"))) == 1


def test_image_covering_no_mba_is_counted_not_spooled(rasters: RasterIngestor, tmp_path: Path):
    transform, crs = grid_around(53.2, 6.56, 50, 30.0)  # Groningen: far from every MBA
    scene = thermal_scene(transform, (50, 50), "2026-11-20T10:30:00Z", crs=crs)
    assert rasters.ingest("vth/rasters/landsat-9", write_geotiff(scene), NOW) == 0
    assert rasters.stats.outside == 1 and rasters.stats.quarantined == 0
    assert list((tmp_path / "spool").glob("*.raster")) == []


def test_spool_replays_after_a_restart(rasters: RasterIngestor, tmp_path: Path):
    rasters.ingest("vth/rasters/landsat-9", botlek_geotiff(), NOW)
    again = RasterIngestor(SceneInbox(tmp_path / "spool"), Quarantine(None), mba_regions(PROFILES))
    assert again.replay_spool() == 1
    deliveries = again.inbox.take()
    assert deliveries[0].topic == "vth/rasters/landsat-9"
    assert deliveries[0].received_ns == NOW
    again.inbox.done(deliveries[0])
    assert list((tmp_path / "spool").glob("*")) == []


def test_ingestor_routes_raster_topics_and_never_journals_them(
    rasters: RasterIngestor, tmp_path: Path
):
    ingestor = Ingestor(
        StreamBuffer(),
        Quarantine(tmp_path / "streams-q.jsonl"),
        TopicTemplate("vth/{mba_id}/{sensor_id}"),
        known_mba_ids=set(PROFILES),
        rasters=rasters,
    )
    outcome = ingestor.ingest("vth/rasters/landsat-9", botlek_geotiff(), NOW)
    assert outcome.accepted >= 1 and not outcome.journal and not outcome.problems
    assert len(ingestor.buffer) == 0
    assert not (tmp_path / "streams-q.jsonl").exists()  # not mistaken for MBA "rasters"


def test_gateway_subscribes_to_rasters_only_when_the_stream_filter_misses_them(
    rasters: RasterIngestor, tmp_path: Path
):
    def gateway(template: str) -> MqttGateway:
        ingestor = Ingestor(
            StreamBuffer(), Quarantine(None), TopicTemplate(template), rasters=rasters
        )
        return MqttGateway(ingestor, "mqtt://127.0.0.1:1")

    assert gateway("vth/{mba_id}/{sensor_id}").subscriptions == ["vth/+/+"]
    assert gateway("sensors/{mba_id}/{sensor_id}").subscriptions == [
        "sensors/+/+",
        "vth/rasters/+",
    ]
