"""The whole stream path: SenML over Mosquitto -> gateway -> detector -> store -> GET /alerts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.conftest import EXAMPLE_PROFILES, BrokerInfo, Mosquitto
from vth.demo.network import demo_network, fitted_enose_detector
from vth.demo.simulator import Publisher, floor_minutes
from vth.detectors.quality import QualityDetector
from vth.gateways.topics import TopicTemplate
from vth.models import load_networks, load_profiles
from vth.runtime import Service
from vth.sensing.scenario import senml_packs as scenario_packs
from vth.settings import Settings


def settings_for(broker_url: str, tmp_path: Path) -> Settings:
    return Settings(
        profiles_dir=EXAMPLE_PROFILES,
        database_url=f"sqlite:///{tmp_path / 'vth.db'}",
        broker_url=broker_url,
        quarantine_path=tmp_path / "quarantine.jsonl",
        journal_path=tmp_path / "journal.jsonl",
        raster_spool_dir=tmp_path / "rasters",
        records_path=tmp_path / "records.jsonl",
        detect_interval_s=0.5,
        mqtt_client_id="e2e-gateway",
    )


def cems_minute(t: datetime, nox: float, o2: float = 11.0) -> bytes:
    return json.dumps(
        [
            {"bn": "cems-l1:", "bt": int(t.timestamp()), "n": "NOx", "u": "mg/m3", "v": nox},
            {"n": "O2", "u": "%", "v": o2},
        ]
    ).encode()


def wait_for_alerts(
    client: TestClient, timeout: float = 30.0, **params: str
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get("/alerts", params=params)
        assert response.status_code == 200
        if response.json():
            return list(response.json())
        time.sleep(0.2)
    return []


def test_senml_peak_over_mosquitto_appears_as_exceedance_alert_in_the_api(
    mosquitto: Mosquitto, tmp_path: Path
):
    service = Service(settings_for(mosquitto.info.url, tmp_path))
    start = floor_minutes(datetime.now(UTC) - timedelta(hours=3), 30)
    peak = (start + timedelta(minutes=60), start + timedelta(minutes=90))  # one whole half-hour
    messages = []
    for minute in range(150):
        t = start + timedelta(minutes=minute)
        nox = 520.0 if peak[0] <= t < peak[1] else 80.0
        messages.append(("vth/avi-rozenburg/cems-l1", cems_minute(t, nox)))
    messages.insert(10, ("vth/avi-rozenburg/cems-l1", b'{"malformed": '))

    with TestClient(service.create_app()) as client:
        publisher = Publisher(mosquitto.info.url, client_id="e2e-sensor")
        try:
            publisher.publish(messages)
        finally:
            publisher.close()
        alerts = wait_for_alerts(client, mba_id="avi-rozenburg")
        health = client.get("/health").json()

    assert len(alerts) == 1, alerts
    alert = alerts[0]
    assert alert["kind"] == "exceedance"
    assert alert["detector"] == "compliance"
    assert (alert["source_id"], alert["sensor_id"], alert["substance"]) == (
        "line-1",
        "cems-l1",
        "NOx",
    )
    assert alert["start"] == peak[0].isoformat().replace("+00:00", "Z")
    assert alert["end"] == peak[1].isoformat().replace("+00:00", "Z")
    assert alert["value"] == 480.0  # 520 minus the confidence interval (10% of 400)
    assert alert["limit"] == 400.0
    assert alert["unit"] == "mg/m3"
    assert (alert["lat"], alert["lon"]) == (51.9051, 4.2449)
    for field in ("id", "severity", "lhso", "candidates", "evidence"):
        assert field in alert
    assert alert["evidence"]["windows"][0]["samples"] == 30
    assert health["components"]["pipeline"]["quarantined"] == 1
    assert health["components"]["pipeline"]["readings"] == 300
    quarantine = (tmp_path / "quarantine.jsonl").read_text().splitlines()
    assert len(quarantine) == 1 and "not JSON" in json.loads(quarantine[0])["reason"]


def test_vth_serve_app_answers_over_real_http(mosquitto: Mosquitto, tmp_path: Path):
    import threading

    import uvicorn

    from vth.gateways.broker import free_port

    service = Service(settings_for(mosquitto.info.url, tmp_path))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(service.create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/health").json()["components"]["pipeline"]["connected"] is True
        profiles = httpx.get(f"{base}/profiles").json()
        assert {p["id"] for p in profiles} == {
            "avi-rozenburg",
            "chemie-botlek",
            "gasturbine-maasvlakte",
            "tankopslag-europoort",
        }
        assert "/alerts" in httpx.get(f"{base}/openapi.json").json()["paths"]
        assert httpx.get(f"{base}/docs").status_code == 200
    finally:
        server.should_exit = True
        thread.join(20)


def test_enose_release_over_mqtt_becomes_one_gas_incident_with_candidates_in_the_api(
    mqtt_broker: BrokerInfo, tmp_path: Path
):
    """E-nose and weather SenML of a simulated release -> network detectors -> GET /alerts."""
    settings = settings_for(mqtt_broker.url, tmp_path)
    profiles = load_profiles(EXAMPLE_PROFILES)
    networks = load_networks(EXAMPLE_PROFILES / "networks")
    demo = demo_network(profiles, networks, datetime.now(UTC), ahead=timedelta(minutes=1))
    service = Service(
        settings,
        profiles=profiles,
        networks=networks,
        network_detectors=[QualityDetector(), fitted_enose_detector(demo)],
    )
    topics = TopicTemplate(settings.topic_template)
    messages = list(scenario_packs(demo.dataset, topics))

    with TestClient(service.create_app()) as client:
        publisher = Publisher(mqtt_broker.url, client_id="e2e-enoses")
        try:
            publisher.publish(messages)
        finally:
            publisher.close()
        deadline = time.monotonic() + 60
        incidents: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not incidents:
            alerts = client.get("/alerts", params={"limit": 1000}).json()
            incidents = [a for a in alerts if a["kind"] == "gas_incident"]
            time.sleep(0.5)
        faults = [a for a in client.get("/alerts").json() if a["kind"] == "sensor_fault"]

    assert len(incidents) == 1, incidents
    incident = incidents[0]
    assert incident["detector"] == "enose"
    assert incident["mba_id"] == "chemie-botlek"
    assert incident["candidates"][0]["mba_id"] == "chemie-botlek"
    assert incident["candidates"][0]["reason"]
    assert "Wind from" in incident["evidence"]["reasoning"]
    assert [f["sensor_id"] for f in faults] == ["en-rozenburg-w"]


def test_images_over_mqtt_become_heat_and_methane_alerts_with_quicklooks(
    mqtt_broker: BrokerInfo, tmp_path: Path
):
    """GeoTIFF bytes and a STAC Item on vth/rasters/<platform> -> scenes per MBA -> alerts.

    The thermal scene (UTM, reprojected to RD New) has chemie-botlek's flare within its
    permit (recorded), its furnace above its maximum and an unpermitted hot spot
    (alerted); the Sentinel-2 plume is rated against a plume-free reference sent first
    (MBMP); a corrupt image is quarantined and the others still flow.
    """
    from vth.demo.rasters import PLUME_RATE_KG_H, UNPERMITTED_HOT_SPOT, demo_images

    settings = settings_for(mqtt_broker.url, tmp_path)
    profiles = load_profiles(EXAMPLE_PROFILES)
    when = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    images = demo_images(profiles, when, tmp_path / "stac")
    corrupt = images[0][1][:5000]
    messages = [(f"vth/rasters/{platform}", payload) for platform, payload in images]
    messages.insert(1, ("vth/rasters/drone-3", corrupt))
    service = Service(settings, network_detectors=[])

    with TestClient(service.create_app()) as client:
        publisher = Publisher(mqtt_broker.url, client_id="e2e-satellite")
        try:
            publisher.publish(messages)
        finally:
            publisher.close()
        deadline = time.monotonic() + 60
        alerts: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            alerts = client.get("/alerts", params={"limit": 50}).json()
            kinds = sorted(a["kind"] for a in alerts)
            if kinds == ["heat_anomaly", "heat_anomaly", "methane_plume"]:
                break
            time.sleep(0.3)
        health = client.get("/health").json()
        heat = [a for a in alerts if a["kind"] == "heat_anomaly"]
        quicklook = client.get(f"/alerts/{heat[0]['id']}/quicklook.png") if heat else None

    assert sorted(a["kind"] for a in alerts) == ["heat_anomaly", "heat_anomaly", "methane_plume"]
    by_source = {a["source_id"]: a for a in heat}
    assert set(by_source) == {"furnace-1", None}
    assert by_source["furnace-1"]["limit"] == 600.0
    assert by_source["furnace-1"]["evidence"]["verdict"] == "above_permit"
    unpermitted = by_source[None]
    assert unpermitted["evidence"]["verdict"] == "unpermitted"
    assert abs(unpermitted["lat"] - UNPERMITTED_HOT_SPOT[0]) < 0.0006  # ~ two 30 m pixels
    assert abs(unpermitted["lon"] - UNPERMITTED_HOT_SPOT[1]) < 0.0009
    assert unpermitted["evidence"]["scene"]["crs"] == "EPSG:28992"
    methane = next(a for a in alerts if a["kind"] == "methane_plume")
    assert methane["mba_id"] == "tankopslag-europoort"
    assert methane["evidence"]["retrieval"] == "MBMP"
    assert methane["evidence"]["rate"]["u10_m_s"] == 4.0
    assert 0.5 * PLUME_RATE_KG_H < methane["value"] < 1.5 * PLUME_RATE_KG_H
    assert "1-3 t/h" in methane["evidence"]["detection_limit"]
    assert quicklook is not None and quicklook.status_code == 200
    assert quicklook.headers["content-type"] == "image/png"
    assert quicklook.content.startswith(b"\x89PNG")
    rasters = health["components"]["pipeline"]["rasters"]
    assert rasters["messages"] == 4
    assert rasters["quarantined"] == 1
    assert rasters["records"] == 1
    assert rasters["pending"] == 0
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert [(r["source_id"], r["within_permit"]) for r in records] == [("flare-1", True)]
    quarantined = [
        json.loads(line) for line in (tmp_path / "quarantine.jsonl").read_text().splitlines()
    ]
    assert [q["topic"] for q in quarantined] == ["vth/rasters/drone-3"]
    assert "GeoTIFF" in quarantined[0]["reason"]
    assert list((tmp_path / "rasters").glob("*.raster")) == []  # judged: spool emptied


def test_spooled_image_survives_a_restart_and_is_judged_once(tmp_path: Path):
    """An image acknowledged (spooled) but not yet judged is judged after a restart."""
    from vth.demo.rasters import demo_images

    settings = settings_for("mqtt://127.0.0.1:1", tmp_path)
    profiles = load_profiles(EXAMPLE_PROFILES)
    when = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    platform, thermal = demo_images(profiles, when, tmp_path / "stac")[0]
    first = Service(settings, profiles=profiles, network_detectors=[])
    outcome = first.ingestor.ingest(f"vth/rasters/{platform}", thermal, time.time_ns())
    assert (
        outcome.accepted == 2 and not outcome.journal
    )  # scenes of chemie-botlek and avi-rozenburg
    assert len(list((tmp_path / "rasters").glob("*.raster"))) == 1
    first.store.close()  # the process dies before its next detection round

    second = Service(settings, profiles=profiles, network_detectors=[])
    assert second.raster_ingestor.replay_spool() == 1
    assert second.run_detection_once() == 2
    assert second.run_detection_once() == 0
    assert list((tmp_path / "rasters").glob("*.raster")) == []
    kinds = sorted((a.kind, a.source_id or "-") for a in second.store.list(limit=10))
    assert kinds == [("heat_anomaly", "-"), ("heat_anomaly", "furnace-1")]
    second.store.close()
